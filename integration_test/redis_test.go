package integration_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// Caddy as one node of a Socket.IO cluster on Redis: with a Node socket.io
// node (@socket.io/redis-adapter), with another Caddy node behind a Caddy
// load balancer, and through a Redis outage.

// redisProcess is a redis-server of the test's own, on a free loopback port,
// without persistence. The test that started it owns it; kill and restart
// keep the port, for outages.
type redisProcess struct {
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd // nil while killed
}

func startRedisProcess(t testing.TB) *redisProcess {
	t.Helper()
	r := &redisProcess{t: t, bin: testpeer.RedisServer(t), port: freePort(t)}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisProcess) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// start runs redis-server and waits until it answers PING.
func (r *redisProcess) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", r.addr(), 100*time.Millisecond)
		if err != nil {
			continue
		}
		fmt.Fprint(c, "PING\r\n")
		buf := make([]byte, 7)
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := c.Read(buf)
		c.Close()
		if string(buf[:n]) == "+PONG\r\n" {
			return
		}
	}
	r.t.Fatalf("redis-server on %s did not start", r.addr())
}

// kill stops redis-server at once, as a crash would.
func (r *redisProcess) kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// subscribers is the number of servers subscribed to the request channel of
// namespace nsp: Node's serverCount().
func (r *redisProcess) subscribers(nsp string) int64 {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer c.Close()
	channel := "socket.io-request#" + nsp + "#"
	n, err := c.PubSubNumSub(context.Background(), channel).Result()
	if err != nil {
		r.t.Fatalf("PUBSUB NUMSUB %s: %v", channel, err)
	}
	return n[channel]
}

// waitSubscribers waits until want servers listen on nsp: only then do
// broadcasts reach every node.
func (r *redisProcess) waitSubscribers(nsp string, want int64) {
	r.t.Helper()
	got := r.subscribers(nsp)
	for deadline := time.Now().Add(15 * time.Second); got != want && time.Now().Before(deadline); got = r.subscribers(nsp) {
		time.Sleep(20 * time.Millisecond)
	}
	if got != want {
		r.t.Fatalf("%d servers subscribed to namespace %s on Redis, want %d", got, nsp, want)
	}
}

// redisChatSite is a Caddy node of the cluster: namespace /chat, where
// every socket joins room-<query.room> and "message" is relayed to the other
// sockets of the sender's rooms, on every node. testdata/redis_node.js is
// the same in Node.
func redisChatSite(port int, redisAddr string) string {
	return fmt.Sprintf(`http://127.0.0.1:%d {
	socketio {
		allow_eio3
		namespace /chat {
			relay message
			join room-{query.room}
		}
		adapter redis {
			address %s
		}
	}
}
`, port, redisAddr)
}

