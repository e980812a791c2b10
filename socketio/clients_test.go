package socketio

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// runScript runs a testdata script against ts and returns its output lines.
func runScript(t *testing.T, script string, env ...string) []string {
	t.Helper()
	res := testpeer.RunNode(t, 30*time.Second, "testdata/"+script, env...)
	if res.Err != nil {
		t.Fatalf("%s %v failed: %v\nstdout:\n%s\nstderr:\n%s", script, env, res.Err, res.Stdout, res.Stderr)
	}
	return strings.Split(strings.TrimSpace(res.Stdout), "\n")
}

// expectLines compares the script's output with want, line by line.
func expectLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the client printed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var transportCases = []struct{ name, transports, seen string }{
	{"default (polling, then upgrade)", "", "websocket"},
	{"websocket only", "websocket", "websocket"},
	{"polling only", "polling", "polling"},
}

func TestClientV4EventsAcksAndBinaryBothWays(t *testing.T) {
	for _, tc := range transportCases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, "", engine.Options{}, setupApp)
			got := runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=basics", "TRANSPORTS="+tc.transports)
			expectLines(t, got,
				`welcome ["hello",1.5,{"k":"v"},{"bin":{"type":"Buffer","data":[255,0]}}]`,
				`id-length 20`,
				`transport "`+tc.seen+`"`,
				`echo-back ["str",42,{"a":{"b":[1,"x",null]}},{"nested":{"buf":{"type":"Buffer","data":[1,2,3]}},"list":[{"type":"Buffer","data":[4]}]}]`,
				`ack [1,"two",{"type":"Buffer","data":[9]}]`,
				`answered [42,{"type":"Buffer","data":[7]}]`,
				`disconnect "io client disconnect"`,
			)
			ts.waitSeen("disconnect / client namespace disconnect", 1)
		})
	}
}

func TestClientV4NamespacesAndAuth(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	got := runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=auth")
	expectLines(t, got,
		`refused {"message":"not authorized","data":{"code":42}}`,
		`admin-welcome [{"token":"secret","n":1}]`,
		`unknown "Invalid namespace"`,
		`multiplexed true`,
	)
	ts.waitSeen("disconnect /admin client namespace disconnect", 2)
	if n := ts.count("connect /admin"); n != 2 {
		t.Errorf("%d connections to /admin, want 2 (the refused one must not count)", n)
	}
}

func TestClientV4RoomsAndBroadcastToManyClients(t *testing.T) {
	const n = 20
	ts := startServer(t, "", engine.Options{}, setupApp)
	got := runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=rooms", "N="+strconv.Itoa(n))
	expectLines(t, got,
		`room-receivers [2,4,6,8,10,12,14,16,18]`,
		`room-msg ["room-msg","hi",{"type":"Buffer","data":[5,6]}]`,
		`all-count 20`,
		`all-msg ["all",2000,{"type":"Buffer","data":[1]}]`,
	)
	ts.waitSeen("disconnect / client namespace disconnect", n)
}

func TestClientV4Relay(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	got := runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=relay")
	expectLines(t, got,
		`ack []`,
		`ack-from-c []`,
		`got {"a":[["chat","from c"]],"b":[["chat","hello",{"n":1},{"type":"Buffer","data":[3]}],["chat","from c"],["no-ack",1]],"c":[]}`,
	)
}

func TestClientV4DisconnectReasons(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	got := runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=kick")
	expectLines(t, got,
		`kicked "io server disconnect"`,
		`kicked-all ["io server disconnect","io server disconnect"]`,
		`engine-closed "forced close"`,
	)
	ts.waitSeen("disconnect / server namespace disconnect", 2)
	ts.waitSeen("disconnect /admin server namespace disconnect", 1)
}

func TestClientThatVanishesIsDisconnectedWithTransportClose(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	got := runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=vanish", "TRANSPORTS=websocket")
	expectLines(t, got, `connected true`)
	ts.waitSeen("disconnect / transport close", 1)
}

