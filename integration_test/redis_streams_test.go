package integration_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// Caddy with `adapter redis_streams` beside a Node socket.io node with
// @socket.io/redis-streams-adapter 0.3.1: the scripts are the redisstreams
// package's (redisstreams/testdata).

// streamsScript is a script of redisstreams/testdata.
func streamsScript(name string) string {
	return filepath.Join(testpeer.RepoRoot(), "redisstreams", "testdata", name)
}

var streamOffset = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// Our node is killed (kill -9) while its clients are connected; Node's
// node broadcasts to their room meanwhile; they come back through the same
// address to the other node, Node's or another Caddy, and recover: same
// id, their room, every event they missed once and in order. Node's
// adapter alone loses them (socket.io-redis-streams-adapter#27): it writes
// a session at a clean disconnect only, where ours keeps it in Redis while
// the socket is connected.
func TestStreamsClientsOfAKilledCaddyRecoverOnTheNodeNode(t *testing.T) {
	testStreamsKilledCaddy(t, false)
}

func TestStreamsClientsOfAKilledCaddyRecoverOnAnotherCaddy(t *testing.T) {
	testStreamsKilledCaddy(t, true)
}

// streamsSite is a Caddy site with recovery and adapter redis_streams on
// redisAddr; new sockets join room1. extra goes in the socketio block.
func streamsSite(port int, redisAddr string, extra string) string {
	return fmt.Sprintf(`http://127.0.0.1:%d {
	socketio {
		connection_state_recovery {
			max_disconnection_duration 1m
		}
		adapter redis_streams %s
		namespace / {
			join room1
		}
%s
	}
}
`, port, redisAddr, extra)
}

type streamsClient struct {
	lines *testpeer.JSONLines
	id    string
	away  int // index of the line after "before"
}

// streamsCluster is a Redis, Node's node, and a way to broadcast from it.
func streamsCluster(t *testing.T) (r *redisProcess, nodeAddr string, emit func(event string, n int)) {
	t.Helper()
	r = startRedisProcess(t)
	nodeLines, _ := testpeer.StartNodeScript(t, streamsScript("node-server.js"), "REDIS_URL=redis://"+r.addr())
	m, _ := nodeLines.Wait(t, 0, "port", testpeer.Has("port"))
	nodeAddr = fmt.Sprintf("127.0.0.1:%v", m["port"])
	emit = func(event string, n int) {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("http://%s/emit?room=room1&event=%s&n=%d", nodeAddr, event, n))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	return r, nodeAddr, emit
}

// connectStreamsClients connects n clients through proxy and waits until
// each has an offset (a "before" broadcast).
func connectStreamsClients(t *testing.T, proxy *testpeer.CutProxy, n int, emit func(string, int)) []*streamsClient {
	t.Helper()
	clients := make([]*streamsClient, n)
	for i := range clients {
		lines, _ := testpeer.StartNodeScript(t, streamsScript("client.js"), "URL="+proxy.URL())
		m, _ := lines.Wait(t, 0, "connect", testpeer.Has("connect"))
		c := &streamsClient{lines: lines, id: m["connect"].(string)}
		clients[i] = c
	}
	emit("before", 0)
	for _, c := range clients {
		_, c.away = c.lines.Wait(t, 0, "before", func(m map[string]any) bool { return m["event"] == "before" })
	}
	return clients
}

// checkRecovered checks that each client came back with its id, and got
// the missed events then "after" (sent now to room1), once, in order.
func checkRecovered(t *testing.T, clients []*streamsClient, emit func(string, int), missed ...string) {
	t.Helper()
	for _, c := range clients {
		if back, _ := c.lines.Wait(t, c.away, "reconnect", testpeer.Has("connect")); back["connect"] != c.id || back["recovered"] != true {
			t.Errorf("client %s came back as %v, want the same id, recovered", c.id, back)
		}
	}
	emit("after", 9) // reaches them only if they are in room1 again
	for _, c := range clients {
		_, end := c.lines.Wait(t, c.away, "after", func(m map[string]any) bool { return m["event"] == "after" })
		var got []string
		for _, m := range c.lines.Since(c.away)[:end-c.away] {
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
		if want := append(missed, "after [9]"); !slices.Equal(got, want) {
			t.Errorf("client %s got %q after it lost its connection, want %q", c.id, got, want)
		}
	}
}

func testStreamsKilledCaddy(t *testing.T, toCaddy bool) {
	r, nodeAddr, emit := streamsCluster(t)
	port := freePort(t)
	caddy := startCaddy(t, streamsSite(port, r.addr(), ""))
	target := nodeAddr
	if toCaddy {
		other := freePort(t)
		startCaddy(t, streamsSite(other, r.addr(), ""))
		target = fmt.Sprintf("127.0.0.1:%d", other)
	}
	proxy := testpeer.StartCutProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	clients := connectStreamsClients(t, proxy, 2, emit)

	proxy.Cut() // no reconnection until the missed events are out
	if err := caddy.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-caddy.exited
	emit("missed", 1)
	emit("missed", 2)
	emit("missed", 3)
	proxy.RestoreTo(target)
	checkRecovered(t, clients, emit, "missed [1]", "missed [2]", "missed [3]")
}

// A client that loses its connection to one node (its TCP connection cut,
// the node alive) comes back to the other, Caddy onto Node's node and
// Node's onto Caddy, and recovers there: same id, its room, every event
// broadcast meanwhile, once and in order.
func TestStreamsClientRecoversAcrossCaddyAndNode(t *testing.T) {
	for _, fromCaddy := range []bool{true, false} {
		name := map[bool]string{true: "caddy onto node", false: "node onto caddy"}[fromCaddy]
		t.Run(name, func(t *testing.T) {
			r, nodeAddr, emit := streamsCluster(t)
			port := freePort(t)
			startCaddy(t, streamsSite(port, r.addr(), ""))
			from, to := fmt.Sprintf("127.0.0.1:%d", port), nodeAddr
			if !fromCaddy {
				from, to = to, from
			}
			proxy := testpeer.StartCutProxy(t, from)
			clients := connectStreamsClients(t, proxy, 2, emit)
			proxy.Cut() // no reconnection until the missed events are out
			emit("missed", 1)
			emit("missed", 2)
			proxy.RestoreTo(to)
			checkRecovered(t, clients, emit, "missed [1]", "missed [2]")
		})
	}
}

// `caddy reload` keeps the node, and with it the sessions: a client that
// lost its connection before the reload recovers after it on the same
// Caddy.
func TestStreamsReloadKeepsTheSessions(t *testing.T) {
	r, _, emit := streamsCluster(t)
	port := freePort(t)
	caddy := startCaddy(t, streamsSite(port, r.addr(), ""))
	proxy := testpeer.StartCutProxy(t, fmt.Sprintf("127.0.0.1:%d", port))
	clients := connectStreamsClients(t, proxy, 1, emit)
	proxy.Cut()
	emit("missed", 1)
	caddy.reload(streamsSite(port, r.addr(), "		max_connections 1000"))
	emit("missed", 2)
	proxy.Restore()
	checkRecovered(t, clients, emit, "missed [1]", "missed [2]")
}