// startNodeRedisNode runs testdata/redis_node.js on the Redis at redisAddr
// and returns its base URL; the test's cleanup kills it.
func startNodeRedisNode(t *testing.T, redisAddr string) string {
	t.Helper()
	port, _ := testpeer.StartNodeServer(t, filepath.Join("testdata", "redis_node.js"), "REDIS_URL=redis://"+redisAddr)
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// chatClient is a client of namespace /chat in room-<room>.
func chatClient(name, version, url, room string) clientSpec {
	return clientSpec{Name: name, Version: version, URL: url, Namespace: "/chat", Query: map[string]string{"room": room}}
}

// message matches the "message" event with text received by client name.
func message(name, text string) func(clientEvent) bool {
	want, _ := json.Marshal([]string{text})
	return func(e clientEvent) bool {
		return e.Type == "received" && e.Name == name && e.Event == "message" && string(e.Args) == string(want)
	}
}

// messagesTo counts the "message" events client name received with text.
func messagesTo(c *nodeClients, name, text string) int { return len(c.all(message(name, text))) }

// relay makes client from emit "message" with text and waits until each of
// the clients in to has it.
func relay(t *testing.T, c *nodeClients, from, text string, to ...string) {
	t.Helper()
	c.send(map[string]any{"cmd": "emit", "name": from, "event": "message", "args": []string{text}})
	for _, name := range to {
		c.waitFor(10*time.Second, name+" receiving "+strconv.Quote(text), message(name, text))
	}
}

// deliveredExactly checks that each message reached exactly the clients
// listed for it, once each, after a quiet moment for late duplicates and
// leaks into other rooms.
func deliveredExactly(t *testing.T, c *nodeClients, clients []string, want map[string][]string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	for text, to := range want {
		for _, name := range clients {
			wantN := 0
			for _, n := range to {
				if n == name {
					wantN = 1
				}
			}
			if got := messagesTo(c, name, text); got != wantN {
				t.Errorf("%s received %q %d times, want %d", name, text, got, wantN)
			}
		}
	}
}

// A Caddy node and a Node socket.io node on one Redis: relayed room
// broadcasts cross both ways, with socket.io-client 4.x and 2.x on each
// side, exactly once, and into no other room.
func TestRedisCaddyAndNodeShareRooms(t *testing.T) {
	r := startRedisProcess(t)
	caddyPort := freePort(t)
	startCaddy(t, redisChatSite(caddyPort, r.addr()))
	nodeURL := startNodeRedisNode(t, r.addr())
	caddyURL := fmt.Sprintf("http://127.0.0.1:%d", caddyPort)
	r.waitSubscribers("/chat", 2)

	names := []string{"caddy-a4", "caddy-a2", "caddy-b4", "node-a4", "node-a2", "node-b2"}
	c := startClients(t,
		chatClient("caddy-a4", "v4", caddyURL, "a"), chatClient("caddy-a2", "v2", caddyURL, "a"),
		chatClient("caddy-b4", "v4", caddyURL, "b"),
		chatClient("node-a4", "v4", nodeURL, "a"), chatClient("node-a2", "v2", nodeURL, "a"),
		chatClient("node-b2", "v2", nodeURL, "b"))
	c.connected(15*time.Second, names...)

	relay(t, c, "caddy-a4", "from caddy, room a", "caddy-a2", "node-a4", "node-a2")
	relay(t, c, "node-a2", "from node, room a", "caddy-a4", "caddy-a2", "node-a4")
	relay(t, c, "caddy-b4", "from caddy, room b", "node-b2")
	relay(t, c, "node-b2", "from node, room b", "caddy-b4")
	deliveredExactly(t, c, names, map[string][]string{
		"from caddy, room a": {"caddy-a2", "node-a4", "node-a2"},
		"from node, room a":  {"caddy-a4", "caddy-a2", "node-a4"},
		"from caddy, room b": {"node-b2"},
		"from node, room b":  {"caddy-b4"},
	})
	for _, name := range names {
		if e, ok := c.find(is("disconnect", name)); ok {
			t.Errorf("%s disconnected: %s", name, e.Reason)
		}
	}
}

// lbClients runs testdata/redis_lb_clients.js: polling-only clients in
// room-<room> of url, which keep the load balancer's cookie lbCookie. It
// returns the clients (the protocol of clients.js) and, once connected, the
// cookie value of each.
func lbClients(t *testing.T, url, room, lbCookie string, names ...string) (*nodeClients, func(name string) string) {
	t.Helper()
	var mu sync.Mutex
	cookies := map[string]string{} // guarded by mu; written by the clients' reader goroutine
	c := startClientScript(t, "redis_lb_clients.js",
		[]string{"URL=" + url, "NAMES=" + strings.Join(names, ","), "ROOM=" + room, "LB_COOKIE=" + lbCookie},
		func(e clientEvent, line []byte) {
			var extra struct{ Cookie string }
			if e.Type == "connected" && json.Unmarshal(line, &extra) == nil {
				mu.Lock()
				cookies[e.Name] = extra.Cookie
				mu.Unlock()
			}
		})
	return c, func(name string) string {
		mu.Lock()
		defer mu.Unlock()
		return cookies[name]
	}
}

// Two Caddy nodes on one Redis behind a third Caddy with `reverse_proxy`
// and `lb_policy cookie`, as the README's recipe: polling-only clients on
// both nodes exchange relayed events.
func TestRedisTwoCaddyNodesBehindALoadBalancer(t *testing.T) {
	r := startRedisProcess(t)
	node1, node2, lb := freePort(t), freePort(t), freePort(t)
	startCaddy(t, redisChatSite(node1, r.addr()))
	startCaddy(t, redisChatSite(node2, r.addr()))
	// round_robin: the clients' first requests alternate between the nodes,
	// so both get some; the cookie keeps each session's polls on its node.
	startCaddy(t, fmt.Sprintf(`http://127.0.0.1:%d {
	reverse_proxy 127.0.0.1:%d 127.0.0.1:%d {
		lb_policy cookie lb_socketio {
			fallback round_robin
		}
	}
}
`, lb, node1, node2))
	r.waitSubscribers("/chat", 2)

	names := []string{"p1", "p2", "p3", "p4"}
	c, cookie := lbClients(t, fmt.Sprintf("http://127.0.0.1:%d/chat", lb), "lb", "lb_socketio", names...)
	c.connected(15*time.Second, names...)
	// The proxy's cookie is the HMAC-SHA256 of the upstream's address (no
	// secret given): it names each client's node.
	nodeOf := map[string]string{}
	for _, port := range []int{node1, node2} {
		mac := hmac.New(sha256.New, nil)
		mac.Write([]byte(fmt.Sprintf("127.0.0.1:%d", port)))
		nodeOf[hex.EncodeToString(mac.Sum(nil))] = strconv.Itoa(port)
	}
	on := map[string][]string{} // node port -> client names
	for _, name := range names {
		node, ok := nodeOf[cookie(name)]
		if !ok {
			t.Fatalf("%s has lb_socketio cookie %q, which names neither node", name, cookie(name))
		}
		on[node] = append(on[node], name)
	}
	if len(on) != 2 {
		t.Fatalf("every client landed on one node: %v", on)
	}
	first, second := on[strconv.Itoa(node1)][0], on[strconv.Itoa(node2)][0]
	others := func(except string) []string {
		var out []string
		for _, n := range names {
			if n != except {
				out = append(out, n)
			}
		}
		return out
	}
	relay(t, c, first, "from node 1", others(first)...)
	relay(t, c, second, "from node 2", others(second)...)
	deliveredExactly(t, c, names, map[string][]string{
		"from node 1": others(first),
		"from node 2": others(second),
	})
	for _, name := range names {
		if e, ok := c.find(is("disconnect", name)); ok {
			t.Errorf("%s disconnected: %s", name, e.Reason)
		}
	}
}

// Redis dies while Caddy serves: its own clients still relay to each other,
// the outage is logged once however much traffic it meets, and once Redis
// is back (same port) the nodes reach each other again.
func TestRedisOutageKeepsLocalClientsAndRecovers(t *testing.T) {
	r := startRedisProcess(t)
	caddyPort := freePort(t)
	caddy := startCaddy(t, redisChatSite(caddyPort, r.addr()))
	nodeURL := startNodeRedisNode(t, r.addr())
	caddyURL := fmt.Sprintf("http://127.0.0.1:%d", caddyPort)
	r.waitSubscribers("/chat", 2)

	names := []string{"caddy-1", "caddy-2", "node-1"}
	c := startClients(t,
		chatClient("caddy-1", "v4", caddyURL, "k"), chatClient("caddy-2", "v2", caddyURL, "k"),
		chatClient("node-1", "v4", nodeURL, "k"))
	c.connected(15*time.Second, names...)
	relay(t, c, "caddy-1", "before", "caddy-2", "node-1")

	r.kill()
	caddy.waitForLog("Redis unreachable", 10*time.Second)
	for i := range 3 {
		relay(t, c, "caddy-1", fmt.Sprintf("during %d", i), "caddy-2")
	}

	r.start()
	caddy.waitForLog("Redis reachable again", 15*time.Second)
	r.waitSubscribers("/chat", 2) // Node's client is back too
	relay(t, c, "caddy-1", "after, from caddy", "caddy-2", "node-1")
	relay(t, c, "node-1", "after, from node", "caddy-1", "caddy-2")
	deliveredExactly(t, c, names, map[string][]string{
		"during 0":          {"caddy-2"}, // lost between the nodes, as with Node
		"during 2":          {"caddy-2"},
		"after, from caddy": {"caddy-2", "node-1"},
		"after, from node":  {"caddy-1", "caddy-2"},
	})
	for _, name := range names {
		if e, ok := c.find(is("disconnect", name)); ok {
			t.Errorf("%s disconnected: %s", name, e.Reason)
		}
	}
	// Once when it starts (a warning), once when it ends; nothing else of
	// the adapter's above info, the failed publishes included.
	var outage, recovered int
	for _, e := range caddy.logEntries(func(e map[string]any) bool {
		logger, _ := e["logger"].(string)
		return strings.HasPrefix(logger, "socketio.adapters.redis") || strings.HasPrefix(logger, "http.handlers.socketio")
	}) {
		msg, _ := e["msg"].(string)
		switch {
		case e["level"] == "warn" && strings.HasPrefix(msg, "Redis unreachable"):
			outage++
		case e["level"] == "info" && strings.HasPrefix(msg, "Redis reachable again"):
			recovered++
		case e["level"] == "warn" || e["level"] == "error":
			t.Errorf("unexpected log entry: %v", e)
		}
	}
	if outage != 1 || recovered != 1 {
		t.Errorf("the outage was logged %d times and its end %d times, want once each", outage, recovered)
	}
}

// emitFromRedis publishes event with args to room of namespace nsp through
// @socket.io/redis-emitter on the Redis at redisAddr, as an application
// outside the cluster would.
func emitFromRedis(t *testing.T, redisAddr, nsp, room, event string, args ...string) {
	t.Helper()
	data, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	res := testpeer.RunNode(t, 30*time.Second, filepath.Join("testdata", "redis_emit.js"),
		"REDIS_URL=redis://"+redisAddr, "NSP="+nsp, "ROOM="+room, "EVENT="+event, "ARGS="+string(data))
	if res.Err != nil {
		t.Fatalf("redis_emit.js: %v\n%s", res.Err, res.Stderr)
	}
}

// `caddy reload` with another Redis address keeps the clients connected
// (same socket, no disconnect) and, by the time it returns, has made Caddy
// a node of the new Redis and of the old one no longer: nothing has to
// reach Caddy after the reload for the move (the clients are on WebSocket,
// which sends no HTTP request), yet an emitter on the new Redis reaches
// them.
func TestRedisReloadToAnotherRedisKeepsTheClients(t *testing.T) {
	oldRedis, newRedis := startRedisProcess(t), startRedisProcess(t)
	caddyPort := freePort(t)
	caddy := startCaddy(t, redisChatSite(caddyPort, oldRedis.addr()))
	nodeURL := startNodeRedisNode(t, newRedis.addr())
	caddyURL := fmt.Sprintf("http://127.0.0.1:%d", caddyPort)
	oldRedis.waitSubscribers("/chat", 1)
	newRedis.waitSubscribers("/chat", 1) // the Node node alone

	names := []string{"caddy-1", "caddy-2", "node-1"}
	c := startClients(t,
		chatClient("caddy-1", "v4", caddyURL, "r"), chatClient("caddy-2", "v2", caddyURL, "r"),
		chatClient("node-1", "v4", nodeURL, "r"))
	c.connected(15*time.Second, names...)
	for _, name := range names[:2] {
		c.waitFor(10*time.Second, name+" upgrading to WebSocket", onWebSocket(name))
	}
	relay(t, c, "caddy-1", "before", "caddy-2")
	emitFromRedis(t, oldRedis.addr(), "/chat", "room-r", "message", "emitted on the old Redis, before")
	c.waitFor(10*time.Second, "the emitter's message before the reload", message("caddy-1", "emitted on the old Redis, before"))

	caddy.reload(redisChatSite(caddyPort, newRedis.addr()))
	// Only Redis is asked from here on: no request reaches Caddy.
	newRedis.waitSubscribers("/chat", 2)
	oldRedis.waitSubscribers("/chat", 0)
	emitFromRedis(t, newRedis.addr(), "/chat", "room-r", "message", "emitted on the new Redis")
	emitFromRedis(t, oldRedis.addr(), "/chat", "room-r", "message", "emitted on the old Redis, after")
	for _, name := range names {
		c.waitFor(10*time.Second, name+" receiving the emitter's message", message(name, "emitted on the new Redis"))
	}
	relay(t, c, "caddy-1", "after, from caddy", "caddy-2", "node-1")
	relay(t, c, "node-1", "after, from node", "caddy-1", "caddy-2")
	deliveredExactly(t, c, names, map[string][]string{
		"before":                           {"caddy-2"},
		"emitted on the old Redis, before": {"caddy-1", "caddy-2"},
		"emitted on the new Redis":         {"caddy-1", "caddy-2", "node-1"},
		"emitted on the old Redis, after":  {},
		"after, from caddy":                {"caddy-2", "node-1"},
		"after, from node":                 {"caddy-1", "caddy-2"},
	})
	for _, name := range names {
		if n := len(c.all(is("connected", name))); n != 1 {
			t.Errorf("%s connected %d times, want once", name, n)
		}
		if e, ok := c.find(is("disconnect", name)); ok {
			t.Errorf("%s disconnected: %s", name, e.Reason)
		}
	}
}
