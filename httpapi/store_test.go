package httpapi

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

var errNoServer = errors.New(`no socketio server is named "/socket.io/"`)

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestIdempotencyStoreIsBoundedAndRefusesRatherThanForgets(t *testing.T) {
	now := time.Unix(0, 0)
	s := newIdempotencyStore(time.Minute, 3*entryOverhead+100, func() time.Time { return now })
	for i, key := range []string{"a", "b", "c"} {
		e, r := s.begin(key, []byte("body"))
		if r != nil {
			t.Fatalf("key %d refused: %d %s", i, r.status, r.body)
		}
		s.finish(e, response{status: 202, body: emptyObject})
		now = now.Add(10 * time.Second)
	}
	_, r := s.begin("d", []byte("body"))
	if r == nil || r.status != 429 || r.retryAfter != 30 {
		t.Fatalf("a fourth key past the bound: %+v, want 429 with Retry-After 30 (when a expires)", r)
	}
	if _, r := s.begin("a", []byte("body")); r == nil || r.status != 202 {
		t.Fatalf("a known key must still answer when full: %+v", r)
	}
	now = now.Add(31 * time.Second)
	e, r := s.begin("d", []byte("body"))
	if r != nil {
		t.Fatalf("after a expired, d was refused: %d %s", r.status, r.body)
	}
	s.finish(e, response{status: 202, body: emptyObject})
	now = now.Add(10 * time.Second) // b expires
	if e, r := s.begin("a", []byte("body")); r != nil || e == nil {
		t.Fatalf("the expired a must be a new request: %+v", r)
	}
}

func TestIdempotencyServerErrorsAreNotKept(t *testing.T) {
	s := newIdempotencyStore(time.Minute, 1<<20, time.Now)
	e, _ := s.begin("k", []byte("b"))
	waiting := make(chan *idempotencyEntry)
	go func() {
		e2, r := s.begin("k", []byte("b")) // waits for the first, then runs
		if r != nil {
			t.Errorf("the retry after a 503 got the 503 again: %s", r.body)
		}
		waiting <- e2
	}()
	s.finish(e, response{status: 503, body: emptyObject})
	e2 := <-waiting
	s.finish(e2, response{status: 202, body: emptyObject})
	if _, r := s.begin("k", []byte("b")); r == nil || r.status != 202 {
		t.Errorf("after the retry succeeded: %+v", r)
	}
}

func TestIdempotencyStoreDoesNotGrowWithFailedRequests(t *testing.T) {
	s := newIdempotencyStore(time.Minute, 1<<20, time.Now)
	for i := range 10000 { // retries during an outage, each answered 503
		e, r := s.begin(fmt.Sprint("k", i), []byte("b"))
		if r != nil {
			t.Fatalf("key %d refused: %s", i, r.body)
		}
		s.finish(e, response{status: 503, body: emptyObject})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) > 200 || len(s.entries) != 0 || s.bytes != 0 {
		t.Errorf("after 10000 failed requests the store holds %d entries in order, %d keys, %d bytes", len(s.order), len(s.entries), s.bytes)
	}
}
