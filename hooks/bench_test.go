package hooks

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// BenchmarkHookedAck is one client's acked event answered by a local Go
// backend through the event hook: client write, hook request (signed,
// over loopback HTTP), answer decoded, ACK written, client read; one at a
// time. cpu-ns/ack is the process's CPU (user + system) per ack: server,
// backend and client together, all in this process.
// BenchmarkInProcessAck is the same event acked by a Go handler, for the
// difference.
func BenchmarkHookedAck(b *testing.B) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := make([]byte, r.ContentLength)
		_, _ = r.Body.Read(body)
		if Verify(r.Header.Get(SignatureHeader), body, []string{"s"}, time.Minute) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ack":["placed",{"id":7}]}`))
	}))
	defer be.Close()
	benchAck(b, func(nsp *socketio.Namespace) func() {
		h := Attach(nsp)
		h.SetConfig(&Config{Transport: http.DefaultTransport, URL: be.URL + "/socketio", Events: []string{"order:place"}, Secrets: []string{"s"}})
		return func() { _ = h.Close(b.Context()) }
	})
}

func BenchmarkInProcessAck(b *testing.B) {
	benchAck(b, func(nsp *socketio.Namespace) func() {
		nsp.OnEvent(func(e *socketio.Event) {
			if e.Name == "order:place" {
				_ = e.Ack("placed", map[string]any{"id": 7})
			}
		})
		return func() {}
	})
}

func benchAck(b *testing.B, setup func(nsp *socketio.Namespace) (stop func())) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := socketio.NewServer(engine.NewServer(engine.Options{Logger: zap.NewNop()}), socketio.Options{})
	stop := setup(srv.Of("/shop"))
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	defer func() {
		stop()
		_ = srv.Shutdown(b.Context())
		hs.Close()
	}()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	read := func() string {
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if string(m) == "2" { // ping
				_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
				continue
			}
			return string(m)
		}
	}
	if m := read(); !strings.HasPrefix(m, "0{") {
		b.Fatalf("open: %q", m)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte("40/shop,"))
	if m := read(); !strings.HasPrefix(m, "40/shop,") {
		b.Fatalf("connect: %q", m)
	}
	msg := []byte(`42/shop,1["order:place",{"sku":"A1","qty":2}]`)
	want := `43/shop,1["placed",{"id":7}]`
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if m := read(); m != want {
			b.Fatalf("ack %q, want %q", m, want)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/ack")
}
