package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// hookReq is a hook request body as the backend decodes it.
type hookReq struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Time      int64  `json:"time"`
	Namespace string `json:"namespace"`
	Socket    struct {
		ID        string          `json:"id"`
		Transport string          `json:"transport"`
		Protocol  int             `json:"protocol"`
		Address   string          `json:"address"`
		Rooms     []string        `json:"rooms"`
		Data      json.RawMessage `json:"data"`
		Meta      json.RawMessage `json:"meta"`
		Recovered bool            `json:"recovered"`
	} `json:"socket"`
	Handshake struct {
		URL     string            `json:"url"`
		Query   map[string]any    `json:"query"`
		Headers map[string]string `json:"headers"`
		Auth    map[string]any    `json:"auth"`
		Secure  bool              `json:"secure"`
		Time    string            `json:"time"`
	} `json:"handshake"`
	Event  string            `json:"event"`
	Args   []json.RawMessage `json:"args"`
	Ack    bool              `json:"ack"`
	Reason string            `json:"reason"`
	Room   string            `json:"room"`
	Events []hookReq         `json:"events"`

	path   string
	header http.Header
	raw    []byte
}

// backend is the application's backend: a Go net/http server on
// 127.0.0.1 that verifies every signature, records every request and
// answers through handle.
type backend struct {
	t       *testing.T
	srv     *httptest.Server
	secrets []string
	handle  func(w http.ResponseWriter, r *http.Request, req *hookReq)

	mu       sync.Mutex
	requests []*hookReq

	inflight, maxInflight atomic.Int64
}

