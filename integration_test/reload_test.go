package integration_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// reloadStats is the stats event of testdata/reload_clients.js.
type reloadStats struct {
	Sent   int      `json:"sent"`
	Behind []string `json:"behind"`
	Alive  int      `json:"alive"`
}

// README promises that a `caddy reload` disconnects nobody. 100 clients on
// polling only and 20 on WebSocket, receiving a relayed event every 20 ms
// (so the polling clients' requests never pause), go through 10 reloads
// that change the CORS origins: no client may be disconnected, and every
// one must go on receiving.
//
// The listener wrapper socketio_handover is what makes it hold (README,
// "Reloads"): without it, 93 to 100 of the polling clients were lost, each
// to a GET that the old server's shutdown closed without an answer ("socket
// hang up") or that was queued on its socket when it closed ("connect
// ECONNRESET"), none of which reached the handler.
func TestReloadsUnderLoadDisconnectNobody(t *testing.T) {
	const polling, websocket, reloads = 100, 20, 10
	port := freePort(t)
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := startCaddy(t, relaySite(port, "https://origin0.example"), `servers {
	listener_wrappers {
		socketio_handover
		tls
	}
}`)

	var stats reloadStats
	statsSeen := make(chan reloadStats, 16)
	clients := startClientScript(t, "reload_clients.js", []string{
		"URL=" + server, "POLLING=" + strconv.Itoa(polling), "WEBSOCKET=" + strconv.Itoa(websocket),
	}, func(e clientEvent, line []byte) {
		if e.Type == "stats" {
			var s reloadStats
			_ = json.Unmarshal(line, &s)
			statsSeen <- s
		}
	})
	clients.waitFor(60*time.Second, "every client connected", func(e clientEvent) bool {
		return e.Type == "all-connected" || e.Type == "connect_error"
	})
	askStats := func(since int) reloadStats {
		t.Helper()
		clients.send(map[string]any{"cmd": "stats", "since": since})
		select {
		case s := <-statsSeen:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no stats from reload_clients.js")
			return reloadStats{}
		}
	}

	for i := 1; i <= reloads; i++ {
		before := askStats(0).Sent
		start := time.Now()
		c.reload(relaySite(port, fmt.Sprintf("https://origin%d.example", i)))
		t.Logf("reload %d took %v", i, time.Since(start))
		// Every client receives ticks sent after the reload before the
		// next one: the endpoint serves through and after it.
		deadline := time.Now().Add(10 * time.Second)
		for stats = askStats(before + 1); len(stats.Behind) > 0 && time.Now().Before(deadline); stats = askStats(before + 1) {
			time.Sleep(50 * time.Millisecond)
		}
		if len(stats.Behind) > 0 {
			t.Errorf("after reload %d, %d clients got nothing sent after it: %v", i, len(stats.Behind), stats.Behind)
		}
	}
	lost := clients.all(func(e clientEvent) bool { return e.Type == "disconnect" || e.Type == "connect_error" })
	if len(lost) > 0 {
		t.Errorf("%d clients were disconnected by %d reloads (want none); the first: %+v", len(lost), reloads, lost[0])
	}
	if stats.Alive != polling+websocket+1 {
		t.Errorf("%d clients connected after the reloads, want %d", stats.Alive, polling+websocket+1)
	}
	// The sockets kept open for the hand-over close with Caddy.
	c.stop(20 * time.Second)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("after caddy stop the port is still held: %v", err)
	}
	ln.Close()
}
