package engine

import (
	"bytes"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Volatile sends follow engine.io's transport.writable: a polling client
// gets one only through a GET that is already waiting, a WebSocket client
// only when nothing is queued or being written.

func TestVolatileSendWithoutAWaitingGetIsDropped(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	s := <-ws.session
	if s.SendVolatile(Message{Data: []byte("dropped")}) {
		t.Fatal("SendVolatile queued a message while no GET was waiting")
	}
	if err := s.Send(Message{Data: []byte("regular")}); err != nil {
		t.Fatal(err)
	}
	if s.SendPreparedVolatile(NewPreparedMessage(Message{Data: []byte("dropped too")})) {
		t.Fatal("SendPreparedVolatile queued a message behind a queued one")
	}
	res := ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid="+sid), "", "")
	if res.body != "4regular" {
		t.Fatalf("GET got %q, want the regular message only", res.body)
	}
}

func TestVolatileSendRidesTheWaitingGet(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	s := <-ws.session
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)

	got := ws.parkGet(t, sid)
	// A text part and its binary attachment go together, or not at all.
	if !s.SendVolatile(Message{Data: []byte("a")}, Message{Data: []byte{1, 2}, Binary: true}) {
		t.Fatal("SendVolatile dropped a message while a GET was waiting")
	}
	// The GET is taken: the transport is not writable until the next one.
	if s.SendVolatile(Message{Data: []byte("b")}) {
		t.Fatal("SendVolatile queued a second message on a GET already answered")
	}
	if res := <-got; res.body != "4a\x1ebAQI=" {
		t.Fatalf("first GET got %q", res.body)
	}
	if err := s.Send(Message{Data: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if res := ws.do(t, "GET", poll, "", ""); res.body != "4c" {
		t.Fatalf("second GET got %q, want only the regular message", res.body)
	}

	// Prepared (broadcast) messages follow the same rule.
	got = ws.parkGet(t, sid)
	if !s.SendPreparedVolatile(NewPreparedMessage(Message{Data: []byte("d")})) {
		t.Fatal("SendPreparedVolatile dropped a message while a GET was waiting")
	}
	if err := s.Send(Message{Data: []byte("e")}); err != nil {
		t.Fatal(err)
	}
	// "e" may ride the same GET or the next one; it is never before "d".
	res := <-got
	if res.body != "4d" && res.body != "4d\x1e4e" {
		t.Fatalf("third GET got %q", res.body)
	}
	if res.body == "4d" {
		if res := ws.do(t, "GET", poll, "", ""); res.body != "4e" {
			t.Fatalf("fourth GET got %q", res.body)
		}
	}
}

func TestVolatileSendOnAClosedSessionIsDropped(t *testing.T) {
	ws := newWireServer(t, Options{})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	s := <-ws.session
	s.Close()
	if s.SendVolatile(Message{Data: []byte("late")}) {
		t.Fatal("SendVolatile queued a message on a closing session")
	}
	if r := ws.reason(t); r != "forced close" {
		t.Fatalf("reason %q", r)
	}
}

func TestVolatileSendOnWebSocketWaitsForNothing(t *testing.T) {
	// A big message the client does not read keeps a write under way:
	// loopback socket buffers hold a few MB at most.
	const size = 16 << 20
	ws := newWireServer(t, Options{MaxPayload: 2 << 20})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	s := <-ws.session

	waitWritable := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !s.SendVolatile(Message{Data: []byte("idle")}) {
			if time.Now().After(deadline) {
				t.Fatal("an idle WebSocket never became writable")
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitWritable()
	if _, data, err := conn.ReadMessage(); err != nil || string(data) != "4idle" {
		t.Fatalf("idle volatile message: %q %v", data, err)
	}

	big := bytes.Repeat([]byte("x"), size)
	if err := s.Send(Message{Data: big}); err != nil {
		t.Fatal(err)
	}
	if s.SendVolatile(Message{Data: []byte("dropped")}) {
		t.Fatal("SendVolatile queued a message while a write was under way")
	}
	if err := s.Send(Message{Data: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if s.SendPreparedVolatile(NewPreparedMessage(Message{Data: []byte("dropped too")})) {
		t.Fatal("SendPreparedVolatile queued a message behind a queued one")
	}

	kind, data, err := conn.ReadMessage()
	if err != nil || kind != websocket.TextMessage || len(data) != size+1 || data[0] != '4' {
		t.Fatalf("big message: kind %d, %d bytes, %v", kind, len(data), err)
	}
	if _, data, err := conn.ReadMessage(); err != nil || string(data) != "4after" {
		t.Fatalf("after the big message: %q %v", data, err)
	}
	waitWritable()
	if _, data, err := conn.ReadMessage(); err != nil || string(data) != "4idle" {
		t.Fatalf("volatile message once idle again: %q %v", data, err)
	}
}
