package adminui

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

type server struct {
	io   *socketio.Server
	http *httptest.Server
	in   *Instrument
}

func startServer(t *testing.T, o Options) *server {
	t.Helper()
	io := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{})
	io.Of("/chat")
	s := &server{io: io, http: httptest.NewServer(io)}
	s.in = New(io, "", o)
	t.Cleanup(func() {
		s.in.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		s.http.Close()
	})
	return s
}

// wsClient is a raw Socket.IO client over WebSocket, for the exact packets.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func (s *server) dial(t *testing.T) *wsClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.http.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &wsClient{t: t, conn: conn}
	if open := c.read(); open[0] != '0' {
		t.Fatalf("open packet %q", open)
	}
	return c
}

func (c *wsClient) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next packet that is not a ping.
func (c *wsClient) read() string {
	c.t.Helper()
	for {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("reading: %v", err)
		}
		if string(data) != "2" {
			return string(data)
		}
		c.send("3")
	}
}

// event reads packets until the admin event name arrives and returns its
// arguments.
func (c *wsClient) event(name string) []json.RawMessage {
	c.t.Helper()
	prefix := `42/admin,["` + name + `"`
	for {
		p := c.read()
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		var arr []json.RawMessage
		if err := json.Unmarshal([]byte(strings.TrimPrefix(p, "42/admin,")), &arr); err != nil {
			c.t.Fatalf("%q: %v", p, err)
		}
		return arr[1:]
	}
}

func checkPassword(user, password string) bool { return user == "admin" && password == "s3cret" }

