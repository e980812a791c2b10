package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startHookBackend runs the hooks phase's backend in the test's process on
// a free loopback port until the test ends, and returns it with its URL.
func startHookBackend(t *testing.T, connectDelay time.Duration, secret string) (*hookBackend, string) {
	t.Helper()
	b := &hookBackend{prefix: "/socketio", connectDelay: connectDelay, secret: []byte(secret)}
	srv, addr, err := b.listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return b, "http://" + addr.String()
}

// TestHookPhaseRunsAgainstTheNodeReference is the smoke run of the hooks
// phase of bench/compare.sh at tiny sizes: the Node reference with its
// hooks on (the acked event answered by the backend, a connect hook before
// each socket, at most 4 hook calls in flight), the echo through the event
// hook, then a storm through the connect hook.
func TestHookPhaseRunsAgainstTheNodeReference(t *testing.T) {
	const secret = "bench-secret"
	backend, backendURL := startHookBackend(t, 20*time.Millisecond, secret)
	url, pid := startNodeReference(t, "HOOK_URL="+backendURL+"/socketio", "HOOK_EVENTS=echo", "HOOK_CONNECT=1",
		"HOOK_SECRET="+secret, "HOOK_MAX_CONCURRENT=4")
	common := []string{"-url", url, "-pid", fmt.Sprint(pid), "-label", "node", "-hook-backend", backendURL}

	t.Run("acked event through the event hook", func(t *testing.T) {
		r, line := smokeRun(t, append(common, "-scenario", "echo", "-variant", "hook", "-c", "5", "-d", "1s"))
		if r.Variant != "hook" || r.Hook == nil {
			t.Fatalf("want the variant hook with the backend's figures: %s", line)
		}
		// The backend counts from its reset at the window's start; an ack
		// in flight at the end may be answered after the last count.
		if r.Hook.Events < r.Ops || r.Hook.Events > r.Ops+5 {
			t.Fatalf("the backend answered %d events for %d acks: the acks did not all come from the hook: %s", r.Hook.Events, r.Ops, line)
		}
		// Both servers keep their connections to the backend alive.
		if r.Hook.Connections > 5 {
			t.Fatalf("%d connections opened to the backend for %d events: no keep-alive: %s", r.Hook.Connections, r.Hook.Events, line)
		}
		if r.Hook.EventBodyBytes < 300 {
			t.Fatalf("event bodies of %.0f bytes: not the contract's envelope: %s", r.Hook.EventBodyBytes, line)
		}
	})

	t.Run("storm through the connect hook", func(t *testing.T) {
		r, line := smokeRun(t, append(common, "-scenario", "storm", "-n", "100", "-storm-deadline", "15s"))
		if r.Up != 100 || r.Hook == nil || r.Hook.Connects < 100 {
			t.Fatalf("want 100 clients up, each asked about by a connect hook: %s", line)
		}
		if r.Hook.MaxConcurrent < 1 || r.Hook.MaxConcurrent > 4 {
			t.Fatalf("the backend saw %d connect hooks at once; HOOK_MAX_CONCURRENT is 4: %s", r.Hook.MaxConcurrent, line)
		}
		// 100 hooks of 20 ms, 4 at a time, cannot take less than 0.5 s.
		if r.Seconds < 0.5 {
			t.Fatalf("all connected in %.2fs: the connect hook did not hold them: %s", r.Seconds, line)
		}
	})

	if st := backend.stats(); st.BadSignatures != 0 {
		t.Fatalf("%d requests had a bad signature", st.BadSignatures)
	}
}

// TestHookBackendRefusesABadSignature: a server that does not sign, or
// signs with another secret, is caught, so a run cannot compare a server
// that skips the HMAC with one that does it.
func TestHookBackendRefusesABadSignature(t *testing.T) {
	backend, url := startHookBackend(t, 0, "right")
	for _, sig := range []string{"", "t=1,v1=00", fmt.Sprintf("t=%d,v1=%s", time.Now().Unix(), strings.Repeat("ab", 32))} {
		req, _ := http.NewRequest(http.MethodPost, url+"/socketio/event", strings.NewReader(`{"args":[1]}`))
		req.Header.Set("Socketio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("signature %q: %s, want 401", sig, resp.Status)
		}
	}
	if st := backend.stats(); st.BadSignatures != 3 || st.Events != 0 {
		t.Fatalf("want 3 bad signatures and no event answered: %+v", st)
	}
}
