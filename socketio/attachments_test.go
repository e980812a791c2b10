package socketio

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// joinRaw dials a raw client and joins "/", reading setupApp's welcome.
func joinRaw(t *testing.T, ts *testServer) *rawClient {
	t.Helper()
	c := dialRaw(t, ts)
	c.send("40")
	if got := c.read(); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("CONNECT answered with %q", got)
	}
	c.read() // welcome
	c.read() // its attachment
	return c
}

func placeholders(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(`,{"_placeholder":true,"num":`)
		b.WriteString(string(rune('0' + i)))
		b.WriteString("}")
	}
	return b.String()
}

// Each message is within max_payload, the packet is not: a client
// announcing 10 attachments of 200 kB is closed once it has sent more than
// max_payload (1 MB by default), not held until its last attachment.
func TestABinaryPacketMayHoldNoMoreThanMaxPayload(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	ts := startServerWith(t, "", engine.Options{}, Options{Logger: zap.New(core)}, setupApp)
	good, bad := joinRaw(t, ts), joinRaw(t, ts)
	bad.send(`4510-["echo"` + placeholders(10) + `]`)
	chunk := bytes.Repeat([]byte{7}, 200_000)
	for range 5 { // 1,000,000 bytes of attachments, plus the text part
		if err := bad.conn.WriteMessage(websocket.BinaryMessage, chunk); err != nil {
			break // closed already
		}
	}
	if !bad.closed() {
		t.Fatal("the client holding more than max_payload in one packet stayed open")
	}
	good.send(`42["echo","still here"]`)
	if got := good.read(); got != `42["echo-back","still here"]` {
		t.Errorf("the other client got %q", got)
	}
	entries := logs.FilterMessageSnippet("closing a client connection").All()
	if len(entries) != 1 || !strings.Contains(entries[0].ContextMap()["error"].(string), "binary packet too large: 1000312 bytes after 5 of its attachments, more than the 1000000 bytes a packet may hold (max_payload)") {
		t.Fatalf("logged %v, want the size, the count and the limit", logs.All())
	}
}

// fakeTimers replaces the server's attachment deadlines with ones the test
// fires.
type fakeTimers struct {
	armed chan fakeTimer
}

type fakeTimer struct {
	d    time.Duration
	fire func()
}

func (f *fakeTimers) install(ts *testServer) {
	f.armed = make(chan fakeTimer, 16)
	ts.io.startTimer = func(d time.Duration, fire func()) func() bool {
		f.armed <- fakeTimer{d, fire}
		return func() bool { return true }
	}
}

func (f *fakeTimers) next(t *testing.T) fakeTimer {
	t.Helper()
	select {
	case tm := <-f.armed:
		return tm
	case <-time.After(5 * time.Second):
		t.Fatal("no attachment deadline was armed")
		return fakeTimer{}
	}
}

// A binary packet whose attachments do not all come is dropped, with its
// client, once the attachment timeout passes; a packet that completed in
// time is not affected by its deadline.
func TestAnIncompleteBinaryPacketClosesItsClientAtTheDeadline(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	var timers fakeTimers
	ts := startServerWith(t, "", engine.Options{}, Options{Logger: zap.New(core)}, func(ts *testServer) {
		setupApp(ts)
		timers.install(ts)
	})
	good, bad := joinRaw(t, ts), joinRaw(t, ts)

	// A complete packet: its deadline, fired late, changes nothing.
	good.send(`451-["echo"` + placeholders(1) + `]`)
	done := timers.next(t)
	if err := good.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if got := good.read(); got != `451-["echo-back",{"_placeholder":true,"num":0}]` {
		t.Fatalf("echo of a complete binary packet: %q", got)
	}
	good.read() // its attachment
	done.fire()

	bad.send(`452-["echo"` + placeholders(2) + `]`)
	overdue := timers.next(t)
	if overdue.d != 30*time.Second {
		t.Errorf("attachment timeout %v, want the default 30s", overdue.d)
	}
	if err := bad.conn.WriteMessage(websocket.BinaryMessage, []byte{1}); err != nil {
		t.Fatal(err)
	}
	overdue.fire()
	if !bad.closed() {
		t.Fatal("the client whose binary packet stayed incomplete past the deadline is still open")
	}
	good.send(`42["echo","still here"]`)
	if got := good.read(); got != `42["echo-back","still here"]` {
		t.Errorf("the client whose packet completed got %q", got)
	}
	entries := logs.FilterMessageSnippet("did not get its attachments in time").All()
	if len(entries) != 1 || entries[0].ContextMap()["announced"] != int64(2) {
		t.Fatalf("logged %v, want one line with the announced count", entries)
	}
}