func startBackend(t *testing.T, secrets []string, handle func(w http.ResponseWriter, r *http.Request, req *hookReq)) *backend {
	b := &backend{t: t, secrets: secrets, handle: handle}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) serve(w http.ResponseWriter, r *http.Request) {
	n := b.inflight.Add(1)
	defer b.inflight.Add(-1)
	for {
		m := b.maxInflight.Load()
		if n <= m || b.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		b.t.Errorf("hook request %s %s with Content-Type %q, want POST application/json", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	if len(b.secrets) == 0 {
		if sig := r.Header.Get(SignatureHeader); sig != "" {
			b.t.Errorf("hook request %s signed (%q) without secrets", r.URL.Path, sig)
		}
	} else if err := Verify(r.Header.Get(SignatureHeader), body, b.secrets, 5*time.Minute); err != nil {
		b.t.Errorf("hook request %s: %v", r.URL.Path, err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	req := &hookReq{path: r.URL.Path, header: r.Header.Clone(), raw: body}
	if err := json.Unmarshal(body, req); err != nil {
		b.t.Errorf("hook request %s: body is not the contract's JSON: %v\n%s", r.URL.Path, err, body)
	}
	b.mu.Lock()
	b.requests = append(b.requests, req)
	b.mu.Unlock()
	b.handle(w, r, req)
}

func (b *backend) recorded(path string) []*hookReq {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*hookReq
	for _, r := range b.requests {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// answer writes v as the JSON answer.
func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ioServer is the Socket.IO server under test, on 127.0.0.1.
type ioServer struct {
	URL string
	io  *socketio.Server
}

func startIO(t *testing.T) *ioServer { return startIOWith(t, socketio.Options{}) }

// startIOWith is startIO with the Socket.IO options o (its Logger is the
// test's).
func startIOWith(t *testing.T, o socketio.Options) *ioServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	o.Logger = logger
	srv := socketio.NewServer(engine.NewServer(engine.Options{AllowEIO3: true, Logger: logger}), o)
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	})
	return &ioServer{URL: "http://" + ln.Addr().String(), io: srv}
}

// attach puts hooks configured by c on namespace name; they are closed
// when the test ends, before the server (cleanups run last first).
func (s *ioServer) attach(t *testing.T, name string, c *Config) *Hooks {
	t.Helper()
	if c.Logger == nil {
		c.Logger = zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	h := Attach(s.io.Of(name))
	h.SetConfig(c)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// runScript runs a testdata script and returns its output lines.
func runScript(t *testing.T, script string, env ...string) []string {
	t.Helper()
	res := testpeer.RunNode(t, 40*time.Second, "testdata/"+script, env...)
	if res.Err != nil {
		t.Fatalf("%s %v failed: %v\nstdout:\n%s\nstderr:\n%s", script, env, res.Err, res.Stdout, res.Stderr)
	}
	return strings.Split(strings.TrimSpace(res.Stdout), "\n")
}

func expectLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the client printed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// chatBackend is the application of most tests: it authorizes by token
// (auth for 4.x, the query for 2.x) and answers events as a chat would.
type chatBackend struct {
	nsp func() *socketio.Namespace

	mu  sync.Mutex
	seq map[string][]int // socket id -> the "seq" numbers, in the order received
}

func (c *chatBackend) handle(w http.ResponseWriter, r *http.Request, req *hookReq) {
	switch {
	case strings.HasSuffix(req.path, "/connect"):
		token, _ := req.Handshake.Auth["token"].(string)
		if token == "" {
			token, _ = req.Handshake.Query["token"].(string)
		}
		if token != "good" {
			answer(w, map[string]any{"accept": false, "message": "not allowed", "data": map[string]any{"reason": "bad token"}})
			return
		}
		answer(w, map[string]any{"accept": true, "data": map[string]any{"user": "ann"}, "rooms": []string{"lobby"}, "meta": map[string]any{"session": "s1"}})
	case strings.HasSuffix(req.path, "/event"):
		c.event(w, req)
	default:
		answer(w, map[string]any{})
	}
}

func (c *chatBackend) event(w http.ResponseWriter, req *hookReq) {
	arg := func(i int) string {
		var s string
		if i < len(req.Args) {
			_ = json.Unmarshal(req.Args[i], &s)
		}
		return s
	}
	rooms := slices.DeleteFunc(slices.Clone(req.Socket.Rooms), func(r string) bool { return r == req.Socket.ID })
	slices.Sort(rooms)
	switch req.Event {
	case "fetch":
		// What fetchSockets (on every node, through the adapter) shows.
		socks, err := c.nsp().FetchSockets(context.Background())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for _, s := range socks {
			if s.ID == req.Socket.ID {
				answer(w, map[string]any{"ack": []any{s.Data}})
				return
			}
		}
		answer(w, map[string]any{"ack": []any{"not found"}})
	case "whoami":
		answer(w, map[string]any{"ack": []any{map[string]any{
			"data": req.Socket.Data, "meta": req.Socket.Meta, "rooms": rooms, "protocol": req.Socket.Protocol,
			"headers": req.Handshake.Headers, "auth": req.Handshake.Auth,
			"room": req.Handshake.Query["room"], "tag": req.Handshake.Query["tag"],
			"forwarded": req.header.Get("Authorization") + "|" + req.header.Get("X-Not-Forwarded"),
		}}})
	case "echo":
		seen, _ := json.Marshal(req.Args)
		answer(w, map[string]any{"ack": append(slices.Clone(req.Args), json.RawMessage(`{"_binary":"aGk="}`), json.RawMessage(fmt.Sprintf("%q", seen)))})
	case "join":
		answer(w, map[string]any{"join": []string{arg(0)}, "ack": []any{"joined", rooms}})
	case "join-shout":
		answer(w, map[string]any{
			"join": []string{arg(0)},
			"emit": []any{map[string]any{"event": "news", "args": []any{arg(1), map[string]string{"_binary": "AA=="}}, "to": []string{arg(0)}}},
			"ack":  []any{"shouted"},
		})
	case "leave":
		answer(w, map[string]any{"leave": []string{arg(0)}, "ack": []any{"left"}})
	case "shout-no-ack":
		answer(w, map[string]any{"emit": []any{map[string]any{"event": "news", "args": []any{arg(1)}, "to": []string{arg(0)}}}})
	case "set":
		answer(w, map[string]any{"data": req.Args[0], "meta": req.Args[1], "ack": []any{"set"}})
	case "bye":
		answer(w, map[string]any{"ack": []any{"bye"}, "disconnect": true})
	case "seq":
		var n int
		_ = json.Unmarshal(req.Args[0], &n)
		c.mu.Lock()
		if c.seq == nil {
			c.seq = map[string][]int{}
		}
		c.seq[req.Socket.ID] = append(c.seq[req.Socket.ID], n)
		c.mu.Unlock()
		answer(w, map[string]any{})
	case "seq-done":
		c.mu.Lock()
		got := c.seq[req.Socket.ID]
		c.mu.Unlock()
		answer(w, map[string]any{"ack": []any{got}})
	case "hold":
		// The backend works a while, so that requests overlap.
		time.Sleep(30 * time.Millisecond)
		answer(w, map[string]any{"ack": []any{req.Args[0]}})
	default:
		http.Error(w, "unknown event "+req.Event, 404)
	}
}

// chatSetup starts a server whose /chat namespace calls a chatBackend,
// signing with a new and an old secret (a rotation: the backend knows only
// the old one).
func chatSetup(t *testing.T, tweak func(c *Config)) (*ioServer, *backend, *Hooks) {
	ts := startIO(t)
	app := &chatBackend{nsp: func() *socketio.Namespace { return ts.io.Of("/chat") }}
	be := startBackend(t, []string{"old-secret"}, app.handle)
	c := &Config{
		Transport: http.DefaultTransport, URL: be.srv.URL + "/socketio", Connect: true,
		Events:         []string{"fetch", "whoami", "echo", "join*", "leave", "shout-*", "set", "bye", "seq*", "hold"},
		Secrets:        []string{"new-secret", "old-secret"},
		ForwardHeaders: []string{"authorization"},
	}
	if tweak != nil {
		tweak(c)
	}
	h := ts.attach(t, "/chat", c)
	return ts, be, h
}

var transports = []string{"websocket", "polling"}

func TestConnectAcceptedWithRoomsDataAndMeta(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ts, be, _ := chatSetup(t, nil)
			got := runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=accept", "TRANSPORTS="+tr)
			expectLines(t, got,
				`connected true`,
				`fetch [{"user":"ann"}]`,
				`whoami [{"auth":{"token":"good"},"data":{"user":"ann"},"forwarded":"Bearer abc|","headers":{"authorization":"Bearer abc"},"meta":{"session":"s1"},"protocol":5,"room":"x","rooms":["lobby"],"tag":"b"}]`,
			)
			connects := be.recorded("/socketio/connect")
			if len(connects) != 1 {
				t.Fatalf("%d connect hook requests, want 1", len(connects))
			}
			c := connects[0]
			if c.Type != "connect" || c.Namespace != "/chat" || c.ID == "" || c.Socket.ID == "" || c.Socket.Address != "127.0.0.1" ||
				c.Socket.Transport != tr || c.Time < time.Now().Add(-time.Minute).UnixMilli() || !strings.HasPrefix(c.Handshake.URL, "/socket.io/?") {
				t.Errorf("connect request body: %s", c.raw)
			}
			sig := c.header.Get(SignatureHeader)
			if strings.Count(sig, "v1=") != 2 || Verify(sig, c.raw, []string{"new-secret"}, time.Minute) != nil {
				t.Errorf("signature %q: want two v1 values, the first one by the first secret", sig)
			}
			if c.header.Get("Authorization") != "Bearer abc" || c.header.Get("X-Not-Forwarded") != "" {
				t.Errorf("connect request headers %v: want the allowlisted Authorization alone", c.header)
			}
		})
	}
}

func TestConnectRefusedWithTheBackendsMessageAndData(t *testing.T) {
	ts, be, h := chatSetup(t, func(c *Config) { c.Notify = []string{"connect"} })
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=refuse"),
		`refused {"message":"not allowed","data":{"reason":"bad token"}}`)
	// socket.io-client 2.x gets the data alone, as Node sends it.
	expectLines(t, runScript(t, "v2.js", "URL="+ts.URL, "SCENARIO=refuse"),
		`refused {"reason":"bad token"}`)
	if n := len(be.recorded("/socketio/notify")); n != 0 {
		t.Errorf("%d connect notifications of refused sockets, want none", n)
	}
	expectOutcomes(t, h, KindConnect, map[string]uint64{"refused": 2})
}

func TestClientV2ConnectAndBinaryAck(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			ts, be, _ := chatSetup(t, nil)
			expectLines(t, runScript(t, "v2.js", "URL="+ts.URL, "SCENARIO=accept", "TRANSPORTS="+tr),
				`connected true`,
				`fetch [{"user":"ann"}]`,
				`ack ["s",{"type":"Buffer","data":[5,6]},{"type":"Buffer","data":[104,105]},"[\"s\",{\"_binary\":\"BQY=\"}]"]`,
			)
			c := be.recorded("/socketio/connect")[0]
			if c.Socket.Protocol != 4 || len(c.Handshake.Auth) != 0 || c.Handshake.Query["token"] != "good" || c.Handshake.Headers["authorization"] != "Bearer v2" {
				t.Errorf("connect request of a 2.x client: %s", c.raw)
			}
		})
	}
}

