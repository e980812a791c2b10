package caddysocketio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// testSite is a Handler provisioned from JSON, served by an httptest server
// the way Caddy would (a replacer in the request context), with a next
// handler that answers "next".
type testSite struct {
	h    *Handler
	srv  *httptest.Server
	logs *observer.ObservedLogs
}

// provision loads a Handler from its JSON config, as Caddy does.
func provision(t *testing.T, config string) (*Handler, *observer.ObservedLogs) {
	t.Helper()
	h := new(Handler)
	if err := json.Unmarshal([]byte(config), h); err != nil {
		t.Fatalf("config %s: %v", config, err)
	}
	if h.Name == "" {
		h.Name = t.Name() // tests must not share live servers
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatalf("provision %s: %v", config, err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("validate %s: %v", config, err)
	}
	core, logs := observer.New(zap.DebugLevel)
	h.logger = zap.New(core)
	return h, logs
}

func newTestSite(t *testing.T, config string) *testSite {
	t.Helper()
	h, logs := provision(t, config)
	s := &testSite{h: h, logs: logs}
	s.srv = httptest.NewServer(serveWith(h))
	t.Cleanup(func() {
		s.srv.Close()
		if err := h.Cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return s
}

// serveWith serves h as a route of a Caddy server would.
func serveWith(h *Handler) http.Handler {
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("X-Next", "yes")
		_, err := io.WriteString(w, "next")
		return err
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
		ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{})
		if err := h.ServeHTTP(w, r.WithContext(ctx), next); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
}

func (s *testSite) do(t *testing.T, method, target string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(body)}
}

// dial opens a WebSocket handshake (no sid) and returns the HTTP status of
// the answer: 101 when the upgrade went through.
func (s *testSite) dial(t *testing.T, origin string) int {
	t.Helper()
	url := "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	header := http.Header{}
	if origin != "" {
		header.Set("Origin", origin)
	}
	conn, res, err := websocket.DefaultDialer.Dial(url, header)
	if err == nil {
		defer conn.Close()
		_, msg, err := conn.ReadMessage()
		if err != nil || !strings.HasPrefix(string(msg), `0{"sid":"`) {
			t.Fatalf("after the upgrade: %q, %v; want the open packet", msg, err)
		}
	}
	if res == nil {
		t.Fatalf("dial: %v", err)
	}
	return res.StatusCode
}

const handshake = "/socket.io/?EIO=4&transport=polling"

func TestOtherPathsGoToTheNextHandler(t *testing.T) {
	s := newTestSite(t, `{"cors":{"origins":["*"]}}`)
	for _, path := range []string{"/", "/index.html", "/socket.iox/", "/socket.io", "/chat/socket.io/"} {
		res := s.do(t, "GET", path, map[string]string{"Origin": "https://a.example"})
		if res.body != "next" || res.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s: %d %q, Allow-Origin %q; want the next handler's answer without CORS headers",
				path, res.status, res.body, res.header.Get("Access-Control-Allow-Origin"))
		}
	}
	if res := s.do(t, "GET", handshake, nil); res.status != 200 || !strings.HasPrefix(res.body, `0{"sid":"`) {
		t.Errorf("GET %s: %d %q, want the open packet", handshake, res.status, res.body)
	}
}

func TestCustomPath(t *testing.T) {
	s := newTestSite(t, `{"path":"/rt"}`)
	if res := s.do(t, "GET", "/rt/?EIO=4&transport=polling", nil); res.status != 200 || !strings.HasPrefix(res.body, `0{"sid":"`) {
		t.Errorf("handshake under /rt/: %d %q", res.status, res.body)
	}
	if res := s.do(t, "GET", handshake, nil); res.body != "next" {
		t.Errorf("/socket.io/ with path /rt: %d %q, want the next handler", res.status, res.body)
	}
}

func TestCORSPreflight(t *testing.T) {
	s := newTestSite(t, `{"cors":{"origins":["https://a.example","https://b.example"],"credentials":true,"allowed_headers":["my-custom-header"],"max_age":600000000000}}`)
	res := s.do(t, "OPTIONS", handshake, map[string]string{"Origin": "https://b.example", "Access-Control-Request-Method": "POST"})
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://b.example",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "GET,HEAD,PUT,PATCH,POST,DELETE",
		"Access-Control-Allow-Headers":     "my-custom-header",
		"Access-Control-Max-Age":           "600",
		"Vary":                             "Origin",
	}
	// Go's server leaves Content-Length out of every 204 (npm cors sets it
	// to 0 for Safari's sake; a 204 has no body either way).
	if res.status != 204 || res.body != "" {
		t.Errorf("preflight: %d %q, want 204 and no body", res.status, res.body)
	}
	for k, v := range want {
		if got := res.header.Get(k); got != v {
			t.Errorf("preflight %s = %q, want %q", k, got, v)
		}
	}
}

