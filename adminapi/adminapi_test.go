package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// node is a Socket.IO server on a loopback port with the API in front of
// it, as "app".
type node struct {
	io  *socketio.Server
	sio *httptest.Server
	api *httptest.Server
}

func startNode(t *testing.T, adapter socketio.AdapterFactory) *node {
	t.Helper()
	io := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: adapter})
	io.Of("/chat")
	n := &node{io: io, sio: httptest.NewServer(io)}
	h := &Handler{Prefix: "/socketio/", Servers: func() []Server {
		return []Server{{Name: "app", Options: map[string]any{"path": "/socket.io/"}, IO: io}}
	}}
	n.api = httptest.NewServer(h)
	t.Cleanup(func() {
		n.api.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		n.sio.Close()
	})
	return n
}

// connect opens a WebSocket client on nsp and returns its socket.
func (n *node) connect(t *testing.T, nsp string) *socketio.Socket {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.sio.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, open, err := conn.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open packet %q, %v", open, err)
	}
	prefix := "40"
	if nsp != "/" {
		prefix += nsp + ","
	}
	conn.WriteMessage(websocket.TextMessage, []byte(prefix))
	_, ack, err := conn.ReadMessage()
	if err != nil || !strings.HasPrefix(string(ack), prefix+`{"sid":"`) {
		t.Fatalf("CONNECT answer %q, %v", ack, err)
	}
	var sid struct{ SID string }
	if err := json.Unmarshal(ack[len(prefix):], &sid); err != nil {
		t.Fatal(err)
	}
	s := n.io.Of(nsp).Socket(sid.SID)
	if s == nil {
		t.Fatalf("no socket %q", sid.SID)
	}
	return s
}

