package hooks

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// A socket that recovers its connection state is reported as recovered,
// with the data, meta and rooms the backend gave it before the drop: the
// backend can stay stateless across a lost connection too.
func TestRecoveredSocketIsReportedToTheHooksWithItsDataMetaAndRooms(t *testing.T) {
	testpeer.Node(t)
	io := startIOWith(t, socketio.Options{
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute},
	})
	srv := io.io

	be := startBackend(t, []string{"s3cret"}, func(w http.ResponseWriter, r *http.Request, req *hookReq) {
		switch {
		case req.path == "/socketio/connect" && !req.Socket.Recovered:
			answer(w, map[string]any{"accept": true, "data": map[string]string{"user": "ann"},
				"meta": map[string]int{"n": 1}, "rooms": []string{"room1"}})
		case req.path == "/socketio/connect":
			answer(w, map[string]any{"accept": true})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	io.attach(t, "/", &Config{
		Transport: http.DefaultTransport, URL: be.srv.URL + "/socketio", Connect: true,
		Notify: []string{"connect", "disconnect"}, Secrets: []string{"s3cret"},
	})
	ready := make(chan string, 1)
	lost := make(chan struct{}, 1)
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *socketio.Socket) {
		if !s.Recovered() {
			// A stored event, so that the client has an offset to come
			// back with.
			_ = nsp.To("room1").Emit("before")
		}
	})
	nsp.OnEvent(func(e *socketio.Event) {
		if e.Name == "ready" {
			ready <- e.Socket().ID()
		}
	})
	nsp.OnDisconnect(func(*socketio.Socket, string) { lost <- struct{}{} })

	proxy := testpeer.StartCutProxy(t, strings.TrimPrefix(io.URL, "http://"))
	done := make(chan testpeer.Result, 1)
	go func() { done <- testpeer.RunNode(t, 60*time.Second, "testdata/recovery.js", "URL="+proxy.URL()) }()
	var sid string
	select {
	case sid = <-ready:
	case res := <-done:
		t.Fatalf("the client ended before it was ready: %v\n%s\n%s", res.Err, res.Stdout, res.Stderr)
	}
	proxy.Cut()
	<-lost
	proxy.Restore()
	res := <-done
	if res.Err != nil {
		t.Fatalf("recovery.js: %v\n%s\n%s", res.Err, res.Stdout, res.Stderr)
	}
	expectLines(t, strings.Split(strings.TrimSpace(res.Stdout), "\n"),
		`first {"recovered":false}`,
		`second {"recovered":true,"sameId":true}`)

	connects := be.recorded("/socketio/connect")
	if len(connects) != 2 {
		t.Fatalf("%d connect hooks, want 2 (the first connection and the recovery)", len(connects))
	}
	back := connects[1].Socket
	slices.Sort(back.Rooms)
	if !back.Recovered || back.ID != sid || string(back.Data) != `{"user":"ann"}` || string(back.Meta) != `{"n":1}` ||
		!slices.Contains(back.Rooms, "room1") {
		t.Errorf("the recovered socket's connect hook: recovered %v, id %s (want %s), data %s, meta %s, rooms %v; want recovered with the first answer's data, meta and rooms",
			back.Recovered, back.ID, sid, back.Data, back.Meta, back.Rooms)
	}
	if connects[0].Socket.Recovered {
		t.Error("the first connection was reported as recovered")
	}
}