func TestCORSPreflightContinue(t *testing.T) {
	s := newTestSite(t, `{"cors":{"origins":["*"],"preflight_continue":true}}`)
	res := s.do(t, "OPTIONS", handshake, map[string]string{"Origin": "https://a.example"})
	if res.body != "next" || res.header.Get("Access-Control-Allow-Origin") != "*" || res.header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight_continue: %d %q %v; want the next handler's answer with the CORS headers", res.status, res.body, res.header)
	}
}

func TestCORSOnPollingRequests(t *testing.T) {
	s := newTestSite(t, `{"cors":{"origins":["https://a.example","https://b.example"],"credentials":true,"exposed_headers":["X-Trace-Id"]}}`)
	origin := map[string]string{"Origin": "https://a.example"}
	res := s.do(t, "GET", handshake, origin)
	if res.status != 200 || !strings.HasPrefix(res.body, `0{"sid":"`) {
		t.Fatalf("handshake: %d %q", res.status, res.body)
	}
	for k, v := range map[string]string{
		"Access-Control-Allow-Origin":      "https://a.example",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Expose-Headers":    "X-Trace-Id",
		"Vary":                             "Origin",
	} {
		if got := res.header.Get(k); got != v {
			t.Errorf("handshake %s = %q, want %q", k, got, v)
		}
	}
	// An error answer carries the headers too, so that the browser shows
	// the error rather than a CORS failure.
	res = s.do(t, "GET", handshake+"&sid=unknown", origin)
	if res.status != 400 || res.body != `{"code":1,"message":"Session ID unknown"}` || res.header.Get("Access-Control-Allow-Origin") != "https://a.example" {
		t.Errorf("unknown sid: %d %q, Allow-Origin %q", res.status, res.body, res.header.Get("Access-Control-Allow-Origin"))
	}
}

func TestRefusedOriginOnPolling(t *testing.T) {
	s := newTestSite(t, `{"cors":{"origins":["https://a.example","https://b.example"]}}`)
	for range 3 {
		res := s.do(t, "GET", handshake, map[string]string{"Origin": "https://evil.example"})
		if res.status != 403 || res.body != `{"code":4,"message":"Forbidden"}` || res.header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("handshake from a refused origin: %d %q, Allow-Origin %q", res.status, res.body, res.header.Get("Access-Control-Allow-Origin"))
		}
	}
	logged := s.logs.FilterMessageSnippet("origin that is not allowed").All()
	if len(logged) != 1 {
		t.Fatalf("refused origin logged %d times, want once: %v", len(logged), logged)
	}
	fields := logged[0].ContextMap()
	if fields["origin"] != "https://evil.example" || !strings.Contains(fields["hint"].(string), `cors block: "origin https://evil.example"`) {
		t.Errorf("log fields %v: want the origin and the hint to add it to cors origin", fields)
	}
	// A session opened without Origin keeps working from anywhere: its sid
	// is its credential, and the policy guards only new sessions.
	res := s.do(t, "GET", handshake, nil)
	if res.status != 200 {
		t.Fatalf("handshake without Origin: %d %q", res.status, res.body)
	}
}

func TestWebSocketOrigin(t *testing.T) {
	for _, c := range []struct {
		name, config, origin string
		want                 int
	}{
		{"no cors, cross-origin browser refused", `{}`, "https://evil.example", 403},
		{"no cors, non-browser client passes", `{}`, "", 101},
		{"cors list, listed origin passes", `{"cors":{"origins":["https://a.example","https://b.example"]}}`, "https://a.example", 101},
		{"cors list, other origin refused", `{"cors":{"origins":["https://a.example","https://b.example"]}}`, "https://evil.example", 403},
		{"cors single origin, other origin refused", `{"cors":{"origins":["https://a.example"]}}`, "https://evil.example", 403},
		{"cors wildcard subdomain passes", `{"cors":{"origins":["https://*.example.com"]}}`, "https://chat.example.com", 101},
		{"cors *, any origin passes", `{"cors":{"origins":["*"]}}`, "https://evil.example", 101},
		{"null refused even with a catch-all regexp", `{"cors":{"origin_regexps":[".*"]}}`, "null", 403},
		{"disable_origin_check restores Node's behaviour", `{"disable_origin_check":true}`, "https://evil.example", 101},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newTestSite(t, c.config)
			if got := s.dial(t, c.origin); got != c.want {
				t.Errorf("upgrade from %q: status %d, want %d", c.origin, got, c.want)
			}
		})
	}
}

