package socketio

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// recoveryClientServer is the server recovery.js talks to: a new socket
// joins "room1", gets data and an event ("before") that gives its client an
// offset; a socket whose client came back (its auth has a pid) gets
// "after"; each connection, "ready" and loss is noted.
func recoveryClientServer(t *testing.T, opts RecoveryOptions) *testServer {
	return recoveryClientServerWith(t, opts, true)
}

// recoveryClientServerWith is recoveryClientServer, sending "before" or not.
func recoveryClientServerWith(t *testing.T, opts RecoveryOptions, before bool) *testServer {
	// A short heartbeat: a polling client cut between two polls has no
	// request parked for the server to see fail, so the server learns of
	// the drop only when a pong is late, which at the default 25 s + 20 s
	// is past the tests' 10 s wait for "lost".
	return startServerWith(t, "", engine.Options{PingInterval: 2 * time.Second, PingTimeout: 3 * time.Second},
		Options{ConnectionStateRecovery: &opts}, func(ts *testServer) {
			ts.io.OnConnection(func(s *Socket) {
				_, back := s.Handshake().AuthValue("pid")
				if !s.Recovered() && !back {
					s.Join("room1")
					s.SetData("ann")
					if before {
						ts.io.To(s.ID()).Emit("before", 0)
					}
				}
				rooms := s.Rooms()
				slices.Sort(rooms)
				ts.note(fmt.Sprintf("connect recovered=%v rooms=%d data=%v", s.Recovered(), len(rooms), s.Data()))
				s.On("ready", func(*Event) { ts.note("ready " + s.ID()) })
				s.OnDisconnect(func(reason string) {
					if recoverableReason(reason) {
						ts.note("lost")
					}
				})
				if back {
					_ = s.Emit("after")
				}
			})
		})
}

// runDropped runs recovery.js through a proxy, cuts its connection once it
// is ready, calls away while the client cannot reconnect, then lets it
// back, and returns what the script printed.
func runDropped(t *testing.T, ts *testServer, transports string, away func(sid string)) []string {
	t.Helper()
	return runDroppedScript(t, ts, away, "testdata/recovery.js", "SCENARIO=drop", "TRANSPORTS="+transports)
}

// runDroppedScript is runDropped with another script, which gets the
// proxy's URL in URL besides env.
func runDroppedScript(t *testing.T, ts *testServer, away func(sid string), script string, env ...string) []string {
	t.Helper()
	proxy := testpeer.StartCutProxy(t, ts.addr)
	testpeer.Node(t)
	done := make(chan testpeer.Result, 1)
	go func() {
		done <- testpeer.RunNode(t, 60*time.Second, script, append(env, "URL="+proxy.URL())...)
	}()
	var finished bool
	t.Cleanup(func() {
		if !finished {
			proxy.Cut()
			<-done
		}
	})
	// The first connection waits for the peer to start: Node, or Chromium,
	// which may take long on a busy machine.
	ts.waitPrefixWithin("connect recovered=false", 50*time.Second)
	ts.waitSeen("connect recovered=false rooms=2 data=ann", 1)
	sid := ts.waitPrefix("ready ")
	proxy.Cut()
	ts.waitSeen("lost", 1)
	away(sid)
	proxy.Restore()
	r := <-done
	finished = true
	if r.Err != nil {
		t.Fatalf("%s failed: %v\n%s\n%s", script, r.Err, r.Stdout, r.Stderr)
	}
	return strings.Split(strings.TrimSpace(r.Stdout), "\n")
}

// waitPrefix waits until the server saw something starting with prefix,
// and returns the rest of it.
func (ts *testServer) waitPrefix(prefix string) string {
	ts.t.Helper()
	return ts.waitPrefixWithin(prefix, 10*time.Second)
}

