package engine

import (
	"net/http"
	"testing"
	"time"
)

func TestPollDeadlineEndsALongPollWithANoopAndTheSessionLives(t *testing.T) {
	// As a Caddy server with a 300 ms write ceiling would: every request may
	// take at most 300 ms, so a long-poll must end before that.
	withDeadline := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(WithPollDeadline(r.Context(), time.Now().Add(300*time.Millisecond))))
		})
	}
	ws := newWireServer(t, Options{PingInterval: time.Minute}, withDeadline)
	sid := ws.open(t)

	if res := ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid="+sid), "", ""); res.status != 200 || res.body != "6" {
		t.Fatalf("long-poll past its deadline: got %d %q, want 200 \"6\" (noop)", res.status, res.body)
	}
	// The session is intact: what is posted now comes back on the next poll.
	if res := ws.do(t, "POST", ws.url("EIO=4&transport=polling&sid="+sid), "text/plain;charset=UTF-8", "4hello"); res.status != 200 || res.body != "ok" {
		t.Fatalf("POST after the noop: %d %q", res.status, res.body)
	}
	if res := ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid="+sid), "", ""); res.status != 200 || res.body != "4hello" {
		t.Fatalf("poll after the noop: got %d %q, want the echo \"4hello\"", res.status, res.body)
	}
}
