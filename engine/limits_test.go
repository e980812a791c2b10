package engine

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMaxConnectionsRefusesHandshakesWith429UntilASessionEnds(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	ws := newWireServer(t, Options{MaxConnections: 2, Logger: zap.New(core)})
	first := ws.open(t)
	ws.open(t)

	for range 3 {
		res := ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "")
		if res.status != http.StatusTooManyRequests || res.body != `{"code":6,"message":"Too many connections"}` ||
			res.header.Get("Content-Type") != "application/json" {
			t.Fatalf("third handshake: %d %q %q, want 429 with the JSON error", res.status, res.header.Get("Content-Type"), res.body)
		}
	}
	// A WebSocket handshake is refused the same way.
	_, res, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("WebSocket handshake over the limit: %v %v, want 429", err, res)
	}
	if n := logs.FilterMessageSnippet("connection limit").Len(); n != 1 {
		t.Errorf("%d log lines for one burst of refusals, want 1: %v", n, logs.All())
	}
	entry := logs.All()[0].ContextMap()
	if entry["limit"] != "max_connections" || !strings.HasPrefix(entry["remote_addr"].(string), "127.0.0.1:") {
		t.Errorf("log line %v does not name the limit and the address", entry)
	}

	// The client leaves: its place is free again.
	ws.do(t, "POST", ws.url("EIO=4&transport=polling&sid="+first), "text/plain", "1")
	ws.reason(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		res := ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "")
		if res.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handshake after a session ended: %d %q", res.status, res.body)
		}
		time.Sleep(20 * time.Millisecond) // the sid lingers a second after the client's close
	}
}

func TestMaxConnectionsPerIPCountsTheClientIPItIsGiven(t *testing.T) {
	ws := newWireServer(t, Options{
		MaxConnectionsPerIP: 1,
		// As a proxy-aware server passes it: here, from a header.
		ClientIP: func(r *http.Request) string { return r.Header.Get("X-Client") },
	})
	handshake := func(client string) response {
		return ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "", "X-Client", client)
	}
	if res := handshake("192.0.2.1"); res.status != 200 {
		t.Fatalf("first handshake of 192.0.2.1: %d %q", res.status, res.body)
	}
	res := handshake("192.0.2.1")
	if res.status != http.StatusTooManyRequests || res.body != `{"code":6,"message":"Too many connections from this address"}` {
		t.Fatalf("second handshake of 192.0.2.1: %d %q, want 429", res.status, res.body)
	}
	if res := handshake("192.0.2.2"); res.status != 200 {
		t.Fatalf("another address behind the same peer is refused: %d %q", res.status, res.body)
	}
}

func TestRefusalsAreLoggedOncePerBurstPerAddress(t *testing.T) {
	now := time.Unix(1000, 0)
	r := refusals{now: func() time.Time { return now }}
	if first, _ := r.note("ip a"); !first {
		t.Fatal("the first refusal is not logged")
	}
	for range 5 {
		now = now.Add(refusalBurstGap / 2)
		if first, _ := r.note("ip a"); first {
			t.Fatal("a refusal within a burst is logged")
		}
	}
	if first, _ := r.note("ip b"); !first {
		t.Fatal("another address's first refusal is not logged")
	}
	now = now.Add(refusalBurstGap)
	if first, previous := r.note("ip a"); !first || previous != 6 {
		t.Fatalf("a refusal after a quiet minute: logged %v, previous burst %d; want true, 6", first, previous)
	}
}
