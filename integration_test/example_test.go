package integration_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// startExample runs Caddyfile.example as a user would, on a free port
// instead of 8080, and returns the site's origin.
func startExample(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testpeer.RepoRoot(), "Caddyfile.example"))
	if err != nil {
		t.Fatal(err)
	}
	const address = "http://:8080"
	if n := strings.Count(string(data), address); n != 1 {
		t.Fatalf("Caddyfile.example names %q %d times; this test moves the site to a free port by replacing it", address, n)
	}
	port := freePort(t)
	startCaddyfile(t, strings.Replace(string(data), address, fmt.Sprintf("http://:%d", port), 1))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// The example serves the chat page, the vendored client, an SPA fallback,
// and the Socket.IO endpoint beside them.
func TestExampleSite(t *testing.T) {
	origin := startExample(t)

	resp, body := httpGet(t, origin+"/?room=lobby", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<script src="/vendor/socket.io.min.js"></script>`) {
		t.Errorf("GET /: %d, want 200 and the chat page loading the vendored client; got\n%s", resp.StatusCode, body)
	}
	resp, body = httpGet(t, origin+"/vendor/socket.io.min.js", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "/*!\n * Socket.IO v4.") {
		t.Errorf("GET /vendor/socket.io.min.js: %d %.40q, want the socket.io-client bundle", resp.StatusCode, body)
	}
	// A client-side route falls back to index.html, but /socket.io/ does not.
	if _, body := httpGet(t, origin+"/rooms/lobby", nil); !strings.Contains(body, "/chat.js") {
		t.Errorf("GET /rooms/lobby: %.80q, want index.html through try_files", body)
	}
	resp, body = httpGet(t, origin+"/socket.io/?EIO=4&transport=polling", nil)
	if resp.StatusCode != http.StatusOK || !handshakeBody.MatchString(body) {
		t.Errorf("GET /socket.io/?EIO=4&transport=polling: %d %q, want the handshake %s", resp.StatusCode, body, handshakeBody)
	}
}

// Clients of both lines chat through the example's relay: a message reaches
// the others in the sender's room and nobody else.
func TestExampleChatRoomsWithV4AndV2Clients(t *testing.T) {
	origin := startExample(t)
	clients := startClients(t,
		clientSpec{Name: "alice", Version: "v4", URL: origin, Query: map[string]string{"room": "lobby"}},
		clientSpec{Name: "bob", Version: "v4", URL: origin, Transports: []string{"polling"}, Query: map[string]string{"room": "lobby"}},
		clientSpec{Name: "dave", Version: "v2", URL: origin, Query: map[string]string{"room": "lobby"}},
		clientSpec{Name: "carol", Version: "v2", URL: origin, Query: map[string]string{"room": "random"}},
	)
	clients.connected(10*time.Second, "alice", "bob", "dave", "carol")

	received := func(name, text string) func(clientEvent) bool {
		return func(e clientEvent) bool {
			return e.Type == "received" && e.Name == name && e.Event == "message" && strings.Contains(string(e.Args), text)
		}
	}
	// The relay acknowledges an event that asks for it, with no arguments,
	// once it is on its way.
	clients.send(map[string]any{"cmd": "emit", "name": "alice", "event": "message", "args": []any{map[string]string{"name": "alice", "text": "hello lobby"}}, "ack": true})
	if ack := clients.waitFor(5*time.Second, "the ack to alice", is("ack", "alice")); string(ack.Reply) != "[]" {
		t.Errorf("alice's ack carried %s, want []", ack.Reply)
	}
	for _, name := range []string{"bob", "dave"} {
		e := clients.waitFor(5*time.Second, name+" receiving alice's message", received(name, "hello lobby"))
		if want := `[{"name":"alice","text":"hello lobby"}]`; string(e.Args) != want {
			t.Errorf("%s received %s, want %s", name, e.Args, want)
		}
	}
	clients.send(map[string]any{"cmd": "emit", "name": "dave", "event": "message", "args": []any{map[string]string{"name": "dave", "text": "from v2"}}, "ack": true})
	if ack := clients.waitFor(5*time.Second, "the ack to dave", is("ack", "dave")); string(ack.Reply) != "[]" {
		t.Errorf("dave's (v2) ack carried %s, want []", ack.Reply)
	}
	clients.waitFor(5*time.Second, "alice receiving dave's message", received("alice", "from v2"))
	clients.waitFor(5*time.Second, "bob receiving dave's message", received("bob", "from v2"))

	if got := clients.all(func(e clientEvent) bool {
		return e.Type == "received" && (e.Name == "carol" || e.Name == "alice" && strings.Contains(string(e.Args), "hello lobby"))
	}); len(got) != 0 {
		t.Errorf("messages reached a client outside the room or the sender itself: %+v", got)
	}
	if got := clients.all(func(e clientEvent) bool { return e.Type == "disconnect" }); len(got) != 0 {
		t.Errorf("disconnects: %+v", got)
	}
}

// A user's view of the example: the chat page in Chromium, two windows in
// one room and a third in another; a message typed in the first shows in
// the second and nowhere else.
func TestExampleChatPageInChromium(t *testing.T) {
	chromium := testpeer.Chromium(t)
	origin := startExample(t)
	res := testpeer.RunNode(t, time.Minute, filepath.Join("testdata", "chat_page.js"), "ORIGIN="+origin, "CHROMIUM="+chromium)
	if res.Err != nil {
		t.Fatalf("chat_page.js: %v\n%s\n%s", res.Err, res.Stdout, res.Stderr)
	}
	type window struct {
		Room     string
		Status   string
		Messages []struct {
			Text string
			Mine bool
		}
		Errors []string
	}
	var windows map[string]window
	if err := json.Unmarshal([]byte(res.Stdout), &windows); err != nil {
		t.Fatalf("chat_page.js printed %q: %v", res.Stdout, err)
	}
	want := map[string]string{"ann": "Annhello from the lobby", "ben": "Annhello from the lobby", "cat": ""}
	for name, w := range windows {
		var got string
		for _, m := range w.Messages {
			got += m.Text
			if m.Mine != (name == "ann") {
				t.Errorf("%s: message %q marked mine=%v", name, m.Text, m.Mine)
			}
		}
		if got != want[name] {
			t.Errorf("%s (room %s) shows %q, want %q", name, w.Room, got, want[name])
		}
		if len(w.Errors) > 0 {
			t.Errorf("%s: browser errors %q", name, w.Errors)
		}
	}
	if len(windows) != 3 {
		t.Errorf("got %d windows, want 3: %s", len(windows), res.Stdout)
	}
}

// The page's vendored client is the browser bundle of the socket.io-client
// that package.json pins (and the other tests use), byte for byte: bump
// both together.
func TestVendoredClientMatchesTheInstalledPackage(t *testing.T) {
	testpeer.Node(t)
	root := testpeer.RepoRoot()
	vendored, err := os.ReadFile(filepath.Join(root, "site", "vendor", "socket.io.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.ReadFile(filepath.Join(root, "node_modules", "socket.io-client", "dist", "socket.io.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	if string(vendored) != string(installed) {
		t.Errorf("site/vendor/socket.io.min.js differs from node_modules/socket.io-client/dist/socket.io.min.js (%.40q vs %.40q); copy the installed one", vendored, installed)
	}
}

// A namespace the Caddyfile does not declare is refused as the Node server
// refuses it, for both client lines.
func TestExampleRefusesUndeclaredNamespace(t *testing.T) {
	origin := startExample(t)
	clients := startClients(t,
		clientSpec{Name: "v4", Version: "v4", URL: origin, Namespace: "/admin"},
		clientSpec{Name: "v2", Version: "v2", URL: origin, Namespace: "/admin"},
	)
	e := clients.waitFor(10*time.Second, "v4's connect_error", is("connect_error", "v4"))
	if e.Error != "Invalid namespace" {
		t.Errorf("v4 client: connect_error %q, want \"Invalid namespace\"", e.Error)
	}
	e = clients.waitFor(10*time.Second, "v2's error", func(e clientEvent) bool {
		return e.Name == "v2" && (e.Type == "connect_error" || e.Type == "error")
	})
	if e.Error != "Invalid namespace" {
		t.Errorf("v2 client: %s %q, want \"Invalid namespace\"", e.Type, e.Error)
	}
	if got := clients.all(func(e clientEvent) bool { return e.Type == "connected" }); len(got) != 0 {
		t.Errorf("connected to an undeclared namespace: %+v", got)
	}
}