// get fetches path of the API and returns the status and the body.
func (n *node) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(n.api.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (n *node) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	status, body := n.get(t, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func TestAPIShowsServersNamespacesRoomsAndSockets(t *testing.T) {
	n := startNode(t, nil)
	a, b, c := n.connect(t, "/"), n.connect(t, "/"), n.connect(t, "/chat")
	a.Join("red", "blue")
	b.Join("red")
	a.SetData(map[string]any{"user": "ann"})
	_ = c

	var servers struct{ Servers []ServerInfo }
	n.getJSON(t, "/socketio/", &servers)
	if len(servers.Servers) != 1 {
		t.Fatalf("servers: %+v", servers)
	}
	s := servers.Servers[0]
	if s.Name != "app" || s.Sockets != 3 || s.Sessions["websocket"] != 3 || s.Sessions["polling"] != 0 ||
		strings.Join(s.Namespaces, ",") != "/,/chat" || s.Options.(map[string]any)["path"] != "/socket.io/" {
		t.Errorf("server: %+v", s)
	}

	var nsps struct{ Namespaces []NamespaceInfo }
	n.getJSON(t, "/socketio/app/namespaces", &nsps)
	if got := fmt.Sprint(nsps.Namespaces); got != "[{/ 2 2} {/chat 1 1}]" {
		t.Errorf("namespaces: %s", got)
	}

	var rooms RoomPage
	n.getJSON(t, "/socketio/app/rooms?namespace=/", &rooms)
	if got := fmt.Sprint(rooms.Total, rooms.Rooms); got != "2 [{blue 1} {red 2}]" {
		t.Errorf("rooms: %s", got)
	}

	var red SocketPage
	n.getJSON(t, "/socketio/app/sockets?namespace=/&room=red", &red)
	if red.Total != 2 || len(red.Sockets) != 2 || red.Room != "red" {
		t.Fatalf("sockets of red: %+v", red)
	}
	for _, s := range red.Sockets {
		if !s.Local || s.Transport != "websocket" || s.Handshake.Address != "127.0.0.1" || s.Handshake.Issued == 0 {
			t.Errorf("socket %+v", s)
		}
		if s.ID == a.ID() && (strings.Join(s.Rooms, ",") != "blue,red" || string(s.Data) != `{"user":"ann"}`) {
			t.Errorf("socket a: rooms %v, data %s", s.Rooms, s.Data)
		}
	}

	// Pages, in id order.
	var first, second SocketPage
	n.getJSON(t, "/socketio/app/sockets?limit=1", &first)
	n.getJSON(t, "/socketio/app/sockets?limit=1&offset=1", &second)
	if first.Total != 2 || len(first.Sockets) != 1 || len(second.Sockets) != 1 || first.Sockets[0].ID >= second.Sockets[0].ID {
		t.Errorf("pages: %+v then %+v", first, second)
	}
	var past SocketPage
	n.getJSON(t, "/socketio/app/sockets?offset=5", &past)
	if past.Total != 2 || past.Sockets == nil || len(past.Sockets) != 0 {
		t.Errorf("past the end: %+v", past)
	}
}

func TestAPIRefusesWhatItCannotAnswer(t *testing.T) {
	n := startNode(t, nil)
	for _, c := range []struct {
		path   string
		status int
		says   string
	}{
		{"/socketio/nope/namespaces", 404, `no Socket.IO server named \"nope\"`},
		{"/socketio/app/rooms?namespace=/never", 404, `no namespace \"/never\"`},
		{"/socketio/app/sockets?limit=0", 400, `limit \"0\": want a number from 1 to 1000`},
		{"/socketio/app/sockets?offset=-1", 400, `offset \"-1\"`},
		{"/socketio/app/everything", 404, `unknown resource \"everything\"`},
	} {
		status, body := n.get(t, c.path)
		if status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("GET %s: %d %s; want %d saying %s", c.path, status, body, c.status, c.says)
		}
	}
	resp, err := http.Post(n.api.URL+"/socketio/", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	// The namespace asked for is not created by asking.
	if got := len(n.io.Stats().Namespaces); got != 2 {
		t.Errorf("%d namespaces after the requests, want 2", got)
	}
}

// startRedis runs redis-server on a free loopback port.
func startRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(testpeer.RedisServer(t), "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatalf("redis-server on %s did not start", addr)
	return ""
}

// Two nodes sharing Redis: each node's API answers for both.
func TestAPIIsClusterWideWithRedis(t *testing.T) {
	addr := startRedis(t)
	group := func() *redisadapter.Group {
		g, err := redisadapter.NewGroup(redisadapter.ClientConfig{Addresses: []string{addr}}, redisadapter.Config{RequestsTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		return g
	}
	n1, n2 := startNode(t, group().Adapter), startNode(t, group().Adapter)
	s1 := n1.connect(t, "/")
	s1.Join("red")
	n2.connect(t, "/").Join("red")
	n2.connect(t, "/")

	deadline := time.Now().Add(10 * time.Second)
	for {
		var nsps struct{ Namespaces []NamespaceInfo }
		n1.getJSON(t, "/socketio/app/namespaces", &nsps)
		if fmt.Sprint(nsps.Namespaces) == "[{/ 3 1} {/chat 0 0}]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespaces from node 1: %v; want 3 sockets on both nodes, 1 on this one", nsps.Namespaces)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var rooms RoomPage
	n1.getJSON(t, "/socketio/app/rooms", &rooms)
	if got := fmt.Sprint(rooms.Rooms); got != "[{red 2}]" {
		t.Errorf("rooms from node 1: %s", got)
	}
	var red SocketPage
	n2.getJSON(t, "/socketio/app/sockets?room=red", &red)
	local := 0
	for _, s := range red.Sockets {
		if s.Local {
			local++
			if s.Transport != "websocket" {
				t.Errorf("local socket without its transport: %+v", s)
			}
		} else if s.ID != s1.ID() || s.Transport != "" {
			t.Errorf("remote socket %+v; want node 1's socket %s, transport unknown", s, s1.ID())
		}
	}
	if red.Total != 2 || local != 1 {
		t.Errorf("red from node 2: %+v", red)
	}
}
