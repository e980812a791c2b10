package caddysocketio

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// provisionedHookTransport loads a Caddy config whose namespace /a has
// hooks carried by raw (a handler's JSON) into the in-process Caddy, and
// returns the transport the hooks package gets.
func provisionedHookTransport(tb testing.TB, raw string) http.RoundTripper {
	tb.Helper()
	dir := tb.TempDir()
	tb.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	tb.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	tb.Cleanup(func() { _ = caddy.Stop() })
	name := "hooks-" + strings.NewReplacer("/", "-", " ", "-").Replace(tb.Name())
	cfg := fmt.Sprintf(`{"admin":{"disabled":true},"logging":{"logs":{"default":{"level":"ERROR"}}},"apps":{"http":{"servers":{"s":{
		"listen":["127.0.0.1:0"],"automatic_https":{"disable":true},
		"routes":[{"handle":[{"handler":"socketio","name":%q,"namespaces":[{"name":"/a","hooks":{"connect":true,"secrets":["x"],"transport":%s}}]}]}]}}}}}`, name, raw)
	if err := caddy.Load([]byte(cfg), true); err != nil {
		tb.Fatalf("loading %s: %v", cfg, err)
	}
	var found *liveServer
	servers.Range(func(key, value any) bool {
		if key == name {
			found = value.(*liveServer)
		}
		return found == nil
	})
	if found == nil {
		tb.Fatalf("no live server named %q", name)
	}
	c := (*found.namespaces.Load())["/a"]
	if c == nil || c.hooks == nil {
		tb.Fatal("namespace /a has no hooks after loading the config")
	}
	return c.hooks.Transport
}

// The two shapes of a hooks block's transport: a lone reverse_proxy (the
// direct path, proxyTransport) and the same reverse_proxy inside a route
// (the handler chain, hookTransport).
func loneProxy(dial ...string) string {
	ups := make([]string, len(dial))
	for i, d := range dial {
		ups[i] = fmt.Sprintf(`{"dial":%q}`, d)
	}
	return `{"handler":"reverse_proxy","upstreams":[` + strings.Join(ups, ",") + `]}`
}

func routedProxy(dial ...string) string {
	return `{"handler":"subroute","routes":[{"handle":[` + loneProxy(dial...) + `]}]}`
}

// BenchmarkHookTransport is one hook request's round trip through each
// path of the hooks transport to a local backend, one at a time.
// cpu-ns/op is the process's CPU per request: transport, net/http client
// and the backend's server together; the difference between the two
// paths is the transport's.
func BenchmarkHookTransport(b *testing.B) {
	answer := []byte(`{"ack":["placed",{"id":7}]}`)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	}))
	defer be.Close()
	addr := be.Listener.Addr().String()
	body := strings.Repeat("x", 560) // a hooked event's body, as in bench/compare.sh
	for _, c := range []struct{ name, raw string }{
		{"direct", loneProxy(addr)},
		{"handler-chain", routedProxy(addr)},
	} {
		b.Run(c.name, func(b *testing.B) {
			rt := provisionedHookTransport(b, c.raw)
			cpu0 := cpuTime()
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodPost, "http://localhost/socketio/event", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				res, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