func TestLoginSendsSessionAfterConnectThenConfigAndSockets(t *testing.T) {
	s := startServer(t, Options{Authenticate: checkPassword})
	app := s.dial(t)
	app.send("40/chat,")
	if got := app.read(); !strings.HasPrefix(got, `40/chat,{"sid":"`) {
		t.Fatalf("app client: %q", got)
	}

	ui := s.dial(t)
	ui.send(`40/admin,{"username":"admin","password":"s3cret"}`)
	if got := ui.read(); !strings.HasPrefix(got, `40/admin,{"sid":"`) {
		t.Fatalf("CONNECT answer %q", got)
	}
	// The session id comes right after the CONNECT answer, before config.
	first := ui.read()
	var session []string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(first, "42/admin,")), &session); err != nil || len(session) != 2 || session[0] != "session" || len(session[1]) != 16 {
		t.Fatalf("first packet after CONNECT: %q", first)
	}
	config := ui.event("config")
	if string(config[0]) != `{"supportedFeatures":["EMIT","JOIN","LEAVE","DISCONNECT","MJOIN","MLEAVE","MDISCONNECT","AGGREGATED_EVENTS","ALL_EVENTS"]}` {
		t.Errorf("config %s", config[0])
	}
	all := ui.event("all_sockets")
	var sockets []struct {
		ID, Nsp, Transport, ClientID string
		Rooms                        []string
		Handshake                    struct{ Address string }
	}
	if err := json.Unmarshal(all[0], &sockets); err != nil {
		t.Fatal(err)
	}
	nsps := map[string]int{}
	for _, so := range sockets {
		nsps[so.Nsp]++
		if so.Transport != "websocket" || so.Handshake.Address != "127.0.0.1" || len(so.ClientID) != 12 || len(so.Rooms) != 1 || so.Rooms[0] != so.ID {
			t.Errorf("socket %+v", so)
		}
	}
	if nsps["/chat"] != 1 || nsps["/admin"] != 1 {
		t.Errorf("all_sockets by namespace: %v; want the app client on /chat and the UI on /admin", nsps)
	}

	// A page reload: the session id logs in without the password.
	again := s.dial(t)
	again.send(`40/admin,{"sessionId":` + strconvQuote(session[1]) + `}`)
	if got := again.read(); !strings.HasPrefix(got, `40/admin,{"sid":"`) {
		t.Fatalf("login with the session id: %q", got)
	}
	if got := again.read(); strings.Contains(got, `"session"`) {
		t.Errorf("a new session id for a session login: %q", got)
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestWrongPasswordIsRefusedWithTheUIsMessage(t *testing.T) {
	s := startServer(t, Options{Authenticate: checkPassword})
	for _, auth := range []string{`{"username":"admin","password":"guess"}`, `{"sessionId":"0123456789abcdef"}`, ``} {
		ui := s.dial(t)
		ui.send(`40/admin,` + auth)
		if got := ui.read(); got != `44/admin,{"message":"invalid credentials"}` {
			t.Errorf("auth %s: %q", auth, got)
		}
	}
}

func TestStatsAndLiveEventsReachTheUI(t *testing.T) {
	s := startServer(t, Options{ServerID: "node-1"})
	ui := s.dial(t)
	ui.send(`40/admin,`)
	ui.read()
	stats := ui.event("server_stats")
	var st struct {
		ServerID     string `json:"serverId"`
		ClientsCount int    `json:"clientsCount"`
		Namespaces   []struct {
			Name         string
			SocketsCount int `json:"socketsCount"`
		}
	}
	if err := json.Unmarshal(stats[0], &st); err != nil {
		t.Fatal(err)
	}
	if st.ServerID != "node-1" || st.ClientsCount < 1 || len(st.Namespaces) != 3 {
		t.Errorf("server_stats %s", stats[0])
	}

	app := s.dial(t)
	app.send("40/chat,")
	app.read()
	// The observers are in place from the first statistics on.
	connected := ui.event("socket_connected")
	var so struct{ ID, Nsp string }
	if err := json.Unmarshal(connected[0], &so); err != nil || so.Nsp != "/chat" {
		t.Fatalf("socket_connected %s", connected[0])
	}
	app.send(`42/chat,["hello",{"n":1}]`)
	if got := ui.event("event_received"); string(got[0]) != `"/chat"` || string(got[1]) != strconvQuote(so.ID) || string(got[2]) != `["hello",{"n":1}]` {
		t.Errorf("event_received %s", got)
	}

	// The UI's join command, then its disconnect command, on that socket.
	ui.send(`42/admin,["join","/chat","lobby",` + strconvQuote(so.ID) + `]`)
	if got := ui.event("room_joined"); string(got[0]) != `"/chat"` || string(got[1]) != `"lobby"` || string(got[2]) != strconvQuote(so.ID) {
		t.Errorf("room_joined %s", got)
	}
	ui.send(`42/admin,["emit","/chat","lobby","news",1,"two"]`)
	if got := app.read(); got != `42/chat,["news",1,"two"]` {
		t.Errorf("the app client got %q from the UI's emit", got)
	}
	ui.send(`42/admin,["_disconnect","/chat",false,` + strconvQuote(so.ID) + `]`)
	if got := ui.event("socket_disconnected"); string(got[1]) != strconvQuote(so.ID) || string(got[2]) != `"server namespace disconnect"` {
		t.Errorf("socket_disconnected %s", got)
	}
}

func TestReadOnlyAndProductionModes(t *testing.T) {
	s := startServer(t, Options{ReadOnly: true, Production: true})
	app := s.dial(t)
	app.send("40/chat,")
	app.read()
	ui := s.dial(t)
	ui.send(`40/admin,`)
	ui.read()
	if got := ui.event("config"); string(got[0]) != `{"supportedFeatures":["AGGREGATED_EVENTS"]}` {
		t.Errorf("config %s", got[0])
	}
	ui.send(`42/admin,["_disconnect","/chat",true]`)
	ui.event("server_stats")
	ui.event("server_stats") // a full interval later
	if n := len(s.io.Of("/chat").Sockets()); n != 1 {
		t.Errorf("a read-only UI disconnected the app client")
	}
}
