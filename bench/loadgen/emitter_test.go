package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/httpapi"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// A backend's fanout (-emit-via): through @socket.io/redis-emitter's
// PUBLISH into the Node reference on Redis, and through the HTTP API into
// a Go server (package httpapi, as socketio_api serves it). Every receiver
// of the room gets every event, and the emit figures are reported.
func TestFanoutFromABackend(t *testing.T) {
	redisURL := startRedis(t)
	nodeURL, pid := startNodeReference(t, "REDIS_URL="+redisURL)
	r, line := smokeRun(t, []string{"-scenario", "fanout", "-n", "20", "-d", "1s", "-label", "node", "-url", nodeURL, "-pid", fmt.Sprint(pid),
		"-emit-via", "redis-emitter", "-redis", strings.TrimPrefix(redisURL, "redis://"), "-room", "bench"})
	if r.Variant != "backend" || r.EmitVia != "redis-emitter" || r.EmitsPerSec == 0 || r.CPUusPerEmit == 0 || r.Ops != r.Sent*20 {
		t.Fatalf("redis-emitter into Node: %s", line)
	}

	eng := engine.NewServer(engine.Options{})
	io := socketio.NewServer(eng, socketio.Options{})
	io.Use(func(s *socketio.Socket) error {
		if room := s.Handshake().Query().Get("room"); room != "" {
			s.Join(room)
		}
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("/api/", http.StripPrefix("/api", httpapi.New(httpapi.Fixed(io), httpapi.Options{Keys: []string{"bench-key"}})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "http://" + ln.Addr().String()
	t.Setenv("TEST_BENCH_API_KEY", "bench-key")
	r, line = smokeRun(t, []string{"-scenario", "fanout", "-n", "20", "-d", "1s", "-label", "go", "-url", base + "/socket.io/", "-pid", fmt.Sprint(os.Getpid()),
		"-emit-via", "api", "-api-url", base + "/api", "-api-key-env", "TEST_BENCH_API_KEY", "-room", "bench"})
	if r.Variant != "backend" || r.EmitVia != "api" || r.EmitsPerSec == 0 || r.Ops != r.Sent*20 {
		t.Fatalf("the API into Go: %s", line)
	}
}

func TestEmitViaFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-emit-via", "carrier-pigeon"}, `-emit-via "carrier-pigeon": use socket, api with -api-url, or redis-emitter with -redis`},
		{[]string{"-emit-via", "api"}, "api with -api-url"},
		{[]string{"-scenario", "echo", "-emit-via", "redis-emitter", "-redis", "127.0.0.1:1"}, "-emit-via redis-emitter is for -scenario fanout on one node"},
	} {
		if _, err := parseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loadgen %s: error %v, want one saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
