package handover

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// accept returns the next connection l's Accept gives, or nil after d.
func accept(t *testing.T, l *Listener, d time.Duration) net.Conn {
	t.Helper()
	got := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(got)
			return
		}
		got <- c
	}()
	select {
	case c := <-got:
		return c
	case <-time.After(d):
		return nil
	}
}

// Two listeners of one address, as during a reload: a connection that
// reaches the older one's socket is served by the newer.
func TestConnectionsGoToTheNewestListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	old := Wrap(ln)
	newer := Wrap(sharedSocket{ln}) // the same socket: both accept loops take from it
	defer newer.Close()
	defer old.Close()

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := accept(t, newer, 5*time.Second)
	if c == nil {
		t.Fatal("the newest listener got no connection")
	}
	c.Close()
	if c := accept(t, old, 50*time.Millisecond); c != nil {
		t.Fatal("the older listener's Accept returned a connection while a newer one is open")
	}
}

// net/http closes, without an answer, a request it reads after Shutdown
// began; the connection then goes to the newest listener with its request
// replayed, and the client gets its answer from there.
func TestARequestDroppedByAShuttingDownServerIsServedByTheNewest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	old := Wrap(ln)
	newer := Wrap(sharedSocket{ln})
	defer newer.Close()

	// The old server accepted the connection before the newer listener
	// existed; here it is handed the connection the way its Accept would.
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	raw := accept(t, newer, 5*time.Second).(*replayConn)
	dropped := &replayConn{Conn: raw.Conn, from: old}
	if _, err := io.WriteString(client, "GET /poll HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := http.ReadRequest(bufio.NewReader(dropped)); err != nil {
		t.Fatal(err)
	}
	old.Close()     // its Shutdown began...
	dropped.Close() // ...so it closes the connection without a word

	served := make(chan error, 1)
	go func() {
		c := accept(t, newer, 5*time.Second)
		if c == nil {
			served <- io.ErrUnexpectedEOF
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err == nil && req.URL.Path != "/poll" {
			err = io.ErrUnexpectedEOF
		}
		if err == nil {
			_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
		c.Close()
		served <- err
	}()
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(client), nil)
	if err != nil {
		t.Fatalf("the client got no answer: %v", err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if err := <-served; err != nil {
		t.Fatalf("the newest listener's server: %v", err)
	}
}

// sharedSocket is a second listener on the same socket, whose Close does
// not close it (as two SO_REUSEPORT sockets of one address would be).
type sharedSocket struct{ net.Listener }

func (sharedSocket) Close() error { return nil }

// A WebSocket accepted through a wrapped listener costs what one accepted
// from the bare socket costs: once idle, the engine's poller reads it and
// it holds no goroutine (the wrapper steps aside when the connection is
// hijacked), and it still answers.
func TestIdleWebSocketsThroughTheWrapperHoldNoGoroutine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := Wrap(ln)
	srv := engine.NewServer(engine.Options{})
	srv.OnConnection(func(s *engine.Session) { s.OnMessage(func(m engine.Message) { s.Send(m) }) })
	hs := &http.Server{Handler: srv}
	go hs.Serve(wrapped)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	const sessions = 40
	before := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, sessions)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, open, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
			t.Fatalf("open packet %q, %v", open, err)
		}
		conns[i] = c
	}
	var held int
	for range 300 { // a reader hands its connection to the poller after 250 ms idle
		if held = runtime.NumGoroutine() - before; held < sessions/4 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if held >= sessions/4 {
		t.Fatalf("%d idle WebSocket sessions accepted through the wrapper hold %d goroutines", sessions, held)
	}
	for i, c := range conns {
		msg := fmt.Sprintf("4hello %d", i)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("echo %q, %v; want %q", got, err, msg)
		}
	}
}