func TestSameOriginWithoutCORS(t *testing.T) {
	s := newTestSite(t, `{}`)
	self := s.srv.URL // http://127.0.0.1:port
	if got := s.dial(t, self); got != 101 {
		t.Errorf("same-origin upgrade: %d, want 101", got)
	}
	res := s.do(t, "GET", handshake, map[string]string{"Origin": self})
	if res.status != 200 || res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same-origin polling handshake: %d %q, Allow-Origin %q; want 200 without CORS headers", res.status, res.body, res.header.Get("Access-Control-Allow-Origin"))
	}
	res = s.do(t, "GET", handshake, map[string]string{"Origin": "http://localhost:3000"})
	if res.status != 403 {
		t.Errorf("another port is another origin: %d %q, want 403", res.status, res.body)
	}
	logged := s.logs.FilterMessageSnippet("origin that is not allowed").All()
	if len(logged) != 1 || !strings.Contains(logged[0].ContextMap()["hint"].(string), "add a cors block") {
		t.Errorf("logs %v: want one entry with the hint to add a cors block", logged)
	}
}

func TestAllowRequest(t *testing.T) {
	// The guide's "disallow all cross-origin requests": allowRequest
	// refuses any handshake that carries an Origin header.
	s := newTestSite(t, `{"disable_origin_check":true,"allow_request":{"header":{"Origin":null}}}`)
	if res := s.do(t, "GET", handshake, nil); res.status != 200 {
		t.Errorf("handshake without Origin: %d %q, want 200", res.status, res.body)
	}
	res := s.do(t, "GET", handshake, map[string]string{"Origin": "https://a.example"})
	if res.status != 403 || res.body != `{"code":4,"message":"Forbidden"}` {
		t.Errorf("polling handshake with Origin: %d %q, want 403 {\"code\":4,\"message\":\"Forbidden\"}", res.status, res.body)
	}
	if got := s.dial(t, "https://a.example"); got != 400 {
		t.Errorf("upgrade with Origin: %d, want 400", got)
	}
	if got := s.dial(t, ""); got != 101 {
		t.Errorf("upgrade without Origin: %d, want 101", got)
	}
}

func TestAllowRequestRunsOnHandshakesOnly(t *testing.T) {
	// Only the handshake carries ?token=; the session's later requests are
	// tied to it by the sid, as in Node.
	s := newTestSite(t, `{"allow_request":{"query":{"token":["secret"]}}}`)
	if res := s.do(t, "GET", handshake, nil); res.status != 403 {
		t.Fatalf("handshake without token: %d %q, want 403", res.status, res.body)
	}
	res := s.do(t, "GET", handshake+"&token=secret", nil)
	if res.status != 200 {
		t.Fatalf("handshake with token: %d %q", res.status, res.body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(res.body, "0")), &open); err != nil || open.SID == "" {
		t.Fatalf("open packet %q: %v", res.body, err)
	}
	// The first GET returns the CONNECT timeout's nothing; send a CONNECT
	// by POST instead and read the answer.
	req, _ := http.NewRequest("POST", s.srv.URL+handshake+"&sid="+open.SID, strings.NewReader("40"))
	post, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != 200 {
		t.Fatalf("POST with the sid, without the token: %d, want 200", post.StatusCode)
	}
	res = s.do(t, "GET", handshake+"&sid="+open.SID, nil)
	if res.status != 200 || !strings.HasPrefix(res.body, `40{"sid":"`) {
		t.Errorf("GET with the sid, without the token: %d %q, want the CONNECT answer", res.status, res.body)
	}
}

func TestValidateFailures(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{`{"cors":{"origins":["*"],"credentials":true}}`, `cors: origin "*" cannot be combined with credentials; list the allowed origins instead`},
		{`{"cors":{"origins":["https://a.example/"]}}`, `browsers send "https://a.example"`},
		{`{"cors":{}}`, `no origin is allowed`},
		{`{"path":"socket.io"}`, `path "socket.io" must start with /`},
		{`{"transports":["xhr"]}`, `transport "xhr" is not one of polling, websocket`},
		{`{"ping_interval":-1}`, `ping_interval -1ns must be positive`},
		{`{"max_payload":-5}`, `max_payload -5 must be positive`},
		{`{"jsonp":true}`, `jsonp needs allow_eio3`},
		{`{"cookie":{"same_site":"none"}}`, `cookie same_site none needs secure`},
		{`{"namespaces":[{"name":"/a"},{"name":"a"}]}`, `namespace "/a" is configured twice`},
		{`{"namespaces":[{"name":""}]}`, `namespace without a name`},
		{`{"namespaces":[{"name":"/a","join":["{nope}"]}]}`, `placeholder {nope} is not one of`},
	} {
		h := new(Handler)
		if err := json.Unmarshal([]byte(c.config), h); err != nil {
			t.Fatal(err)
		}
		h.Name = t.Name()
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		err := h.Provision(ctx)
		if err == nil {
			err = h.Validate()
		}
		_ = h.Cleanup()
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.config, err, c.want)
		}
		if refs, ok := servers.References(t.Name()); ok {
			t.Errorf("%s: a failed provision left a live server with %d references", c.config, refs)
		}
	}
}