func TestEventAckedWithTheBackendsAnswerBinaryBothWays(t *testing.T) {
	ts, be, _ := chatSetup(t, nil)
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=binary"),
		`ack ["s",1.5,{"type":"Buffer","data":[1,2,3]},{"nested":[{"type":"Buffer","data":[4]}]},{"type":"Buffer","data":[104,105]},"[\"s\",1.5,{\"_binary\":\"AQID\"},{\"nested\":[{\"_binary\":\"BA==\"}]}]"]`)
	ev := be.recorded("/socketio/event")[0]
	if ev.Type != "event" || ev.Event != "echo" || !ev.Ack || string(ev.Socket.Meta) != `{"session":"s1"}` {
		t.Errorf("event request body: %s", ev.raw)
	}
}

func TestEventAnswerActions(t *testing.T) {
	ts, _, _ := chatSetup(t, nil)
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=actions"),
		`b-join ["joined",["lobby"]]`,
		`a-join-shout ["shouted"]`,
		`a-leave ["left"]`,
		`b-sync [{"auth":{"token":"good"},"data":{"user":"ann"},"forwarded":"|","headers":{},"meta":{"session":"s1"},"protocol":5,"room":null,"rooms":["lobby","r"],"tag":null}]`,
		`news {"a":[["one",{"type":"Buffer","data":[0]}]],"b":[["one",{"type":"Buffer","data":[0]}],["two"]]}`,
		`set ["set"]`,
		`whoami [{"auth":{"token":"good"},"data":{"n":2},"forwarded":"|","headers":{},"meta":{"secret":"m2"},"protocol":5,"room":null,"rooms":["lobby"],"tag":null}]`,
		`bye ["bye"]`,
		`disconnect "io server disconnect"`,
	)
}