// waitPrefixWithin is waitPrefix with its own bound, for a peer slow to
// start (Chromium on a busy machine).
func (ts *testServer) waitPrefixWithin(prefix string, bound time.Duration) string {
	ts.t.Helper()
	deadline := time.AfterFunc(bound, func() {
		ts.mu.Lock()
		ts.cond.Broadcast()
		ts.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for {
		for _, s := range ts.seen {
			if rest, ok := strings.CutPrefix(s, prefix); ok {
				return rest
			}
		}
		if time.Since(start) > bound {
			ts.t.Fatalf("the server saw nothing starting with %q; it saw:\n%s", prefix, strings.Join(ts.seen, "\n"))
		}
		ts.cond.Wait()
	}
}

// missWhileAway broadcasts, while the client is away, what it must get
// back (missed 1 to 4) and what it must not.
func missWhileAway(ts *testServer) func(sid string) {
	return func(sid string) {
		nsp := ts.io.Of("/")
		nsp.To("room1").Emit("missed", 1)
		nsp.To("elsewhere").Emit("not-mine", 0)
		nsp.Emit("missed", 2)
		nsp.Except("room1").Emit("not-mine", 0)
		nsp.Volatile().Emit("not-mine", 0)
		nsp.To(sid).Emit("missed", 3, []byte{7})
		nsp.To("room1").Except(sid).Emit("not-mine", 0)
		nsp.To("room1", sid).Emit("missed", 4)
	}
}

// recoveredLines is what recovery.js prints when it came back recovered
// after its connection was cut on transport (the reason its client gives)
// and missWhileAway ran: each missed event once, in order, then "after";
// before, when the server sent "before" first.
func recoveredLines(reason string, before bool) []string {
	lines := []string{`first {"recovered":false}`, `disconnect "` + reason + `"`, `second {"recovered":true,"sameId":true}`}
	if before {
		lines = append(lines, `event ["before",0,"+offset"]`)
	}
	return append(lines,
		`event ["missed",1,"+offset"]`,
		`event ["missed",2,"+offset"]`,
		`event ["missed",3,[7],"+offset"]`,
		`event ["missed",4,"+offset"]`,
		`event ["after","+offset"]`,
	)
}

// freshLines is what recovery.js prints when it came back to a fresh
// socket: none of what it missed.
var freshLines = []string{
	`first {"recovered":false}`,
	`disconnect "transport close"`,
	`second {"recovered":false,"sameId":false}`,
	`event ["before",0,"+offset"]`,
	`event ["after","+offset"]`,
}

func TestRealClientRecoversAfterItsConnectionIsCut(t *testing.T) {
	for _, transports := range []string{"websocket", "polling"} {
		t.Run(transports, func(t *testing.T) {
			ts := recoveryClientServer(t, RecoveryOptions{})
			got := runDropped(t, ts, transports, missWhileAway(ts))
			reason := "transport close"
			if transports == "polling" {
				reason = "transport error"
			}
			expectLines(t, got, recoveredLines(reason, true)...)
			ts.waitSeen("connect recovered=true rooms=2 data=ann", 1)
		})
	}
}

func TestRealClientAwayTooLongGetsAFreshSocket(t *testing.T) {
	clock := newFakeClock()
	ts := recoveryClientServer(t, RecoveryOptions{MaxDisconnectionDuration: time.Minute, now: clock.Now})
	got := runDropped(t, ts, "websocket", func(sid string) {
		missWhileAway(ts)(sid)
		clock.advance(time.Minute + time.Second)
	})
	expectLines(t, got, freshLines...)
	ts.waitSeen("connect recovered=false rooms=1 data=<nil>", 1)
}

func TestRealClientPastTheLogCapGetsAFreshSocket(t *testing.T) {
	ts := recoveryClientServer(t, RecoveryOptions{MaxLogBytes: 8 << 10})
	got := runDropped(t, ts, "websocket", func(sid string) {
		for i := range 20 {
			ts.io.To("room1").Emit("missed", i, strings.Repeat("x", 1000))
		}
	})
	expectLines(t, got, freshLines...)
}

// A socket.io-client 2.x client on a server with recovery on is served as
// before: its events carry no offset argument.
func TestRecoveryLeavesV2ClientsAsTheyWere(t *testing.T) {
	ts := startServerWith(t, "", engine.Options{}, Options{ConnectionStateRecovery: &RecoveryOptions{}}, setupApp)
	testpeer.Node(t)
	done := make(chan testpeer.Result, 1)
	go func() {
		done <- testpeer.RunNode(t, 30*time.Second, "testdata/v2.js", "URL="+ts.URL, "SCENARIO=mixed", "TRANSPORTS=websocket")
	}()
	ts.waitSeen("joined mixed", 1)
	if err := ts.io.To("mixed").Emit("mixed", "both", []byte{1, 2, 3}, map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Err != nil {
		t.Fatalf("v2.js: %v\n%s\n%s", r.Err, r.Stdout, r.Stderr)
	}
	expectLines(t, strings.Split(strings.TrimSpace(r.Stdout), "\n"), `mixed ["both",{"type":"Buffer","data":[1,2,3]},{"n":1}]`)
}

// The same in headless Chromium, with the socket.io-client browser bundle,
// over WebSocket (the page comes from another server: WebSocket needs no
// CORS, and the cut must not take the page with it).
func TestBrowserRecoversAfterItsConnectionIsCut(t *testing.T) {
	chromium := testpeer.Chromium(t)
	bundle := filepath.Join(testpeer.RepoRoot(), "node_modules", "socket.io-client", "dist", "socket.io.min.js")
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/socket.io.min.js" {
			http.ServeFile(w, r, bundle)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, `<!doctype html><script src="/socket.io.min.js"></script>`)
	}))
	t.Cleanup(pages.Close)
	ts := recoveryClientServer(t, RecoveryOptions{})
	got := runDroppedScript(t, ts, missWhileAway(ts), "testdata/recovery_browser.js", "PAGE="+pages.URL+"/", "CHROMIUM="+chromium)
	expectLines(t, got, recoveredLines("transport close", true)...)
}

// socket.io-client sends its pid alone when it got no stored event before
// the drop: beyond Node, it recovers all the same.
func TestRealClientWithoutOffsetRecovers(t *testing.T) {
	ts := recoveryClientServerWith(t, RecoveryOptions{}, false)
	got := runDroppedScript(t, ts, missWhileAway(ts), "testdata/recovery.js", "SCENARIO=drop", "TRANSPORTS=websocket", "NO_BEFORE=1")
	expectLines(t, got, recoveredLines("transport close", false)...)
}
