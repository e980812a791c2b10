package socketio

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/gorilla/websocket"
)

func TestHandshakeDescribesTheConnection(t *testing.T) {
	handshakes := make(chan Handshake, 1)
	ts := startServer(t, "", engine.Options{}, func(ts *testServer) {
		ts.io.OnConnection(func(s *Socket) { handshakes <- s.Handshake() })
	})
	before := time.Now()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket&room=blue"
	conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"https://app.example"}, "X-Team": {"red"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.ReadMessage() // Engine.IO open
	conn.WriteMessage(websocket.TextMessage, []byte(`40{"token":"abc","n":[1,2]}`))
	h := <-handshakes

	if got := h.Query().Get("room"); got != "blue" {
		t.Errorf("query room = %q", got)
	}
	if got := h.QueryValue("room"); got != "blue" {
		t.Errorf("query value of room = %q", got)
	}
	if got := h.Headers.Get("X-Team"); got != "red" {
		t.Errorf("header X-Team = %q", got)
	}
	if string(h.Auth) != `{"token":"abc","n":[1,2]}` {
		t.Errorf("auth = %s", h.Auth)
	}
	if v, ok := h.AuthValue("token"); !ok || v != "abc" {
		t.Errorf("AuthValue(token) = %v %v", v, ok)
	}
	if h.Address != "127.0.0.1" {
		t.Errorf("address = %q, want the IP without port", h.Address)
	}
	if !h.XDomain || h.Secure {
		t.Errorf("xdomain %v secure %v, want true false", h.XDomain, h.Secure)
	}
	if !strings.HasPrefix(h.URL(), "/socket.io/?EIO=4&transport=websocket&room=blue") {
		t.Errorf("url = %q", h.URL())
	}
	if h.Issued < before.UnixMilli() || h.Issued > time.Now().UnixMilli() {
		t.Errorf("issued %d not between the dial and now", h.Issued)
	}
	if at, err := time.Parse(jsDateLayout, h.Time()); err != nil {
		t.Errorf("time %q: %v", h.Time(), err)
	} else if at.Unix() != h.Issued/1000 {
		t.Errorf("time %q is not the instant issued says, %d", h.Time(), h.Issued)
	}
	// The query is the caller's: changing it changes no other view.
	h.Query().Set("room", "red")
	if got := h.Query().Get("room"); got != "blue" {
		t.Errorf("query room after a caller changed its copy = %q", got)
	}
}

// QueryValue answers what Query().Get answers (internal/urlquery's tests
// hold the malformed queries), for a handshake of this server and for one
// another server reported.
func TestQueryValueIsQueryGet(t *testing.T) {
	for _, raw := range []string{"", "room=a&room=b", "EIO=4&transport=websocket&room=a%20b+c", "room=%zz&room=e"} {
		h := Handshake{rawQuery: raw}
		for _, key := range []string{"room", "EIO", ""} {
			if got, want := h.QueryValue(key), h.Query().Get(key); got != want {
				t.Errorf("query %q: QueryValue(%q) = %q, Query().Get = %q", raw, key, got, want)
			}
		}
	}
	remote := RemoteHandshake("/?room=raw", url.Values{"room": {"reported"}}, "")
	if got := remote.QueryValue("room"); got != "reported" {
		t.Errorf("remote handshake: QueryValue(room) = %q, want what the other server reported", got)
	}
}

func TestRemoteHandshakeKeepsWhatTheOtherServerReported(t *testing.T) {
	h := RemoteHandshake("/socket.io/?EIO=4&transport=polling&x=1", url.Values{"x": {"one"}},
		"Mon Nov 23 2026 01:00:00 GMT+0100 (Central European Standard Time)")
	if got := h.URL(); got != "/socket.io/?EIO=4&transport=polling&x=1" {
		t.Errorf("url = %q", got)
	}
	if got := h.Query(); len(got) != 1 || got.Get("x") != "one" {
		t.Errorf("query = %v, want the reported one", got)
	}
	h.Query().Set("x", "two")
	if got := h.Query().Get("x"); got != "one" {
		t.Errorf("query after a caller changed its copy = %q", got)
	}
	if got := h.Time(); got != "Mon Nov 23 2026 01:00:00 GMT+0100 (Central European Standard Time)" {
		t.Errorf("time = %q, want the reported one", got)
	}
	if string(h.Auth) != "" || h.Address != "" {
		t.Errorf("auth %q address %q, want them left to the caller", h.Auth, h.Address)
	}
}
