package caddysocketio

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/gorilla/websocket"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// These tests run Caddy in the test process (caddy.Load, as `caddy run`
// and `caddy reload` do) with the real socket.io-client from Node.

// loadCaddyfile adapts a Caddyfile and loads it into the in-process Caddy,
// replacing the running config as `caddy reload` does.
func loadCaddyfile(t testing.TB, caddyfile string) {
	t.Helper()
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		t.Fatalf("adapting:\n%s\n%v", caddyfile, err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatalf("loading:\n%s\n%v", caddyfile, err)
	}
}

// inProcessCaddy prepares a directory for Caddy's data and stops Caddy at
// the end of the test; it returns a free loopback address.
func inProcessCaddy(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Cleanup(func() { _ = caddy.Stop() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// site is a Caddyfile for the in-process Caddy whose one site serves
// directive, then a static answer; Caddy logs errors only.
func site(addr, directive string) string {
	return inProcessCaddyfile(addr, `
	log {
		level ERROR
	}`, directive+`
	respond "static site"`)
}

// inProcessCaddyfile is a Caddyfile for the in-process Caddy: no admin
// endpoint, plain HTTP, nothing saved to disk, the extra global options
// given (lines of the global block), and one site at addr with body.
func inProcessCaddyfile(addr, global, body string) string {
	return fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n\tpersist_config off%s\n}\nhttp://%s {\n%s\n}\n", global, addr, body)
}

// openPollingSession opens a polling session at base (the endpoint's URL
// with EIO and transport) and returns its id.
func openPollingSession(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	open, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`"sid":"([^"]+)"`).FindSubmatch(open)
	if m == nil {
		t.Fatalf("handshake answer %q", open)
	}
	return string(m[1])
}

// nodeClient is a running Node script whose output lines the test reads as
// they come.
type nodeClient struct {
	lines  chan string
	done   chan error
	stderr *strings.Builder
}

func startNode(t *testing.T, script string, env ...string) *nodeClient {
	t.Helper()
	node := testpeer.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(testpeer.RepoRoot(), "node_modules"))
	cmd.Env = append(cmd.Env, env...)
	c := &nodeClient{lines: make(chan string, 100), done: make(chan error, 1), stderr: &strings.Builder{}}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The scanner goroutine ends with the process's stdout; the process is
	// waited for by the test's cleanup at the latest.
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		for range c.lines {
		}
	})
	return c
}

// expect reads the next line, which must be name followed by want (JSON).
func (c *nodeClient) expect(t *testing.T, name, want string) {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			t.Fatalf("node exited before %q: %v\n%s", name, <-c.done, c.stderr)
		}
		if got := strings.TrimPrefix(line, name+" "); got == line || (want != "" && got != want) {
			t.Fatalf("node printed %q, want %s %s", line, name, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q from node\n%s", name, c.stderr)
	}
}

func (c *nodeClient) wait(t *testing.T) {
	t.Helper()
	for line := range c.lines {
		t.Errorf("unexpected output: %s", line)
	}
	if err := <-c.done; err != nil {
		t.Fatalf("node: %v\n%s", err, c.stderr)
	}
}

func TestRoomsFromHandshakePlaceholders(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			relay message
			join room-{query.room} user-{auth.user} team-{header.X-Team}
		}
	}`))
	c := startNode(t, filepath.Join("testdata", "clients", "client.js"), "URL=http://"+addr, "SCENARIO=rooms")
	c.expect(t, "a2", `[["message","hello a"]]`)
	c.expect(t, "u1", `[["message","hello a"]]`)
	c.expect(t, "team2", `[["message","hello red"]]`)
	c.expect(t, "b1", `[["message","hello b"]]`)
	c.expect(t, "undeclared", `"Invalid namespace"`)
	c.wait(t)
}

func TestReloadKeepsConnections(t *testing.T) {
	addr := inProcessCaddy(t)
	config := func(origin string) string {
		return site(addr, `
	socketio {
		cors {
			origin `+origin+`
		}
	}`)
	}
	loadCaddyfile(t, config("https://old.example"))
	c := startNode(t, filepath.Join("testdata", "clients", "client.js"), "URL=http://"+addr, "SCENARIO=reload")
	c.expect(t, "connected", "")

	loadCaddyfile(t, config("https://new.example")) // caddy reload
	live := liveServerNamed(t, "/socket.io/")
	if err := live.io.Emit("reloaded"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "same-socket", "true")
	c.expect(t, "old-origin", `"xhr poll error"`)
	c.expect(t, "new-origin", `"connected"`)
	c.expect(t, "ready-for-stop", "true")

	if err := caddy.Stop(); err != nil { // caddy stop
		t.Fatal(err)
	}
	c.expect(t, "stopped", `"transport close"`) // as after io.close() in Node
	c.wait(t)
	if refs, ok := servers.References("/socket.io/"); ok {
		t.Errorf("after caddy stop the live server still has %d references", refs)
	}
}

// liveServerNamed finds a live server in the pool.
func liveServerNamed(t *testing.T, name string) *liveServer {
	t.Helper()
	var found *liveServer
	servers.Range(func(key, value any) bool {
		if key == name {
			found = value.(*liveServer)
		}
		return found == nil
	})
	if found == nil {
		t.Fatalf("no live server named %q", name)
	}
	return found
}

// joinedChatRooms connects one WebSocket client to /chat of the in-process
// Caddy at addr, with query in its handshake URL, and returns the rooms its
// socket was put in, sorted, its own id room aside. It fails the test
// unless that socket is the only one in /chat of the live server
// "/socket.io/".
func joinedChatRooms(t *testing.T, addr, query string) []string {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket&"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40/chat,")); err != nil {
		t.Fatal(err)
	}
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(msg), "40/chat,") {
			break
		}
	}
	sockets := liveServerNamed(t, "/socket.io/").io.Of("/chat").Sockets()
	if len(sockets) != 1 {
		t.Fatalf("%d sockets in /chat, want 1", len(sockets))
	}
	rooms := slices.DeleteFunc(sockets[0].Rooms(), func(r string) bool { return r == sockets[0].ID() })
	slices.Sort(rooms)
	return rooms
}

func TestHandlersSharingANameMustAgree(t *testing.T) {
	addr := inProcessCaddy(t)
	_, port, _ := net.SplitHostPort(addr)
	twoSites := func(originA, originB string) string {
		return fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
}
http://a.localhost:%[1]s {
	socketio {
		cors {
			origin %[2]s
		}
	}
}
http://b.localhost:%[1]s {
	socketio {
		cors {
			origin %[3]s
		}
	}
}
`, port, originA, originB)
	}
	// The same endpoint under two addresses: one server, one set of clients.
	loadCaddyfile(t, twoSites("https://app.example", "https://app.example"))
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(twoSites("https://a.example", "https://b.example")), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = caddy.Load(cfg, true)
	want := `two socketio handlers share the name "/socket.io/" (the path, unless name is set) but are configured differently; give each its own name`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("loading two different handlers with one name: %v, want an error containing %q", err, want)
	}
}

