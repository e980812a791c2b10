package caddysocketio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func TestHooksValidateFailures(t *testing.T) {
	t.Setenv("HOOKS_TEST_EMPTY", "")
	const transport = `"transport":{"handler":"static_response"}`
	for _, c := range []struct{ config, want string }{
		{`{"namespaces":[{"name":"/a","hooks":{"connect":true}}]}`,
			`namespace /a: the hooks block has no transport; add a handler that reaches the backend`},
		{`{"namespaces":[{"name":"/a","relay":{},"hooks":{"events":["chat:*"],` + transport + `}}]}`,
			`namespace /a relays every event, and its hooks block sends events chat:* to the backend`},
		{`{"namespaces":[{"name":"/a","relay":{"events":["ping","chat:msg"]},"hooks":{"events":["order:*","chat:*"],` + transport + `}}]}`,
			`namespace /a both relays event "chat:msg" and sends it to the backend`},
		{`{"namespaces":[{"name":"/a","hooks":{"path_prefix":"socketio",` + transport + `}}]}`,
			`hooks path_prefix "socketio" must be a path starting with /`},
		{`{"namespaces":[{"name":"/a","hooks":{"secrets":["{env.HOOKS_TEST_EMPTY}"],` + transport + `}}]}`,
			`secret #1 ({env.HOOKS_TEST_EMPTY}) is empty`},
		{`{"namespaces":[{"name":"/a","hooks":{"max_concurrent":-1,` + transport + `}}]}`,
			`hooks max_concurrent -1 must be positive`},
		{`{"namespaces":[{"name":"/a","hooks":{"events":["chat:["],` + transport + `}}]}`,
			`chat:[`},
		{`{"namespaces":[{"name":"/a","hooks":{"connect":true,"transport":{"handler":"no_such_handler"}}}]}`,
			`loading the hooks transport`},
	} {
		h := new(Handler)
		if err := json.Unmarshal([]byte(c.config), h); err != nil {
			t.Fatal(err)
		}
		h.Name = t.Name()
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		err := h.Provision(ctx)
		_ = h.Cleanup()
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.config, err, c.want)
		}
	}
}

// A secret comes from its placeholder when the config loads, and a bad one
// is named by its placeholder: the value is in no error.
func TestHooksSecretsFromPlaceholders(t *testing.T) {
	t.Setenv("HOOKS_TEST_SECRET", "s3cr3t-value")
	got, err := resolveSecrets([]string{"{env.HOOKS_TEST_SECRET}", "literal"})
	if err != nil || len(got) != 2 || got[0] != "s3cr3t-value" || got[1] != "literal" {
		t.Fatalf("resolveSecrets = %q, %v; want [s3cr3t-value literal]", got, err)
	}
	_, err = resolveSecrets([]string{"{env.HOOKS_TEST_SECRET}", "{env.HOOKS_TEST_UNSET_VARIABLE}"})
	if err == nil || strings.Contains(err.Error(), "s3cr3t-value") || !strings.Contains(err.Error(), "secret #2 ({env.HOOKS_TEST_UNSET_VARIABLE})") {
		t.Fatalf("error %v: want one naming secret #2 by its placeholder, without any secret's value", err)
	}
}

// hookTransportOf loads a Caddyfile into the in-process Caddy whose
// namespace /a has hooks carried by transport (handler directives) and
// returns that transport, as the hooks package gets it.
func hookTransportOf(t *testing.T, transport string, maxPayload string) http.RoundTripper {
	t.Helper()
	addr := inProcessCaddy(t)
	name := "hooks-" + t.Name()
	loadCaddyfile(t, site(addr, fmt.Sprintf(`socketio {
	name %s
	max_payload %s
	namespace /a {
		hooks {
			connect
			secret x
			%s
		}
	}
}`, name, maxPayload, transport)))
	c := (*liveServerNamed(t, name).namespaces.Load())["/a"]
	if c == nil || c.hooks == nil {
		t.Fatal("namespace /a has no hooks after loading the config")
	}
	return c.hooks.Transport
}

func hookRequest(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// The transport runs reverse_proxy as Caddy would on a request it received:
// the backend sees the hook's method, path, headers and exact body.
func TestHookTransportThroughReverseProxy(t *testing.T) {
	type seen struct {
		method, path, contentType, forwardedFor, body string
	}
	got := make(chan seen, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("X-Forwarded-For"), string(body)}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accept":true}`)
	}))
	defer backend.Close()
	for _, shape := range transportShapes {
		t.Run(shape.name, func(t *testing.T) {
			rt := hookTransportOf(t, shape.of(backend.Listener.Addr().String()), "1MB")
			res, err := rt.RoundTrip(hookRequest(t, "http://localhost/socketio/connect", `{"type":"connect"}`))
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || string(body) != `{"accept":true}` || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("answer %d %q %q, want 200 application/json {\"accept\":true}", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			want := seen{"POST", "/socketio/connect", "application/json", "127.0.0.1", `{"type":"connect"}`}
			if s := <-got; s != want {
				t.Errorf("backend saw %+v, want %+v", s, want)
			}
		})
	}
}

