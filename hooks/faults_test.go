package hooks

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// hooksGoroutines lists the goroutines running code of this package.
func hooksGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		// A frame of the package's own code (not a test's, nor the
		// "created by" line of a goroutine the tests started).
		frames, _, _ := strings.Cut(g, "\ncreated by ")
		if strings.Contains(frames, "caddy-socketio/hooks.(*") && !strings.Contains(frames, "hooks_test.go") && !strings.Contains(frames, "faults_test.go") {
			out = append(out, g)
		}
	}
	return out
}

// waitNoHooksGoroutines fails unless every goroutine of the package ended
// (a bounded wait: a middleware goroutine of socketio may still be
// returning from a canceled connect hook).
func waitNoHooksGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := hooksGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of package hooks left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String() + "/socketio"
	ln.Close()
	return u
}

func TestBackendSlowDownGarbageOversizedAnswers(t *testing.T) {
	ts := startIO(t)
	be := startBackend(t, []string{"s"}, func(w http.ResponseWriter, r *http.Request, req *hookReq) {
		switch req.Event {
		case "slow": // never answers: the hook's timeout ends it
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case "fast":
			answer(w, map[string]any{"ack": []any{"fast"}})
		case "garbage":
			w.Write([]byte("not json{"))
		case "huge":
			answer(w, map[string]any{"ack": []any{strings.Repeat("x", 2000)}})
		case "shape":
			w.Write([]byte(`{"ack": 5}`))
		case "status":
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	})
	h := ts.attach(t, "/faults", &Config{
		Transport: http.DefaultTransport, URL: be.srv.URL + "/socketio", Events: []string{"*"},
		Timeout: time.Second, MaxAnswerBytes: 1000, Secrets: []string{"s"},
	})
	down := ts.attach(t, "/down", &Config{Transport: http.DefaultTransport, URL: closedURL(t), Connect: true, Secrets: []string{"s"}})
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=faults"),
		`seen [["fast",["fast"]],["slow",[{"error":{"code":"timeout","message":"the backend did not answer in time"}}]]]`,
		`garbage [{"error":{"code":"bad_answer","message":"the backend's answer is not valid"}}]`,
		`huge [{"error":{"code":"bad_answer","message":"the backend's answer is not valid"}}]`,
		`shape [{"error":{"code":"bad_answer","message":"the backend's answer is not valid"}}]`,
		`status [{"error":{"code":"unavailable","message":"the backend is unavailable"}}]`,
		`down {"message":"the backend is unavailable","data":{"code":"unavailable","retryable":true}}`,
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Every call ended as its client saw it; and every one was a request,
	// the slow one taking the whole timeout of 1 s.
	expectOutcomes(t, h, KindEvent, map[string]uint64{"ok": 1, "timeout": 1, "bad_answer": 3, "unavailable": 1})
	expectOutcomes(t, down, KindConnect, map[string]uint64{"unavailable": 1})
	ev := h.Stats().Snapshot().Hooks[KindEvent]
	upTo := func(bound float64) uint64 { return ev.LatencyCounts[slices.Index(LatencyBuckets[:], bound)] }
	if ev.Requests != 6 || upTo(1) != 5 || upTo(2.5) != 6 || ev.LatencySum < 1 {
		t.Errorf("event requests %d, %d within 1 s, %d within 2.5 s, %.3f s in all; want 6, 5, 6, at least 1 s",
			ev.Requests, upTo(1), upTo(2.5), ev.LatencySum)
	}
	if n := down.Stats().Snapshot().Hooks[KindConnect].Requests; n != 1 {
		t.Errorf("%d connect requests to the closed port, want 1", n)
	}
}

// Close ends every goroutine of the hooks, including those waiting on a
// backend that does not answer.
func TestCloseEndsEveryGoroutine(t *testing.T) {
	ts := startIO(t)
	held := make(chan struct{}, 64)
	be := startBackend(t, nil, func(w http.ResponseWriter, r *http.Request, req *hookReq) {
		held <- struct{}{}
		<-r.Context().Done()
	})
	h := ts.attach(t, "/chat", &Config{Transport: http.DefaultTransport, URL: be.srv.URL + "/socketio", Events: []string{"*"}, Notify: []string{"connect"}})
	done := make(chan struct{})
	go func() { // the clients wait on acks that Close answers with errors
		defer close(done)
		runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=many", "N=5")
	}()
	for i := 0; i < 6; i++ { // 5 events and a notification batch at the backend
		select {
		case <-held:
		case <-time.After(20 * time.Second):
			t.Fatalf("the backend saw %d requests, want 6", i)
		}
	}
	if len(hooksGoroutines()) == 0 {
		t.Fatal("no hooks goroutine while requests are in flight: the test checks nothing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); err == nil {
		t.Error("Close returned no error, though a notification was never delivered")
	}
	waitNoHooksGoroutines(t)
	<-done
}

func TestNotificationsBatchedWithIDsAndRetriedAfterA500(t *testing.T) {
	old := retryBase
	retryBase = 5 * time.Millisecond
	defer func() { retryBase = old }()

	ts := startIO(t)
	release := make(chan struct{})
	nsp := ts.io.Of("/chat")
	// Observed after the hooks' own observer, which queues first.
	app := &chatBackend{nsp: func() *socketio.Namespace { return nsp }}
	first := true
	be := startBackend(t, []string{"s"}, func(w http.ResponseWriter, r *http.Request, req *hookReq) {
		if strings.HasSuffix(req.path, "/notify") {
			if first {
				// Held until the client is gone, then failed: the
				// retry must resend these same ids, and everything
				// queued meanwhile comes in the next batch.
				first = false
				<-release
				http.Error(w, "try later", http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		app.handle(w, r, req)
	})
	h := ts.attach(t, "/chat", &Config{
		Transport: http.DefaultTransport, URL: be.srv.URL + "/socketio", Connect: true, Events: []string{"join", "leave"},
		Notify: []string{"connect", "disconnect", "join", "leave"}, Secrets: []string{"s"},
	})
	nsp.OnDisconnect(func(*socketio.Socket, string) { close(release) })
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=lifecycle"), `done true`)

	var batches []*hookReq
	waitFor(t, func() bool {
		batches = be.recorded("/socketio/notify")
		n := 0
		for _, b := range batches {
			n += len(b.Events)
		}
		return len(batches) >= 2 && n-len(batches[0].Events) == 4
	}, "every notification delivered")
	for _, b := range batches {
		t.Logf("batch %s", b.raw)
	}
	ids := func(b *hookReq) (out []string) {
		for _, e := range b.Events {
			out = append(out, e.ID)
		}
		return out
	}
	if !slices.Equal(ids(batches[0]), ids(batches[1])) {
		t.Errorf("the retry carries ids %v, want the failed batch's %v", ids(batches[1]), ids(batches[0]))
	}
	var seen []string
	unique := map[string]bool{}
	largest := 0
	for i, b := range batches {
		largest = max(largest, len(b.Events))
		if i == 1 {
			continue // the retry
		}
		for _, e := range b.Events {
			seen = append(seen, e.Type+" "+e.Room+e.Reason)
			unique[e.ID] = true
			if e.Namespace != "/chat" || e.Socket.ID == "" || e.Time == 0 {
				t.Errorf("notification without namespace, socket or time: %s", b.raw)
			}
		}
	}
	want := []string{"connect ", "join r", "leave r", "disconnect client namespace disconnect"}
	if !slices.Equal(seen, want) {
		t.Errorf("notifications %q, want %q", seen, want)
	}
	if len(unique) != len(want) {
		t.Errorf("%d distinct ids for %d notifications", len(unique), len(want))
	}
	if largest < 2 {
		t.Errorf("no batch of several notifications, though they queued while the backend held the first")
	}
	if !slices.Contains(batches[0].Events[0].Socket.Rooms, "lobby") {
		t.Errorf("the connect notification's socket is not in the rooms the connect hook gave: %s", batches[0].raw)
	}
	// Each attempt of a batch is a call: the 500, then every batch taken.
	waitFor(t, func() bool { return outcomes(h, KindNotify)["ok"] == uint64(len(batches)-1) }, "the last batch counted")
	expectOutcomes(t, h, KindNotify, map[string]uint64{"unavailable": 1, "ok": uint64(len(batches) - 1)})
	expectOutcomes(t, h, KindConnect, map[string]uint64{"ok": 1})
	expectOutcomes(t, h, KindEvent, map[string]uint64{"ok": 2})
}

// lingerForever keeps notifications queued until a flush sends them.
func lingerForever(t *testing.T) {
	old := notifyLinger
	notifyLinger = time.Hour
	t.Cleanup(func() { notifyLinger = old })
}

func TestNotificationsFlushedOnReconfigureAndOnClose(t *testing.T) {
	lingerForever(t)
	ts := startIO(t)
	nsp := ts.io.Of("/chat")
	app := &chatBackend{nsp: func() *socketio.Namespace { return nsp }}
	be := startBackend(t, nil, app.handle)
	be2 := startBackend(t, nil, app.handle)
	c := &Config{Transport: http.DefaultTransport, URL: be.srv.URL + "/socketio", Connect: true, Events: []string{"join", "leave"}, Notify: []string{"connect"}}
	h := ts.attach(t, "/chat", c)
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=lifecycle"), `done true`)
	// The new configuration's backend gets the next connect; the old
	// queue goes to the old one, now.
	c2 := *c
	c2.URL = be2.srv.URL + "/socketio"
	c2.Notify = []string{"disconnect"}
	h.SetConfig(&c2)
	waitFor(t, func() bool { return len(be.recorded("/socketio/notify")) == 1 }, "the old configuration's queue flushed")
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=lifecycle"), `done true`)
	if n := len(be2.recorded("/socketio/notify")); n != 0 {
		t.Fatalf("%d notify requests before Close, want them queued", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := be2.recorded("/socketio/notify")
	if len(got) != 1 || len(got[0].Events) != 1 || got[0].Events[0].Type != "disconnect" {
		t.Fatalf("after Close the new backend has %d notify requests, want one with the disconnect", len(got))
	}
	if n, m := len(be.recorded("/socketio/connect")), len(be2.recorded("/socketio/connect")); n != 1 || m != 1 {
		t.Errorf("connect hooks: %d at the old backend, %d at the new one; want 1 and 1", n, m)
	}
	if n := len(be.recorded("/socketio/notify")); n != 1 || len(be.recorded("/socketio/notify")[0].Events) != 1 {
		t.Errorf("the old backend got %d notify requests, want 1 with the first connect", n)
	}
}

func TestFullNotificationQueueDropsTheOldest(t *testing.T) {
	lingerForever(t)
	old := notifyQueueSize
	notifyQueueSize = 3
	defer func() { notifyQueueSize = old }()
	ts := startIO(t)
	nsp := ts.io.Of("/chat")
	app := &chatBackend{nsp: func() *socketio.Namespace { return nsp }}
	be := startBackend(t, nil, app.handle)
	h := ts.attach(t, "/chat", &Config{
		Transport: http.DefaultTransport, URL: be.srv.URL + "/socketio", Connect: true, Events: []string{"join", "leave"},
		Notify: []string{"connect", "disconnect", "join", "leave"},
	})
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=lifecycle"), `done true`)
	waitFor(t, func() bool { return h.DroppedNotifications() == 1 }, "one notification dropped")
	if n := h.Stats().Snapshot().DroppedNotifications; n != 1 {
		t.Errorf("Stats: %d notifications dropped, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, b := range be.recorded("/socketio/notify") {
		for _, e := range b.Events {
			types = append(types, e.Type)
		}
	}
	if !slices.Equal(types, []string{"join", "leave", "disconnect"}) {
		t.Errorf("delivered %v, want the 3 newest of connect, join, leave, disconnect", types)
	}
}

// waitFor waits, boundedly, for cond.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A socket whose events pile up behind a slow backend gets queue_full at
// once for the excess, and its queued events are still sent, in order.
func TestSocketQueueFullFailsTheExcessAtOnce(t *testing.T) {
	old := maxQueuedEvents
	maxQueuedEvents = 5
	defer func() { maxQueuedEvents = old }()
	ts := startIO(t)
	nsp := ts.io.Of("/chat")
	app := &chatBackend{nsp: func() *socketio.Namespace { return nsp }}
	release := make(chan struct{})
	be := startBackend(t, nil, func(w http.ResponseWriter, r *http.Request, req *hookReq) {
		if req.Event == "seq" && string(req.Args[0]) == "0" {
			<-release // the backend is stuck on the first event
		}
		app.handle(w, r, req)
	})
	h := ts.attach(t, "/chat", &Config{Transport: http.DefaultTransport, URL: be.srv.URL + "/socketio", Connect: true, Events: []string{"seq*"}})
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=order"),
		`order [{"error":{"code":"queue_full","message":"too many events waiting for the backend"}}]`)
	close(release)
	// 31 events (seq 0 to 29, seq-done), each either sent or refused. How
	// many were sent depends on when the queue's goroutine took seq 0 off
	// the queue: before seq 5 arrived (seq 0 in flight and 5 queued: 6
	// sent), or only once all 31 had been read (seq 0 to 4: 5 sent, which a
	// loaded machine gives now and then).
	decided := func() uint64 { o := outcomes(h, KindEvent); return o["ok"] + o["queue_full"] }
	waitFor(t, func() bool { return decided() == 31 }, "every event sent or refused")
	sent := outcomes(h, KindEvent)["ok"]
	if sent != 5 && sent != 6 {
		t.Errorf("%d events answered by the backend, want 5 or 6 (seq 0, then the 4 or 5 the queue held): outcomes %v", sent, outcomes(h, KindEvent))
	}
	expectOutcomes(t, h, KindEvent, map[string]uint64{"ok": sent, "queue_full": 31 - sent})
	var got []string
	for _, r := range be.recorded("/socketio/event") {
		got = append(got, string(r.Args[0]))
	}
	if uint64(len(got)) != sent {
		t.Errorf("the backend got %d event requests (seq %v), want the %d answered (queue_full sends none)", len(got), got, sent)
	}
	if n := h.Stats().Snapshot().Hooks[KindEvent].Requests; n != sent {
		t.Errorf("%d event requests counted, want %d", n, sent)
	}
	// seq 0 goes first and the others follow in the order they were sent.
	increasing := len(got) > 0 && got[0] == "0"
	for i := 1; i < len(got); i++ {
		prev, _ := strconv.Atoi(got[i-1])
		next, _ := strconv.Atoi(got[i])
		increasing = increasing && next > prev
	}
	if !increasing {
		t.Errorf("the backend got seq %v, want 0 (in flight) and then the queued ones in the order they were sent", got)
	}
}

// Past max_concurrent requests in flight for the whole timeout, a call
// fails with "overloaded" without reaching the backend.
func TestNoFreeRequestSlotWithinTheTimeoutIsOverloaded(t *testing.T) {
	be := startBackend(t, nil, func(w http.ResponseWriter, r *http.Request, req *hookReq) { answer(w, map[string]any{}) })
	srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{})
	h := Attach(srv.Of("/x"))
	defer h.Close(context.Background())
	r := h.compile(&Config{Transport: http.DefaultTransport, URL: be.srv.URL, MaxConcurrent: 2, Timeout: 50 * time.Millisecond})
	if _, herr := r.call(KindEvent, []byte(`{}`), nil); herr != nil {
		t.Fatalf("a call with free slots: %v", herr)
	}
	r.slots <- struct{}{} // two requests in flight elsewhere
	r.slots <- struct{}{}
	if _, herr := r.call(KindEvent, []byte(`{}`), nil); herr == nil || herr.Code != CodeOverloaded {
		t.Fatalf("a call with no free slot: %v, want code overloaded", herr)
	}
	if n := len(be.recorded("/event")); n != 1 {
		t.Errorf("the backend got %d requests, want only the first", n)
	}
}

// Failures are logged with their cause, never with a secret.
func TestLogsNeverCarrySecrets(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	ts := startIO(t)
	ts.attach(t, "/down", &Config{
		Transport: http.DefaultTransport, URL: closedURL(t), Connect: true,
		Secrets: []string{"hunter2-secret"}, Logger: zap.New(core),
	})
	expectLines(t, runScript(t, "v4.js", "URL="+ts.URL, "SCENARIO=refuse-down"),
		`down {"message":"the backend is unavailable","data":{"code":"unavailable","retryable":true}}`)
	if logs.Len() == 0 {
		t.Fatal("the refused connection was not logged")
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		if strings.Contains(line, "hunter2") {
			t.Errorf("a log line carries the secret: %s", line)
		}
		if !strings.Contains(line, "connection refused") {
			t.Errorf("a log line without the cause: %s", line)
		}
	}
}
