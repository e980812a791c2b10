package integration_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// Caddy with `adapter redis_streams` beside a Node socket.io node with
// @socket.io/redis-streams-adapter 0.3.1: the scripts are the redisstreams
// package's (redisstreams/testdata).

// streamsScript is a script of redisstreams/testdata.
func streamsScript(name string) string {
	return filepath.Join(testpeer.RepoRoot(), "redisstreams", "testdata", name)
}

// jsonLines is what a Node script printed, line by line, as JSON objects.
type jsonLines struct {
	mu   sync.Mutex
	all  []map[string]any
	cond *sync.Cond
	done bool
}

// runScript starts a Node script, killed when the test ends.
func runScript(t *testing.T, script string, env ...string) *jsonLines {
	t.Helper()
	cmd := exec.Command(testpeer.Node(t), script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(testpeer.RepoRoot(), "node_modules"))
	cmd.Env = append(cmd.Env, env...)
	var stderr testpeer.LockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &jsonLines{}
	l.cond = sync.NewCond(&l.mu)
	go func() { // ends when the script's stdout closes
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				l.mu.Lock()
				l.all = append(l.all, m)
				l.cond.Broadcast()
				l.mu.Unlock()
			}
		}
		l.mu.Lock()
		l.done = true
		l.cond.Broadcast()
		l.mu.Unlock()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(script), stderr.String())
		}
	})
	return l
}

// wait returns the index of the first line from from on that match accepts.
func (l *jsonLines) wait(t *testing.T, from int, what string, match func(map[string]any) bool) int {
	t.Helper()
	timer := time.AfterFunc(20*time.Second, func() {
		l.mu.Lock()
		l.done = true
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; ; i++ {
		for i >= len(l.all) && !l.done {
			l.cond.Wait()
		}
		if i >= len(l.all) {
			b, _ := json.Marshal(l.all)
			t.Fatalf("no %s; the script printed %s", what, b)
		}
		if match(l.all[i]) {
			return i
		}
	}
}

func (l *jsonLines) line(i int) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all[i]
}

var streamOffset = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// Our node is killed (kill -9) while its clients are connected; Node's
// node broadcasts to their room meanwhile; they come back through the same
// address to Node's node and recover: same id, their room, every event
// they missed once and in order. Node's adapter alone loses them
// (socket.io-redis-streams-adapter#27): it writes a session at a clean
// disconnect only, where ours keeps it in Redis while the socket is
// connected.
func TestStreamsClientsOfAKilledCaddyRecoverOnTheNodeNode(t *testing.T) {
	r := startRedisProcess(t)
	nodeLines := runScript(t, streamsScript("node-server.js"), "REDIS_URL=redis://"+r.addr())
	nodePort := nodeLines.line(nodeLines.wait(t, 0, "port", func(m map[string]any) bool { return m["port"] != nil }))["port"]
	nodeAddr := fmt.Sprintf("127.0.0.1:%v", nodePort)
	port := freePort(t)
	caddy := startCaddy(t, fmt.Sprintf(`http://127.0.0.1:%d {
	socketio {
		connection_state_recovery {
			max_disconnection_duration 1m
		}
		adapter redis_streams %s
		namespace / {
			join room1
		}
	}
}
`, port, r.addr()))
	caddyAddr := fmt.Sprintf("127.0.0.1:%d", port)
	emit := func(event string, n int) {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("http://%s/emit?room=room1&event=%s&n=%d", nodeAddr, event, n))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	type client struct {
		lines *jsonLines
		id    string
		away  int // index of the line after "before"
	}
	proxy := testpeer.StartCutProxy(t, caddyAddr)
	clients := make([]*client, 2)
	for i := range clients {
		c := &client{lines: runScript(t, streamsScript("client.js"), "URL="+proxy.URL())}
		c.id = c.lines.line(c.lines.wait(t, 0, "connect", func(m map[string]any) bool { return m["connect"] != nil }))["connect"].(string)
		clients[i] = c
	}
	emit("before", 0)
	for _, c := range clients {
		c.away = c.lines.wait(t, 0, "before", func(m map[string]any) bool { return m["event"] == "before" }) + 1
	}

	proxy.Cut() // no reconnection until the missed events are out
	if err := caddy.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-caddy.exited
	emit("missed", 1)
	emit("missed", 2)
	emit("missed", 3)
	proxy.RestoreTo(nodeAddr)

	for _, c := range clients {
		i := c.lines.wait(t, c.away, "reconnect", func(m map[string]any) bool { return m["connect"] != nil })
		if back := c.lines.line(i); back["connect"] != c.id || back["recovered"] != true {
			t.Errorf("client %s came back as %v, want the same id, recovered", c.id, back)
		}
	}
	emit("after", 4) // reaches them only if they are in room1 again
	for _, c := range clients {
		end := c.lines.wait(t, c.away, "after", func(m map[string]any) bool { return m["event"] == "after" })
		var got []string
		for i := c.away; i <= end; i++ {
			m := c.lines.line(i)
			name, ok := m["event"].(string)
			if !ok {
				continue
			}
			args := m["args"].([]any)
			if off, _ := args[len(args)-1].(string); !streamOffset.MatchString(off) {
				t.Errorf("event %s without a stream offset: %v", name, args)
			}
			got = append(got, fmt.Sprintf("%s %v", name, args[:len(args)-1]))
		}
		if want := []string{"missed [1]", "missed [2]", "missed [3]", "after [4]"}; !slices.Equal(got, want) {
			t.Errorf("client %s got %q after the kill, want %q", c.id, got, want)
		}
	}
}