// On `caddy stop` the HTTP server waits for every request to end before the
// process exits, and a long-poll lasts up to ping_interval: the handler
// closes the sessions as soon as the server begins to shut down, so the
// pending long-poll ends with a close packet.
func TestServerShutdownEndsLongPolls(t *testing.T) {
	h, _ := provision(t, `{"ping_interval":60000000000}`)
	var inFlight atomic.Int32 // GET requests with a sid inside the handler
	inner := serveWith(h)
	s := &testSite{h: h, srv: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" && r.URL.Query().Has("sid") {
			inFlight.Add(1)
			defer inFlight.Add(-1)
		}
		inner.ServeHTTP(w, r)
	}))}
	t.Cleanup(func() { s.srv.Close(); _ = h.Cleanup() })
	res := s.do(t, "GET", handshake, nil)
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(res.body, "0")), &open); err != nil || open.SID == "" {
		t.Fatalf("open packet %q: %v", res.body, err)
	}
	poll := handshake + "&sid=" + open.SID
	req, _ := http.NewRequest("POST", s.srv.URL+poll, strings.NewReader("40"))
	post, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if res := s.do(t, "GET", poll, nil); !strings.HasPrefix(res.body, `40{"sid":"`) {
		t.Fatalf("CONNECT answer: %d %q", res.status, res.body)
	}
	longPoll := make(chan response, 1)
	go func() { longPoll <- s.do(t, "GET", poll, nil) }()
	// Wait until the handler holds the long-poll.
	for deadline := time.Now().Add(5 * time.Second); inFlight.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // from the wrapper into the engine
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Config.Shutdown(ctx); err != nil {
		t.Fatalf("the HTTP server's shutdown waited for the long-poll: %v", err)
	}
	if res := <-longPoll; res.status != 200 || res.body != "1" {
		t.Errorf("the long-poll ended with %d %q, want the close packet 1", res.status, res.body)
	}
}

func TestAdapterModuleGivesTheServerItsAdapter(t *testing.T) {
	// Redis need not be up: the server serves its own clients meanwhile.
	s := newTestSite(t, `{"adapter":{"adapter":"redis","addresses":["127.0.0.1:1"]}}`)
	if _, ok := s.h.live.io.Of("/").Adapter().(*socketio.MemoryAdapter); ok {
		t.Fatal("the namespace kept the in-memory adapter")
	}
	if want := s.h.Name + " adapter redis"; s.h.poolKey != want {
		t.Errorf("pool key %q, want %q: the name, then the adapter's kind", s.h.poolKey, want)
	}
	if res := s.do(t, "GET", handshake, nil); res.status != 200 || !strings.HasPrefix(res.body, `0{"sid":"`) {
		t.Errorf("handshake with Redis down: %d %q", res.status, res.body)
	}
	// Other Redis settings keep the server (it moves to them when the new
	// config serves); no adapter at all needs another server, as the
	// namespaces cannot leave the Redis adapter in place.
	other, _ := provision(t, `{"name":"`+s.h.Name+`","adapter":{"adapter":"redis","addresses":["127.0.0.1:2"]}}`)
	defer other.Cleanup()
	if other.live != s.h.live {
		t.Error("a changed adapter address started another live server")
	}
	local, _ := provision(t, `{"name":"`+s.h.Name+`"}`)
	defer local.Cleanup()
	if local.live == s.h.live {
		t.Error("a config without the adapter reused the server that has it")
	}
}

func TestCleanupLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	h, _ := provision(t, `{"cors":{"origins":["https://a.example","https://b.example"]},"namespaces":[{"name":"/chat","relay":{},"join":["room-{query.room}"]}]}`)
	srv := httptest.NewServer(serveWith(h))
	s := &testSite{h: h, srv: srv}
	// A polling session and a WebSocket session, both left open.
	if res := s.do(t, "GET", handshake, nil); res.status != 200 {
		t.Fatalf("handshake: %d %q", res.status, res.body)
	}
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40/chat,")); err != nil {
		t.Fatal(err)
	}
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the CONNECT answer: %v", err)
		}
		if strings.HasPrefix(string(msg), "40/chat,") {
			break
		}
	}
	if err := h.Cleanup(); err != nil {
		t.Fatal(err)
	}
	// The client is told: the server closes the WebSocket.
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
}