// transportShapes are the two paths of the hooks transport: a lone
// reverse_proxy (proxyTransport, straight to reverse_proxy's upstreams and
// HTTP transport) and the same inside a route (hookTransport, the handler
// chain, as php_fastcgi or matchers get it). of gives the transport
// directives for a backend address.
var transportShapes = []struct {
	name   string
	direct bool
	of     func(addr string) string
}{
	{"direct", true, func(addr string) string { return "reverse_proxy " + addr }},
	{"handler-chain", false, func(addr string) string { return "route {\n\t\t\treverse_proxy " + addr + "\n\t\t}" }},
}

// A backend that is down is an error of the round trip (reverse_proxy's 502),
// not an answer the hooks package would try to read.
func TestHookTransportBackendDown(t *testing.T) {
	backend := httptest.NewServer(http.NotFoundHandler())
	addr := backend.Listener.Addr().String()
	backend.Close()
	for _, shape := range transportShapes {
		t.Run(shape.name, func(t *testing.T) {
			rt := hookTransportOf(t, shape.of(addr), "1MB")
			res, err := rt.RoundTrip(hookRequest(t, "http://localhost/socketio/event", `{}`))
			if err == nil {
				t.Fatalf("RoundTrip to a closed port answered %d, want an error", res.StatusCode)
			}
			if !strings.Contains(err.Error(), "502") {
				t.Errorf("error %q, want one with reverse_proxy's 502", err)
			}
		})
	}
}

// An answer larger than max_payload is cut at max_payload+1 bytes: enough
// for the hooks package to refuse it, no more held in memory.
func TestHookTransportCapsTheAnswer(t *testing.T) {
	big := strings.Repeat("x", 5000)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, big)
	}))
	defer backend.Close()
	for _, shape := range transportShapes {
		t.Run(shape.name, func(t *testing.T) {
			rt := hookTransportOf(t, shape.of(backend.Listener.Addr().String()), "1000")
			res, err := rt.RoundTrip(hookRequest(t, "http://localhost/socketio/event", `{}`))
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			if len(body) != 1001 {
				t.Errorf("answer of %d bytes, want it cut at max_payload+1 = 1001", len(body))
			}
		})
	}
}

// A transport whose handlers all pass the request on (a matcher that
// matches nothing) is an error that says so, not an empty 200.
func TestHookTransportNobodyAnswers(t *testing.T) {
	rt := hookTransportOf(t, "respond /elsewhere/* `{}`", "1MB")
	_, err := rt.RoundTrip(hookRequest(t, "http://localhost/socketio/event", `{}`))
	if err == nil || !strings.Contains(err.Error(), "no handler of the hooks block answered") {
		t.Errorf("error %v, want the one about no handler answering", err)
	}
}

func TestHooksCaddyfileErrors(t *testing.T) {
	ns := func(body string) string { return "socketio {\n namespace chat {\n  hooks {\n" + body + "  }\n }\n}" }
	for _, c := range []struct {
		input string
		line  int // the line the error points at
		want  string
	}{
		{"socketio {\n namespace chat {\n  hooks now {\n   connect\n  }\n }\n}", 3, `hooks takes no argument, got "now"`},
		{"socketio {\n namespace chat {\n  hooks\n }\n}", 3, `hooks needs a block`},
		{ns("   connect\n   connect\n"), 5, `hooks connect is set twice`},
		{ns("   connect yes\n"), 4, `connect takes no value, got "yes"`},
		{ns("   events\n"), 4, `events needs at least one value`},
		{ns("   notify connect connect\n"), 4, `hooks notify connect is listed twice`},
		{ns("   path_prefix socketio\n"), 4, `hooks path_prefix "socketio" must start with /`},
		{ns("   timeout soon\n"), 4, `timeout "soon" is not a duration`},
		{ns("   max_concurrent 0\n"), 4, `hooks max_concurrent "0" is not a positive number of requests`},
		{ns("   secret\n"), 4, `secret needs at least one value`},
		{ns("   connect\n"), 3, `hooks has no transport`},
		// Without the HTTP Caddyfile adapter (a socketio block unmarshaled
		// on its own) the transport's directives cannot be parsed.
		{ns("   connect\n   reverse_proxy 127.0.0.1:9\n"), 3, `hooks needs the Caddyfile's http directives for its transport`},
	} {
		_, err := parse(t, c.input)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got error %v\nwant one containing %q", c.input, err, c.want)
			continue
		}
		if at := fmt.Sprintf(", at Testfile:%d", c.line); !strings.HasSuffix(err.Error(), at) {
			t.Errorf("%q: error %q does not end with %q", c.input, err, at)
		}
	}
}

