package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// maskedTextFrame is a client text frame of fewer than 126 bytes with a
// zero mask key, so the payload travels as is.
func maskedTextFrame(payload string) []byte {
	b := []byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}
	return append(b, payload...)
}

// readEchoes reads n echoed "4<i>" messages, in order.
func readEchoes(t *testing.T, conn *websocket.Conn, want []string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, w := range want {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %q: %v", w, err)
		}
		if string(data) != w {
			t.Fatalf("echo %q, want %q", data, w)
		}
	}
}

func TestIdleWebSocketsHoldNoGoroutine(t *testing.T) {
	if thePoller() == nil {
		t.Skip("no epoll on this platform: every WebSocket has a reader goroutine by design")
	}
	checkLeaks(t)
	srv := NewServer(Options{})
	srv.OnConnection(func(s *Session) { s.OnMessage(func(m Message) { s.Send(m) }) })
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	ws := &wireServer{http: hs}
	const sessions = 40
	before := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, sessions)
	for i := range conns {
		conns[i] = dialOpen(t, ws, "EIO=4&transport=websocket")
		defer conns[i].Close()
	}
	// The client side of each connection has goroutines of its own only
	// while reading; none is reading now.
	// A reader hands its connection to the poller after idleHandoff.
	var held int
	for range 300 {
		held = runtime.NumGoroutine() - before
		if held < sessions/4 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if held >= sessions/4 {
		t.Fatalf("%d idle WebSocket sessions hold %d goroutines", sessions, held)
	}
	// Every one of them still reads.
	for i, c := range conns {
		msg := fmt.Sprintf("4hello %d", i)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		readEchoes(t, c, []string{msg})
	}
}

