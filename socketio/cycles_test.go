package socketio

import (
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

var sidRE = regexp.MustCompile(`"sid":"([^"]+)"`)

// TestConnectDisconnectCyclesLeaveNothingRunning connects and disconnects
// clients over every transport and protocol, then checks that the server
// holds no goroutine and no socket more than before (bench/stress.sh's
// cycles scenario measures the same from outside at 10,000 cycles, with
// the heap).
func TestConnectDisconnectCyclesLeaveNothingRunning(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(url string) string {
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %q", url, res.StatusCode, b)
		}
		return string(b)
	}
	post := func(url, body string) {
		res, err := client.Post(url, "text/plain;charset=UTF-8", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("POST %s: %d", url, res.StatusCode)
		}
	}
	base := ts.URL + "/socket.io/?transport=polling&EIO="
	wsBase := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?transport=websocket&EIO=4"
	pollingSession := func(eio string) string {
		sid := sidRE.FindStringSubmatch(get(base + eio))[1]
		url := base + eio + "&sid=" + sid
		if eio == "4" {
			post(url, "40")
		}
		if got := get(url); !strings.Contains(got, "40") {
			t.Fatalf("EIO %s: the first poll got %q, want the CONNECT", eio, got)
		}
		return url
	}
	cycles := map[string]func(){
		"polling": func() { post(pollingSession("4"), "1") },
		"polling, protocol 3": func() {
			post(pollingSession("3"), "1:1")
		},
		"websocket": func() {
			conn, _, err := websocket.DefaultDialer.Dial(wsBase, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.ReadMessage() // open
			conn.WriteMessage(websocket.TextMessage, []byte("40"))
			if _, m, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "40") {
				t.Fatalf("websocket CONNECT: %q %v", m, err)
			}
		},
		"upgrade": func() {
			url := pollingSession("4")
			sid := url[strings.LastIndex(url, "=")+1:]
			conn, _, err := websocket.DefaultDialer.Dial(wsBase+"&sid="+sid, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.WriteMessage(websocket.TextMessage, []byte("2probe"))
			if _, m, err := conn.ReadMessage(); err != nil || string(m) != "3probe" {
				t.Fatalf("probe: %q %v", m, err)
			}
			conn.WriteMessage(websocket.TextMessage, []byte("5"))
		},
	}
	run := func(n int) {
		for i := 0; i < n; i++ {
			for _, c := range cycles {
				c()
			}
		}
	}
	run(5) // what the server makes once (pools, the poller) is made now
	client.CloseIdleConnections()
	// settled waits until the last cycles' sessions have ended (a polling
	// sid lingers a second after the client's close) and the goroutine
	// count stops falling, or is at most want.
	settled := func(want int) int {
		n, last := 0, -1
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			n = runtime.NumGoroutine()
			if len(ts.io.Of("/").Sockets()) == 0 && (n <= want || n == last) {
				break
			}
			last = n
		}
		return n
	}
	time.Sleep(1100 * time.Millisecond) // the lingering sids of the warm-up
	before := settled(0)
	ignore := goleak.IgnoreCurrent()
	run(100)
	client.CloseIdleConnections()
	time.Sleep(1100 * time.Millisecond)
	if after := settled(before); after > before {
		t.Errorf("%d goroutines after 400 cycles, %d before", after, before)
	}
	if n := len(ts.io.Of("/").Sockets()); n != 0 {
		t.Errorf("%d sockets left in / after every client left", n)
	}
	goleak.VerifyNone(t, ignore)
}