func TestEventsOfASocketReachTheBackendInOrder(t *testing.T) {
	ts, _, _ := chatSetup(t, nil)
	want := make([]int, 30)
	for i := range want {
		want[i] = i
	}
	wantJSON, _ := json.Marshal([]any{want})
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=order"), `order `+string(wantJSON))
}

func TestMaxConcurrentHoldsTheBackendsConcurrency(t *testing.T) {
	ts, be, _ := chatSetup(t, func(c *Config) { c.MaxConcurrent = 3 })
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=many", "N=20"), `acks true`)
	if m := be.maxInflight.Load(); m != 3 {
		t.Errorf("the backend saw %d hook requests at once, want max_concurrent 3 (20 clients waiting)", m)
	}
}

// A repeated query key is a list, as in Node's socket.handshake.query
// (socket.io-client itself keeps the last value, so this is a unit test).
func TestQueryIsNodesObjectWithListsForRepeatedKeys(t *testing.T) {
	hs := socketio.RemoteHandshake("/socket.io/?EIO=4&tag=a&tag=b&room=x", map[string][]string{"EIO": {"4"}, "tag": {"a", "b"}, "room": {"x"}}, "")
	got, _ := json.Marshal(queryObject(&hs))
	if string(got) != `{"EIO":"4","room":"x","tag":["a","b"]}` {
		t.Errorf("query %s", got)
	}
}

