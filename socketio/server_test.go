package socketio

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// server is shut down and every client session ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer is a Socket.IO server on 127.0.0.1 with a record of what it
// saw, for tests driving real clients.
type testServer struct {
	t    testing.TB
	URL  string
	addr string
	io   *Server
	http *http.Server

	mu   sync.Mutex // guards seen
	seen []string
	cond *sync.Cond
}

// startServer serves a new Server, set up by setup, on addr ("" for a free
// port). It is shut down when the test ends.
func startServer(t testing.TB, addr string, opts engine.Options, setup func(ts *testServer)) *testServer {
	t.Helper()
	return startServerWith(t, addr, opts, Options{}, setup)
}

// startServerWith is startServer with Socket.IO options.
func startServerWith(t testing.TB, addr string, opts engine.Options, sopts Options, setup func(ts *testServer)) *testServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the previous server on a reused port may still hold it a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	opts.AllowEIO3 = true
	ts := &testServer{t: t, addr: ln.Addr().String(), URL: "http://" + ln.Addr().String()}
	ts.cond = sync.NewCond(&ts.mu)
	if sopts.Logger == nil {
		sopts.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	ts.io = NewServer(engine.NewServer(opts), sopts)
	setup(ts)
	ts.http = &http.Server{Handler: ts.io}
	go ts.http.Serve(ln)
	t.Cleanup(ts.stop)
	return ts
}

// stop shuts the server down and waits for its connections to end.
func (ts *testServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.io.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		ts.t.Errorf("shutdown: %v", err)
	}
	ts.http.Shutdown(ctx)
	ts.http.Close()
}

// note records something the server saw.
func (ts *testServer) note(s string) {
	ts.mu.Lock()
	ts.seen = append(ts.seen, s)
	ts.cond.Broadcast()
	ts.mu.Unlock()
}

// waitSeen waits until the server saw want, n times.
func (ts *testServer) waitSeen(want string, n int) {
	ts.t.Helper()
	deadline := time.AfterFunc(10*time.Second, func() {
		ts.mu.Lock()
		ts.cond.Broadcast()
		ts.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for {
		count := 0
		for _, s := range ts.seen {
			if s == want {
				count++
			}
		}
		if count >= n {
			return
		}
		if time.Since(start) > 10*time.Second {
			ts.t.Fatalf("the server saw %q %d times, want %d; it saw:\n%s", want, count, n, strings.Join(ts.seen, "\n"))
		}
		ts.cond.Wait()
	}
}

// count is how many times the server saw s.
func (ts *testServer) count(s string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	n := 0
	for _, x := range ts.seen {
		if x == s {
			n++
		}
	}
	return n
}