func TestFramesInOneSegmentAndBeforeTheUpgradeAnswerAreAllRead(t *testing.T) {
	ws := newWireServer(t, Options{})
	addr := strings.TrimPrefix(ws.http.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The upgrade request and three frames in one write: the frames reach
	// the server before it answered the upgrade.
	req := "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	batch := []byte(req)
	for _, m := range []string{"4one", "4two", "4three"} {
		batch = append(batch, maskedTextFrame(m)...)
	}
	if _, err := c.Write(batch); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var frames []string
	readFrame := func() string {
		t.Helper()
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(r, hdr); err != nil {
			t.Fatalf("after %q: %v", frames, err)
		}
		n := int(hdr[1] & 0x7f)
		if n >= 126 {
			t.Fatalf("unexpected long frame header %x", hdr)
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatal(err)
		}
		return string(p)
	}
	status, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		t.Fatalf("status line %q, %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	if open := readFrame(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("first frame %q, want the open packet", open)
	}
	for range 3 {
		frames = append(frames, readFrame())
	}
	if got := strings.Join(frames, ","); got != "4one,4two,4three" {
		t.Fatalf("echoes %s", got)
	}
	// Then a frame split over two writes, the second one late.
	f := maskedTextFrame("4split")
	c.Write(f[:4])
	time.Sleep(50 * time.Millisecond)
	c.Write(f[4:])
	if got := readFrame(); got != "4split" {
		t.Fatalf("echo %q", got)
	}
}

func TestWebSocketOverTLSReadsRecordsBufferedAhead(t *testing.T) {
	ws := newWireServer(t, Options{})
	tlsServer := httptest.NewUnstartedServer(ws.srv)
	tlsServer.StartTLS()
	defer tlsServer.Close()
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	conn, _, err := dialer.Dial("wss"+strings.TrimPrefix(tlsServer.URL, "https")+"/engine.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, data, err := conn.ReadMessage(); err != nil || data[0] != '0' {
		t.Fatalf("open packet %q, %v", data, err)
	}
	// Many small messages written back to back: each is its own TLS
	// record, and the server reads several records at a time.
	var want []string
	for i := range 300 {
		msg := fmt.Sprintf("4m%d%s", i, strings.Repeat("x", i%700))
		want = append(want, msg)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	readEchoes(t, conn, want)
	// And the connection still reads after going idle.
	time.Sleep(50 * time.Millisecond)
	conn.WriteMessage(websocket.TextMessage, []byte("4late"))
	readEchoes(t, conn, []string{"4late"})
}

// A client that sends "5" right behind "2probe", without waiting for
// "3probe", while its GET is parked: the GET is answered after the
// upgrade, as any polling request of an upgraded session (400).
func TestGetRacingAnEagerUpgradeIsRefused(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	got := ws.parkGet(t, sid)

	addr := strings.TrimPrefix(ws.http.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET /engine.io/?EIO=4&transport=websocket&sid=" + sid + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	batch := append([]byte(req), maskedTextFrame("2probe")...)
	batch = append(batch, maskedTextFrame("5")...)
	if _, err := c.Write(batch); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-got:
		if res.status != 400 {
			t.Fatalf("the parked GET got %d %q, want 400", res.status, res.body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the parked GET was not answered")
	}
	if tr := ws.srv.lookup(sid).Transport(); tr != "websocket" {
		t.Fatalf("transport %q after the upgrade", tr)
	}
}

// An idle WebSocket's heartbeats are read by the poller and its pings
// written by the heartbeat list (no goroutine of the session's own); a
// client sees them as from any server: a ping per interval, its session
// alive as long as it answers, and a message that comes in the same
// segment as a pong delivered as well.
func TestIdleHeartbeatsAndWhatComesWithThem(t *testing.T) {
	for _, protocol := range []string{"4", "3"} {
		t.Run("v"+protocol, func(t *testing.T) {
			ws := newWireServer(t, Options{AllowEIO3: true, PingInterval: 60 * time.Millisecond, PingTimeout: 2 * time.Second})
			conn := dialOpen(t, ws, "EIO="+protocol+"&transport=websocket")
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			// heartbeat: protocol 4 answers the server's ping; protocol 3
			// pings and reads the pong.
			heartbeat := func(with string) {
				t.Helper()
				// A mask key that changes the byte, as a browser's does.
				frames := []byte{0x81, 0x81, 0x5a, 1, 2, 3, '3' ^ 0x5a}
				if protocol == "3" {
					frames[6] = '2' ^ 0x5a
				} else if _, data, err := conn.ReadMessage(); err != nil || string(data) != "2" {
					t.Fatalf("waiting for a ping: %q, %v (%s)", data, err, closeReason(ws))
				}
				if with != "" {
					frames = append(frames, maskedTextFrame(with)...)
				}
				// One write: the heartbeat and what comes with it reach the
				// server in one segment.
				if _, err := conn.NetConn().Write(frames); err != nil {
					t.Fatal(err)
				}
				if protocol == "3" {
					if _, data, err := conn.ReadMessage(); err != nil || string(data) != "3" {
						t.Fatalf("waiting for the pong: %q, %v", data, err)
					}
				}
			}
			// Ten heartbeats, each after the reader handed the
			// connection over (the timeout is roomy for a loaded
			// machine; heartbeat_test.go has the timeouts).
			for range 10 {
				time.Sleep(idleHandoff / 4) // a heartbeat packet hands over at once
				heartbeat("")
			}
			heartbeat("4with the heartbeat")
			readEchoes(t, conn, []string{"4with the heartbeat"})
			heartbeat("")
			select {
			case r := <-ws.reasons:
				t.Fatalf("session closed: %s", r)
			default:
			}
		})
	}
}

// closeReason is why the server closed the session, if it did.
func closeReason(ws *wireServer) string {
	select {
	case r := <-ws.reasons:
		return "closed by the server: " + r
	case <-time.After(time.Second):
		return "the server has not closed the session"
	}
}

// idleAfter waits until the session's reader has handed its WebSocket to
// the poller more than seen times, checks that it gave its read buffer
// back first, and returns the count.
func idleAfter(t *testing.T, s *Session, seen uint32) uint32 {
	t.Helper()
	s.mu.Lock()
	bc := &s.ws.batchConn
	s.mu.Unlock()
	for range 1000 {
		// Read under bc.mu: the next reader starts after the poller's
		// callback took it (see awaitInput).
		bc.mu.Lock()
		n := bc.handoffs
		var parked bool
		if n > seen {
			// Parked before the hand-off, and no reader since: no
			// input was sent.
			parked = bc.rbuf == nil
		}
		bc.mu.Unlock()
		if n > seen {
			if !parked {
				t.Fatal("idle with its read buffer")
			}
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the WebSocket did not go idle")
	return 0
}

// A WebSocket that went idle holds no read buffer; what comes next is
// read as on any connection: a message much larger than the buffers, a
// WebSocket ping (the server answers it), messages again, and a close frame,
// which ends the session as the client closing it does.
func TestIdleWebSocketWithItsBufferGivenBackReadsWhatComes(t *testing.T) {
	if thePoller() == nil {
		t.Skip("no epoll on this platform: every WebSocket has a reader goroutine by design")
	}
	ws := newWireServer(t, Options{})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	s := <-ws.session
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))

	idle := idleAfter(t, s, 0)
	large := "4" + strings.Repeat("0123456789abcdef", 64<<10/16) // 64 KiB
	if err := conn.WriteMessage(websocket.TextMessage, []byte(large)); err != nil {
		t.Fatal(err)
	}
	readEchoes(t, conn, []string{large})

	idle = idleAfter(t, s, idle)
	pong := make(chan string, 1)
	conn.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := conn.WriteControl(websocket.PingMessage, []byte("idle?"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// The pong arrives while the client reads: the echo after it.
	if err := conn.WriteMessage(websocket.TextMessage, []byte("4after the ping")); err != nil {
		t.Fatal(err)
	}
	readEchoes(t, conn, []string{"4after the ping"})
	select {
	case got := <-pong:
		if got != "idle?" {
			t.Fatalf("pong %q, want the ping's payload", got)
		}
	default:
		t.Fatal("no pong to the WebSocket ping")
	}

	idleAfter(t, s, idle)
	if err := conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ws.reasons:
		if r != "transport close" {
			t.Fatalf("closed with %q, want transport close", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end on the client's close frame")
	}
	// The server answers the close frame before the connection closes.
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after the close frame: %v, want the server's close frame", err)
	}
}

// Lone heartbeats of an idle WebSocket are read by the poller: no reader
// starts for them, so the reader's hand-overs do not grow. (The reader's
// linger deadline, once left set at the hand-over, failed the poller's read
// of every pong that came after it: each heartbeat started a reader.)
func TestIdleHeartbeatsStartNoReader(t *testing.T) {
	if thePoller() == nil {
		t.Skip("no epoll on this platform: every WebSocket has a reader goroutine by design")
	}
	// A ping interval longer than the linger, as every real one is.
	ws := newWireServer(t, Options{PingInterval: 2 * idleHandoff, PingTimeout: 5 * time.Second})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	s := <-ws.session
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))

	idle := idleAfter(t, s, 0)
	for i := range 5 {
		if _, data, err := conn.ReadMessage(); err != nil || string(data) != "2" {
			t.Fatalf("waiting for ping %d: %q, %v (%s)", i, data, err, closeReason(ws))
		}
		if i == 4 {
			break // the fifth ping: the four pongs before it were taken
		}
		if err := conn.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	bc := &s.ws.batchConn
	s.mu.Unlock()
	bc.mu.Lock()
	handoffs := bc.handoffs
	bc.mu.Unlock()
	if handoffs != idle {
		t.Errorf("the connection was handed to the poller %d times more for 4 lone pongs: a reader started for them", handoffs-idle)
	}
}
