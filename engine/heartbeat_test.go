package engine

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Many sessions share the heartbeat lists: those that answer every ping
// live on, those that stop answering are closed for "ping timeout", each
// on its own deadline.
func TestHeartbeatsOfManySessions(t *testing.T) {
	checkLeaks(t)
	srv := NewServer(Options{PingInterval: 50 * time.Millisecond, PingTimeout: 250 * time.Millisecond})
	var mu sync.Mutex
	reasons := map[string]string{}
	srv.OnConnection(func(s *Session) {
		s.OnClose(func(r string) {
			mu.Lock()
			reasons[s.ID()] = r
			mu.Unlock()
		})
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/?EIO=4&transport=websocket"

	type client struct {
		sid     string
		answers bool
		pings   int
		closed  chan struct{}
	}
	var clients []*client
	for i := range 30 {
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, open, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		c := &client{sid: strings.Split(string(open), `"`)[3], answers: i%2 == 0, closed: make(chan struct{})}
		clients = append(clients, c)
		go func() {
			defer close(c.closed)
			for {
				_, data, err := conn.ReadMessage()
				if err != nil {
					return
				}
				if string(data) == "2" {
					c.pings++
					// The silent half answers only its first ping.
					if c.answers || c.pings == 1 {
						conn.WriteMessage(websocket.TextMessage, []byte("3"))
					}
				}
			}
		}()
	}
	// Several ping rounds: the silent ones are gone after their second ping
	// plus the timeout (~350 ms); the others stay.
	time.Sleep(800 * time.Millisecond)
	mu.Lock()
	for _, c := range clients {
		r := reasons[c.sid]
		if c.answers && r != "" {
			t.Errorf("a session answering every ping was closed: %q", r)
		}
		if !c.answers && r != "ping timeout" {
			t.Errorf("a session that stopped answering: reason %q, want ping timeout", r)
		}
	}
	mu.Unlock()
	for _, c := range clients {
		if c.answers {
			continue
		}
		select {
		case <-c.closed:
		case <-time.After(2 * time.Second):
			t.Fatal("the server did not close a silent client's connection")
		}
		if c.pings != 2 {
			t.Errorf("a silent client got %d pings, want 2", c.pings)
		}
	}
}