// SetConfig applies to the next hook call (here, to another backend with
// another secret), and the live socket keeps the data and meta the first
// backend gave it.
func TestReconfiguredHooksApplyToTheNextCallAndSocketsKeepDataAndMeta(t *testing.T) {
	ts := startIO(t)
	nsp := ts.io.Of("/chat")
	app := &chatBackend{nsp: func() *socketio.Namespace { return nsp }}
	be2 := startBackend(t, []string{"s2"}, app.handle)
	c2 := &Config{Transport: http.DefaultTransport, URL: be2.srv.URL + "/v2", Events: []string{"whoami"}, Secrets: []string{"s2"}}
	var h atomic.Pointer[Hooks]
	be1 := startBackend(t, []string{"s1"}, func(w http.ResponseWriter, r *http.Request, req *hookReq) {
		if req.Event == "swap" {
			h.Load().SetConfig(c2) // a caddy reload, while the socket lives
			answer(w, map[string]any{"ack": []any{"swapped"}})
			return
		}
		app.handle(w, r, req)
	})
	h.Store(ts.attach(t, "/chat", &Config{
		Transport: http.DefaultTransport, URL: be1.srv.URL + "/socketio", Connect: true, Events: []string{"swap", "whoami"}, Secrets: []string{"s1"},
	}))
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=reload"),
		`swap ["swapped"]`,
		`whoami [{"auth":{"token":"good"},"data":{"user":"ann"},"forwarded":"|","headers":{},"meta":{"session":"s1"},"protocol":5,"room":null,"rooms":["lobby"],"tag":null}]`,
	)
	if n, m := len(be1.recorded("/socketio/event")), len(be2.recorded("/v2/event")); n != 1 || m != 1 {
		t.Errorf("events: %d at the first backend, %d at the second; want 1 and 1", n, m)
	}
}

// A 2.x client multiplexing /chat over its "/" connection sends the
// namespace's query in its CONNECT only: the hook finds it in the query.
func TestClientV2NamespaceQueryReachesTheHook(t *testing.T) {
	ts, be, _ := chatSetup(t, nil)
	expectLines(t, runScript(t, "v2.js", "URL="+ts.URL, "SCENARIO=multiplexed"),
		`shared true`,
		`fetch [{"user":"ann"}]`,
	)
	c := be.recorded("/socketio/connect")[0]
	if strings.Contains(c.Handshake.URL, "token") || c.Handshake.Query["token"] != "good" || len(c.Handshake.Auth) != 0 {
		t.Errorf("connect request: %s; want the token in the query alone, not in the handshake URL nor auth", c.raw)
	}
}

// The encoded handshake a socket's hook calls share is kept while the
// socket is connected, and dropped when it disconnects: a server whose
// clients come and go holds none of theirs.
func TestHandshakeKeptPerSocketGoesWithIt(t *testing.T) {
	ts, be, h := chatSetup(t, nil)
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=accept"),
		`connected true`,
		`fetch [{"user":"ann"}]`,
		`whoami [{"auth":{"token":"good"},"data":{"user":"ann"},"forwarded":"Bearer abc|","headers":{"authorization":"Bearer abc"},"meta":{"session":"s1"},"protocol":5,"room":"x","rooms":["lobby"],"tag":"b"}]`,
	)
	if n := len(be.recorded("/socketio/event")); n != 2 {
		t.Fatalf("%d event hook requests, want 2 (fetch, whoami)", n)
	}
	waitFor(t, func() bool {
		h.shakeMu.Lock()
		defer h.shakeMu.Unlock()
		return len(h.shakes) == 0
	}, "the disconnected socket's handshake dropped")
}
