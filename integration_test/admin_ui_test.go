package integration_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// adminUISite serves the built Admin UI under /ui/ beside a Socket.IO
// server "app" whose admin_ui logs in admin with hash; clients join the
// room in their query. redisAddr, when set, makes it a node of a cluster.
func adminUISite(port int, hash, redisAddr string) string {
	adapter := ""
	if redisAddr != "" {
		adapter = fmt.Sprintf("\t\tadapter redis {\n\t\t\taddress %s\n\t\t}\n", redisAddr)
	}
	return fmt.Sprintf(`http://:%d {
	bind 127.0.0.1
	handle_path /ui/* {
		root * node_modules/@socket.io/admin-ui/ui/dist
		file_server
	}
	socketio {
		name app
		namespace / {
			join {query.room}
		}
		admin_ui {
			username admin
			password %s
		}
%s	}
}
`, port, hash, adapter)
}

// adminUISaw is what testdata/admin_ui.js saw.
type adminUISaw struct {
	IDs                  map[string]string
	WrongPassword        string
	Sockets              string
	AfterReload          string
	LoginFormAfterReload bool
	AfterDisconnect      string
	Rooms                string
	SocketPage           string
	AfterJoin            string
	PollReceived         []struct {
		Event string
		Args  []string
	}
	WsDisconnectReason string
	Servers            string
	Steps              []any
	Error              string
}

// needAdminUI checks that the UI's built files (npm's @socket.io/admin-ui)
// and Chromium are there.
func needAdminUI(t *testing.T) {
	t.Helper()
	testpeer.Chromium(t)
	if _, err := os.Stat(filepath.Join(testpeer.RepoRoot(), "node_modules", "@socket.io", "admin-ui", "ui", "dist", "index.html")); err != nil {
		testpeer.Missing(t, "the Admin UI's built files are not installed (%v); run `npm ci` at the repository root", err)
	}
}

func runAdminUI(t *testing.T, env ...string) adminUISaw {
	t.Helper()
	chromium := testpeer.Chromium(t)
	res := testpeer.RunNode(t, 2*time.Minute, filepath.Join("testdata", "admin_ui.js"), append(env, "CHROMIUM="+chromium)...)
	var saw adminUISaw
	if err := json.Unmarshal([]byte(res.Stdout), &saw); err != nil {
		t.Fatalf("admin_ui.js printed %q (%v): %v\nstderr: %s", res.Stdout, res.Err, err, res.Stderr)
	}
	if saw.Error != "" {
		t.Fatalf("admin_ui.js failed: %s\nsaw: %+v", saw.Error, saw)
	}
	return saw
}