// A lone reverse_proxy gets the direct transport; anything needing the
// handler chain (a route, header operations, a policy that reads the
// request) keeps it.
func TestHookTransportPathChosen(t *testing.T) {
	for _, c := range []struct {
		transport string
		direct    bool
	}{
		{"reverse_proxy 127.0.0.1:9", true},
		{"reverse_proxy 127.0.0.1:9 {\n transport http {\n keepalive_idle_conns_per_host 64\n }\n }", true},
		{"reverse_proxy 127.0.0.1:9 127.0.0.1:10 {\n lb_policy round_robin\n lb_retries 2\n health_uri /health\n }", true},
		{"reverse_proxy unix//run/app.sock", true},
		{"route {\n reverse_proxy 127.0.0.1:9\n }", false},
		{"reverse_proxy 127.0.0.1:9 {\n header_up X-App hooks\n }", false},
		{"reverse_proxy 127.0.0.1:9 127.0.0.1:10 {\n lb_policy least_conn\n }", false},
		{"reverse_proxy 127.0.0.1:9 {\n fail_duration 10s\n }", false},
		{"reverse_proxy /socketio/* 127.0.0.1:9", false},
		{transportShapes[0].of("127.0.0.1:9"), transportShapes[0].direct},
		{transportShapes[1].of("127.0.0.1:9"), transportShapes[1].direct},
	} {
		t.Run("", func(t *testing.T) {
			rt := hookTransportOf(t, c.transport, "1MB")
			if _, direct := rt.(*proxyTransport); direct != c.direct {
				t.Errorf("%s: transport %T, want direct = %v", c.transport, rt, c.direct)
			}
		})
	}
}

// On the direct path, reverse_proxy's load balancing and active health
// checks still decide where each hook request goes: round_robin over two
// upstreams takes turns, an upstream whose health check fails gets nothing
// once the checker has seen it, and everything again once it recovers.
func TestHookTransportDirectBalancesOverHealthyUpstreams(t *testing.T) {
	type backend struct {
		srv     *httptest.Server
		healthy atomic.Bool
		hooks   atomic.Int64
	}
	var bs [2]*backend
	for i := range bs {
		b := &backend{}
		b.healthy.Store(true)
		b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				if !b.healthy.Load() {
					http.Error(w, "down", http.StatusServiceUnavailable)
				}
				return
			}
			b.hooks.Add(1)
			_, _ = io.WriteString(w, `{"accept":true}`)
		}))
		defer b.srv.Close()
		bs[i] = b
	}
	rt := hookTransportOf(t, fmt.Sprintf("reverse_proxy %s %s {\n lb_policy round_robin\n health_uri /health\n health_interval 20ms\n health_passes 1\n health_fails 1\n }",
		bs[0].srv.Listener.Addr(), bs[1].srv.Listener.Addr()), "1MB")
	if _, ok := rt.(*proxyTransport); !ok {
		t.Fatalf("transport %T, want the direct one", rt)
	}
	send := func(n int) (counts [2]int64) {
		t.Helper()
		before := [2]int64{bs[0].hooks.Load(), bs[1].hooks.Load()}
		for range n {
			res, err := rt.RoundTrip(hookRequest(t, "http://localhost/socketio/connect", `{}`))
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return [2]int64{bs[0].hooks.Load() - before[0], bs[1].hooks.Load() - before[1]}
	}
	if got := send(10); got != [2]int64{5, 5} {
		t.Errorf("10 hook requests over two healthy upstreams went %v, want 5 each (round_robin)", got)
	}
	// until waits, within a bound, for the health checker to see the
	// change: requests sent meanwhile may still reach the old set.
	until := func(what string, want [2]int64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := send(4)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: 4 hook requests went %v, want %v", what, got, want)
			}
		}
	}
	bs[1].healthy.Store(false)
	until("with the second upstream failing its health check", [2]int64{4, 0})
	bs[1].healthy.Store(true)
	until("once it passes again", [2]int64{2, 2})
}

