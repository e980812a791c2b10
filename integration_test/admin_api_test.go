package integration_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// adminGet reads path from c's admin endpoint as JSON into v.
func adminGet(t *testing.T, c *caddyProcess, path string, v any) {
	t.Helper()
	resp, body := httpGet(t, "http://"+c.adminAddr+path, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

type adminServers struct {
	Servers []struct {
		Name     string
		Options  map[string]any
		Sockets  int
		Sessions map[string]int
	}
}

type adminNamespaces struct {
	Namespaces []struct {
		Name         string
		Sockets      int
		LocalSockets int `json:"local_sockets"`
	}
}

type adminRooms struct {
	Total int
	Rooms []struct {
		Name    string
		Sockets int
	}
}

type adminSockets struct {
	Total   int
	Sockets []struct {
		ID        string
		Rooms     []string
		Local     bool
		Transport string
	}
}

// One node: the server with its options, its sockets on each transport.
func TestAdminAPIShowsTheLiveServer(t *testing.T) {
	port := freePort(t)
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := startCaddy(t, metricsSite(port, "https://first.example"))
	clients := startClients(t,
		clientSpec{Name: "ws", Version: "v4", URL: server, Transports: []string{"websocket"}},
		clientSpec{Name: "poll", Version: "v4", URL: server, Transports: []string{"polling"}})
	ids := clients.connected(10*time.Second, "ws", "poll")

	var servers adminServers
	adminGet(t, c, "/socketio/", &servers)
	if len(servers.Servers) != 1 {
		t.Fatalf("servers: %+v", servers)
	}
	s := servers.Servers[0]
	if s.Name != "app" || s.Sockets != 2 || s.Sessions["websocket"] != 1 || s.Sessions["polling"] != 1 {
		t.Errorf("server: %+v", s)
	}
	if s.Options["path"] != "/socket.io/" || s.Options["adapter"] != "memory" || fmt.Sprint(s.Options["cors_origins"]) != "[https://first.example]" || s.Options["ping_interval"] != "25s" {
		t.Errorf("options: %v", s.Options)
	}
	var sockets adminSockets
	adminGet(t, c, "/socketio/app/sockets?namespace=/", &sockets)
	transports := map[string]string{}
	for _, s := range sockets.Sockets {
		transports[s.ID] = s.Transport
	}
	if sockets.Total != 2 || transports[ids["ws"].ID] != "websocket" || transports[ids["poll"].ID] != "polling" {
		t.Errorf("sockets: %+v; want ws on websocket, poll on polling", sockets)
	}
	resp, body := httpGet(t, "http://"+c.adminAddr+"/socketio/other/namespaces", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `no Socket.IO server named \"other\"`) {
		t.Errorf("an unknown server: %d %s", resp.StatusCode, body)
	}
}

// Two Caddy nodes on one Redis: each node's API answers for the cluster.
func TestAdminAPIIsClusterWideWithRedis(t *testing.T) {
	r := startRedisProcess(t)
	port1, port2 := freePort(t), freePort(t)
	c1 := startCaddy(t, redisChatSite(port1, r.addr()))
	c2 := startCaddy(t, redisChatSite(port2, r.addr()))
	url1, url2 := fmt.Sprintf("http://127.0.0.1:%d", port1), fmt.Sprintf("http://127.0.0.1:%d", port2)
	clients := startClients(t,
		chatClient("a", "v4", url1, "x"),
		chatClient("b", "v4", url2, "x"),
		chatClient("c", "v2", url2, "y"))
	ids := clients.connected(10*time.Second, "a", "b", "c")
	r.waitSubscribers("/chat", 2)

	var nsps adminNamespaces
	adminGet(t, c1, "/socketio/socket.io/namespaces", &nsps)
	got := map[string][2]int{}
	for _, n := range nsps.Namespaces {
		got[n.Name] = [2]int{n.Sockets, n.LocalSockets}
	}
	if got["/chat"] != [2]int{3, 1} {
		t.Errorf("namespaces from node 1: %+v; want /chat with 3 sockets, 1 of them local", nsps)
	}
	var rooms adminRooms
	adminGet(t, c2, "/socketio/socket.io/rooms?namespace=/chat", &rooms)
	if fmt.Sprint(rooms.Rooms) != "[{room-x 2} {room-y 1}]" {
		t.Errorf("rooms from node 2: %+v", rooms)
	}
	var inX adminSockets
	adminGet(t, c1, "/socketio/socket.io/sockets?namespace=/chat&room=room-x", &inX)
	where := map[string]bool{}
	for _, s := range inX.Sockets {
		where[s.ID] = s.Local
	}
	if inX.Total != 2 || len(where) != 2 || !where[ids["a"].ID] || where[ids["b"].ID] {
		t.Errorf("room-x from node 1: %+v; want a (local) and b (remote)", inX)
	}
}