// A polling client is told, with a close packet, when Caddy stops. (An
// in-process stop does not wait for requests to end; `caddy stop`, which
// exits the process, does: TestServerShutdownEndsLongPolls covers that.)
func TestStopDisconnectsPollingClients(t *testing.T) {
	addr := inProcessCaddy(t)
	// With a 60s ping interval a long-poll lasts a minute: a stop that
	// waited for it would take that long.
	loadCaddyfile(t, site(addr, `
	socketio {
		ping_interval 60s
	}`))
	c := startNode(t, filepath.Join("testdata", "clients", "client.js"), "URL=http://"+addr, "SCENARIO=stop-polling")
	c.expect(t, "connected", `"polling"`)
	start := time.Now()
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("caddy stop took %v: it waited for the long-poll", took)
	}
	c.expect(t, "stopped", `"transport close"`)
	c.wait(t)
}

// A server write timeout is a ceiling on every response that a handler
// cannot lift, and a long-poll waits up to ping_interval: the handler ends
// the poll with a noop before the ceiling, and the session goes on.
func TestLongPollEndsWithANoopBeforeTheWriteTimeout(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, inProcessCaddyfile(addr, `
	servers {
		timeouts {
			write 1s
		}
	}`, "\tsocketio"))
	t.Cleanup(func() { _ = caddy.Stop() })
	base := "http://" + addr + "/socket.io/?EIO=4&transport=polling"
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v (the write timeout cut the long-poll)", url, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	_, open := get(base)
	m := regexp.MustCompile(`"sid":"([^"]+)"`).FindStringSubmatch(open)
	if m == nil {
		t.Fatalf("handshake: %q", open)
	}
	poll := base + "&sid=" + m[1]
	if status, body := get(poll); status != 200 || body != "6" {
		t.Fatalf("long-poll under a 1s write timeout: %d %q, want 200 \"6\" (noop)", status, body)
	}
}

// A reload that fails leaves the running config in charge, and its server
// keeps its options: a new config's options apply only once it serves.
func TestFailedReloadKeepsTheRunningOptions(t *testing.T) {
	addr := inProcessCaddy(t)
	_, port, _ := net.SplitHostPort(addr)
	loadCaddyfile(t, site(addr, `
	socketio {
		ping_interval 10s
	}`))
	handshake := func() string {
		t.Helper()
		res, err := http.Get("http://" + addr + "/socket.io/?EIO=4&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, res.Body)
		return b.String()
	}
	if got := handshake(); !strings.Contains(got, `"pingInterval":10000,`) {
		t.Fatalf("handshake %q, want pingInterval 10000", got)
	}
	// The first site's handler provisions fine with ping_interval 3s; the
	// second shares its name with another configuration, so the load fails.
	bad := fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
}
http://127.0.0.1:%[1]s {
	socketio {
		ping_interval 3s
	}
}
http://localhost:%[1]s {
	socketio {
		ping_interval 4s
	}
}
`, port)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(bad), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err == nil {
		t.Fatal("the conflicting config loaded")
	}
	if got := handshake(); !strings.Contains(got, `"pingInterval":10000,`) {
		t.Errorf("after a failed reload the handshake says %q, want the running pingInterval 10000", got)
	}
}