func TestClientV4ReconnectsAfterServerRestart(t *testing.T) {
	for _, tc := range transportCases[1:] {
		t.Run(tc.name, func(t *testing.T) {
			first := startServer(t, "", engine.Options{}, setupApp)
			testpeer.Node(t) // here, not in the goroutine, which must not end the test
			done := make(chan testpeer.Result, 1)
			go func() {
				done <- testpeer.RunNode(t, 30*time.Second, "testdata/v4.js", "URL="+first.URL, "SCENARIO=reconnect", "TRANSPORTS="+tc.transports)
			}()
			// Whatever ends the test, the script ends first (t must not be
			// used after the test is over).
			var res *testpeer.Result
			t.Cleanup(func() {
				if res == nil {
					<-done
				}
			})
			first.waitSeen("connect /", 1)
			first.stop()
			first.waitSeen("disconnect / server shutting down", 1)
			second := startServer(t, first.addr, engine.Options{}, setupApp)
			second.waitSeen("connect /", 1)
			r := <-done
			res = &r
			if r.Err != nil {
				t.Fatalf("script failed: %v\n%s\n%s", r.Err, r.Stdout, r.Stderr)
			}
			got := strings.Split(strings.TrimSpace(r.Stdout), "\n")
			expectLines(t, got,
				`first true`,
				`disconnect "transport close"`,
				`reconnected true`,
			)
		})
	}
}

func TestClientV2EventsAcksAndBinaryBothWays(t *testing.T) {
	for _, tc := range transportCases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, "", engine.Options{}, setupApp)
			got := runScript(t, "v2.js", "URL="+ts.URL, "SCENARIO=basics", "TRANSPORTS="+tc.transports)
			expectLines(t, got,
				`welcome ["hello",1.5,{"k":"v"},{"bin":{"type":"Buffer","data":[255,0]}}]`,
				`echo-back ["str",42,{"a":{"b":[1,"x",null]}},{"nested":{"buf":{"type":"Buffer","data":[1,2,3]}},"list":[{"type":"Buffer","data":[4]}]}]`,
				`ack [1,"two",{"type":"Buffer","data":[9]}]`,
				`answered [42,{"type":"Buffer","data":[7]}]`,
				`disconnect "io client disconnect"`,
			)
			ts.waitSeen("disconnect / client namespace disconnect", 1)
		})
	}
}

func TestClientV2NamespacesQueryAndErrors(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	got := runScript(t, "v2.js", "URL="+ts.URL, "SCENARIO=auth")
	expectLines(t, got,
		// Revision 4 receives the middleware's data alone, as Node sends it.
		`refused {"code":42}`,
		`admin-welcome [{"token":"secret"}]`,
		`unknown {"message":"Invalid namespace"}`,
	)
	// Every revision 4 connection joins "/" implicitly.
	ts.waitSeen("connect /", 3)
	ts.waitSeen("connect /admin", 1)
}

func TestClientV2DisconnectedByServer(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	got := runScript(t, "v2.js", "URL="+ts.URL, "SCENARIO=kick")
	expectLines(t, got, `kicked "io server disconnect"`)
	ts.waitSeen("disconnect / server namespace disconnect", 1)
}

// One broadcast, encoded once, reaches clients of both protocol revisions
// over both transports.
func TestBroadcastReachesV2AndV4ClientsAlike(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	type result struct {
		name string
		out  []string
	}
	results := make(chan result, 4)
	scripts := []struct{ name, script, transports string }{
		{"v4 websocket", "v4.js", "websocket"},
		{"v4 polling", "v4.js", "polling"},
		{"v2 websocket", "v2.js", "websocket"},
		{"v2 polling", "v2.js", "polling"},
	}
	testpeer.Node(t) // here, not in the goroutines, which must not end the test
	// Whatever ends the test, the scripts end first (t must not be used
	// after the test is over).
	var scriptsDone sync.WaitGroup
	t.Cleanup(scriptsDone.Wait)
	for _, sc := range scripts {
		scriptsDone.Add(1)
		go func() {
			defer scriptsDone.Done()
			res := testpeer.RunNode(t, 30*time.Second, "testdata/"+sc.script, "URL="+ts.URL, "SCENARIO=mixed", "TRANSPORTS="+sc.transports)
			if res.Err != nil {
				t.Errorf("%s: %v\n%s\n%s", sc.name, res.Err, res.Stdout, res.Stderr)
			}
			results <- result{sc.name, strings.Split(strings.TrimSpace(res.Stdout), "\n")}
		}()
	}
	ts.waitSeen("joined mixed", len(scripts))
	if err := ts.io.To("mixed").Emit("mixed", "both", []byte{1, 2, 3}, map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	for range scripts {
		r := <-results
		if got, want := strings.Join(r.out, "\n"), `mixed ["both",{"type":"Buffer","data":[1,2,3]},{"n":1}]`; got != want {
			t.Errorf("%s printed %s, want %s", r.name, got, want)
		}
	}
}

func TestClientV2Relay(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	got := runScript(t, "v2.js", "URL="+ts.URL, "SCENARIO=relay")
	expectLines(t, got,
		`ack []`,
		`got {"a":[],"b":[["hello",{"type":"Buffer","data":[3]}]],"c":[]}`,
	)
}