// The direct path reaches a backend over TLS and on a unix socket, through
// reverse_proxy's own transport settings.
func TestHookTransportDirectOverTLSAndUnixSocket(t *testing.T) {
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"accept":true,"tls":`+strconv.FormatBool(r.TLS != nil)+`}`)
	})
	tlsBackend := httptest.NewTLSServer(answer)
	defer tlsBackend.Close()
	sock := filepath.Join(t.TempDir(), "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	unixBackend := httptest.NewUnstartedServer(answer)
	unixBackend.Listener = ln
	unixBackend.Start()
	defer unixBackend.Close()
	for _, c := range []struct{ name, transport, want string }{
		{"tls", "reverse_proxy https://" + tlsBackend.Listener.Addr().String() + " {\n transport http {\n tls_insecure_skip_verify\n }\n }", `{"accept":true,"tls":true}`},
		{"unix", "reverse_proxy unix/" + sock, `{"accept":true,"tls":false}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rt := hookTransportOf(t, c.transport, "1MB")
			if _, ok := rt.(*proxyTransport); !ok {
				t.Fatalf("transport %T, want the direct one", rt)
			}
			res, err := rt.RoundTrip(hookRequest(t, "http://localhost/socketio/connect", `{}`))
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if string(body) != c.want {
				t.Errorf("answer %s, want %s", body, c.want)
			}
		})
	}
}

// A hooks block's reverse_proxy keeps max_concurrent idle connections per
// upstream unless told otherwise: with reverse_proxy's 32, every request
// past the 32nd in flight opens and closes a connection of its own.
func TestHookTransportKeepsMaxConcurrentIdleConnections(t *testing.T) {
	for _, c := range []struct {
		block string
		want  int
	}{
		{"reverse_proxy 127.0.0.1:9", 64},
		{"max_concurrent 100\n reverse_proxy 127.0.0.1:9", 100},
		{"max_concurrent 100\n reverse_proxy 127.0.0.1:9 {\n transport http {\n keepalive_idle_conns_per_host 8\n }\n }", 8},
	} {
		rt := hookTransportOf(t, c.block, "1MB")
		pt, ok := rt.(*proxyTransport)
		if !ok {
			t.Fatalf("%s: transport %T, want the direct one", c.block, rt)
		}
		if got := pt.transport.Transport.MaxIdleConnsPerHost; got != c.want {
			t.Errorf("%s: %d idle connections kept per upstream, want %d", c.block, got, c.want)
		}
	}
}

// keepIdle reaches a reverse_proxy inside a subroute (matchers, handle
// blocks), and leaves fastcgi and a configured value alone.
func TestKeepIdleInSubroutesAndNotForFastCGI(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"handler":"subroute","routes":[{"match":[{"path":["/x"]}],"handle":[{"handler":"reverse_proxy","upstreams":[{"dial":"a:1"}]}]}]}`,
			`{"handler":"subroute","routes":[{"handle":[{"handler":"reverse_proxy","transport":{"keep_alive":{"max_idle_conns_per_host":64},"protocol":"http"},"upstreams":[{"dial":"a:1"}]}],"match":[{"path":["/x"]}]}]}`},
		{`{"handler":"reverse_proxy","transport":{"protocol":"fastcgi"}}`, `{"handler":"reverse_proxy","transport":{"protocol":"fastcgi"}}`},
		{`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns_per_host":8}}}`,
			`{"handler":"reverse_proxy","transport":{"protocol":"http","keep_alive":{"max_idle_conns_per_host":8}}}`},
	} {
		if got := string(keepIdle(json.RawMessage(c.in), 64)); got != c.want {
			t.Errorf("keepIdle(%s)\n= %s\nwant %s", c.in, got, c.want)
		}
	}
}

// Over plain HTTP the direct path uses the lean client, and the backend
// sees the same header from it as from reverse_proxy's handler chain;
// over TLS it keeps net/http's.
func TestHookTransportLeanClientSameRequest(t *testing.T) {
	got := make(chan http.Header, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		got <- h
		_, _ = io.WriteString(w, `{"accept":true}`)
	}))
	defer backend.Close()
	var seen [2]http.Header
	for i, shape := range transportShapes {
		rt := hookTransportOf(t, shape.of(backend.Listener.Addr().String()), "1MB")
		if pt, ok := rt.(*proxyTransport); ok && pt.pools == nil {
			t.Fatalf("plain HTTP upstream without the lean client: %s", pt.netHTTPBecause)
		}
		req := hookRequest(t, "http://localhost/socketio/connect", `{}`)
		req.Header.Set("User-Agent", "caddy-socketio-hooks")
		res, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", shape.name, err)
		}
		res.Body.Close()
		seen[i] = <-got
	}
	if !reflect.DeepEqual(seen[0], seen[1]) {
		t.Errorf("the backend saw\n%v from the lean client, and\n%v through the handler chain", seen[0], seen[1])
	}
	rt := hookTransportOf(t, "reverse_proxy https://127.0.0.1:9 {\n transport http {\n tls_insecure_skip_verify\n }\n }", "1MB")
	if pt := rt.(*proxyTransport); pt.pools != nil {
		t.Error("TLS to the upstream went to the lean client")
	}
}