func adminHash(t *testing.T, password string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The official Admin UI, its built files served by Caddy, in Chromium: a
// wrong password gets the UI's own error; logged in, it lists the sockets
// with their transports and rooms, stays logged in across a page reload,
// sees a disconnect, joins a socket to a room and disconnects one; the
// protocol's emit command reaches a client in a room.
func TestAdminUIInChromium(t *testing.T) {
	needAdminUI(t)
	port := freePort(t)
	server := fmt.Sprintf("http://127.0.0.1:%d", port)
	c := startCaddy(t, adminUISite(port, adminHash(t, "s3cret"), ""))
	saw := runAdminUI(t, "UI_URL="+server+"/ui/", "SERVER_URL="+server, "PASSWORD=s3cret")

	if !strings.Contains(saw.WrongPassword, "Invalid credentials") {
		t.Errorf("a wrong password: the UI shows %q, want its own \"Invalid credentials\"", saw.WrongPassword)
	}
	refused := c.logEntries(func(e map[string]any) bool { return e["msg"] == "Admin UI login refused: invalid credentials" })
	if len(refused) != 1 || refused[0]["remote_addr"] != "127.0.0.1" || refused[0]["username"] != "admin" {
		t.Errorf("log entries of the refused login: %v; want one with the address", refused)
	}
	for name, id := range saw.IDs {
		if !strings.Contains(saw.Sockets, id) {
			t.Errorf("the sockets page does not list %s (%s)", name, id)
		}
	}
	for _, id := range []string{saw.IDs["ws"], saw.IDs["poll"]} {
		_, row, _ := strings.Cut(saw.Sockets, id)
		row, _, _ = strings.Cut(row, "\n\t")
		want := "WebSocket"
		if id == saw.IDs["poll"] {
			want = "HTTP long-polling"
		}
		if !strings.Contains(row, want) {
			t.Errorf("the sockets page's row of %s reads %q, want its transport %s", id, row, want)
		}
	}
	if saw.LoginFormAfterReload || !strings.Contains(saw.AfterReload, saw.IDs["ws"]) {
		t.Errorf("after a page reload: login form shown %v, page %q; want still logged in", saw.LoginFormAfterReload, saw.AfterReload)
	}
	if strings.Contains(saw.AfterDisconnect, saw.IDs["leaving"]) {
		t.Errorf("a disconnected socket is still listed: %q", saw.AfterDisconnect)
	}
	if !strings.Contains(saw.Rooms, "lobby") || !strings.Contains(saw.SocketPage, "lobby") {
		t.Errorf("rooms: the Rooms page %q, the socket's page %q; want lobby on both", saw.Rooms, saw.SocketPage)
	}
	// The socket's page lists the room once the server reports the join
	// (room_joined).
	_, rooms, _ := strings.Cut(saw.AfterJoin, "\nRooms\n")
	if rooms, _, _ = strings.Cut(rooms, "Join a room"); !strings.Contains(rooms, "vip") {
		t.Errorf("after joining vip from the UI, the socket's page shows %q", saw.AfterJoin)
	}
	if len(saw.PollReceived) != 1 || saw.PollReceived[0].Event != "news" || fmt.Sprint(saw.PollReceived[0].Args) != "[from the admin UI]" {
		t.Errorf("the client in lobby received %+v from the emit command", saw.PollReceived)
	}
	if saw.WsDisconnectReason != "io server disconnect" {
		t.Errorf("the socket disconnected from the UI saw %q, want io server disconnect", saw.WsDisconnectReason)
	}
}

// Two Caddy nodes on one Redis: the UI connected to one lists both
// servers (each sends its statistics through the admin namespace), and the
// sockets of both.
func TestAdminUIListsBothNodesOnRedis(t *testing.T) {
	needAdminUI(t)
	r := startRedisProcess(t)
	hash := adminHash(t, "s3cret")
	port1, port2 := freePort(t), freePort(t)
	startCaddy(t, adminUISite(port1, hash, r.addr()))
	startCaddy(t, adminUISite(port2, hash, r.addr()))
	server1, server2 := fmt.Sprintf("http://127.0.0.1:%d", port1), fmt.Sprintf("http://127.0.0.1:%d", port2)
	r.waitSubscribers("/admin", 2)
	other := startClients(t, clientSpec{Name: "elsewhere", Version: "v4", URL: server2, Query: map[string]string{"room": "lobby"}})
	elsewhere := other.connected(10*time.Second, "elsewhere")["elsewhere"].ID

	saw := runAdminUI(t, "UI_URL="+server1+"/ui/", "SERVER_URL="+server1, "SECOND_SERVER_URL="+server2, "PASSWORD=s3cret")
	if !strings.Contains(saw.Sockets, elsewhere) {
		t.Errorf("the sockets page of node 1 does not list node 2's socket %s: %q", elsewhere, saw.Sockets)
	}
	// Each node's serverId is hostname#pid and the server's name.
	if n := len(regexp.MustCompile(`#\d+ app`).FindAllString(saw.Servers, -1)); n != 2 {
		t.Errorf("the servers page lists %d servers, want both nodes: %q", n, saw.Servers)
	}
	// The emit command of node 1's UI reaches lobby on both nodes.
	other.waitFor(5*time.Second, "elsewhere receiving the UI's emit", func(e clientEvent) bool {
		return e.Type == "received" && e.Name == "elsewhere" && e.Event == "news"
	})
}
