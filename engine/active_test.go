package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// activeServer records, per session, the order of OnActive and messages;
// its OnActive sends "hello" as socketio's implicit connect sends "40".
type activeServer struct {
	*wireServer
	mu     sync.Mutex
	events map[string][]string
}

func newActiveServer(t *testing.T) *activeServer {
	checkLeaks(t)
	as := &activeServer{events: map[string][]string{}}
	srv := NewServer(Options{})
	record := func(s *Session, e string) {
		as.mu.Lock()
		as.events[s.ID()] = append(as.events[s.ID()], e)
		as.mu.Unlock()
	}
	srv.OnConnection(func(s *Session) {
		s.OnActive(func() {
			time.Sleep(20 * time.Millisecond) // a message racing it must still wait
			record(s, "active")
			s.Send(Message{Data: []byte("hello")})
		})
		s.OnMessage(func(m Message) { record(s, "message "+string(m.Data)) })
	})
	hs := httptest.NewServer(srv)
	client := &http.Transport{}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
		client.CloseIdleConnections()
	})
	as.wireServer = &wireServer{srv: srv, http: hs, client: client}
	return as
}

func (as *activeServer) seen(sid string) string {
	as.mu.Lock()
	defer as.mu.Unlock()
	return strings.Join(as.events[sid], ", ")
}

func TestOnActiveWaitsForTheClientToComeBack(t *testing.T) {
	as := newActiveServer(t)
	sid := as.open(t)
	time.Sleep(50 * time.Millisecond)
	if got := as.seen(sid); got != "" {
		t.Fatalf("after the handshake alone: %q, want nothing", got)
	}
	res := as.do(t, "GET", as.url("EIO=4&transport=polling&sid="+sid), "", "")
	if res.body != "4hello" {
		t.Fatalf("first poll %q, want what OnActive sent", res.body)
	}
	if got := as.seen(sid); got != "active" {
		t.Fatalf("events %q", got)
	}
}

func TestOnActiveRunsBeforeTheMessagesOfAFirstPost(t *testing.T) {
	as := newActiveServer(t)
	sid := as.open(t)
	res := as.do(t, "POST", as.url("EIO=4&transport=polling&sid="+sid), "text/plain;charset=UTF-8", "4a\x1e4b")
	if res.body != "ok" {
		t.Fatalf("POST: %d %q", res.status, res.body)
	}
	if got := as.seen(sid); got != "active, message a, message b" {
		t.Fatalf("events %q", got)
	}
}

func TestOnActiveRunsAtOnceOnAWebSocketHandshake(t *testing.T) {
	as := newActiveServer(t)
	conn, _, err := websocket.DefaultDialer.Dial(as.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var frames []string
	for range 2 {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, string(data))
	}
	if !regexp.MustCompile(`^0\{"sid"`).MatchString(frames[0]) || frames[1] != "4hello" {
		t.Fatalf("frames %q, want the open packet then what OnActive sent", frames)
	}
}
