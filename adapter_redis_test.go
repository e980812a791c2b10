package caddysocketio

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func parseRedisAdapter(t *testing.T, input string) (*RedisAdapter, error) {
	t.Helper()
	r := new(RedisAdapter)
	err := r.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return r, err
}

func TestRedisAdapterCaddyfile(t *testing.T) {
	for _, c := range []struct{ name, input, want string }{
		{"defaults", `redis`, `{}`},
		{"address as argument", `redis 10.0.0.1:6379`, `{"addresses":["10.0.0.1:6379"]}`},
		{"every option", "redis {\n address 127.0.0.1:6379\n username app\n password {env.REDIS_PASSWORD}\n db 2\n tls\n key_prefix myapp\n requests_timeout 2s\n}",
			`{"addresses":["127.0.0.1:6379"],"username":"app","password":"{env.REDIS_PASSWORD}","db":2,"tls":true,"key_prefix":"myapp","requests_timeout":2000000000}`},
		{"cluster addresses add up", "redis a:7000 {\n address b:7001 c:7002\n address d:7003\n}",
			`{"addresses":["a:7000","b:7001","c:7002","d:7003"]}`},
		{"URL", "redis {\n address rediss://user:secret@redis.example.com:6380/0\n}",
			`{"addresses":["rediss://user:secret@redis.example.com:6380/0"]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseRedisAdapter(t, c.input)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(r)
			if string(b) != c.want {
				t.Errorf("got  %s\nwant %s", b, c.want)
			}
		})
	}
}

func TestRedisAdapterCaddyfileErrors(t *testing.T) {
	for _, c := range []struct{ name, input, want string }{
		{"unknown option", "redis {\n adress 127.0.0.1:6379\n}", `unknown option "adress"`},
		{"duplicate", "redis {\n db 1\n db 2\n}", "db given twice"},
		{"db not a number", "redis {\n db one\n}", `db "one" is not a database number`},
		{"negative db", "redis {\n db -1\n}", `db "-1"`},
		{"bad timeout", "redis {\n requests_timeout soon\n}", `requests_timeout "soon"`},
		{"tls with a value", "redis {\n tls yes\n}", `tls takes no value`},
		{"two passwords", "redis {\n password a b\n}", `password takes one value`},
		{"address without value", "redis {\n address\n}", "wrong argument count"},
		{"empty key_prefix", "redis {\n key_prefix \"\"\n}", "key_prefix must not be empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseRedisAdapter(t, c.input)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
}

func provisionRedisAdapter(t *testing.T, r *RedisAdapter) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	err := r.Provision(ctx)
	if err == nil {
		t.Cleanup(func() { _ = r.Cleanup() })
		err = r.Validate()
	}
	return err
}

// mustProvision provisions r as provisionRedisAdapter does, or fails the
// test.
func mustProvision(t *testing.T, r *RedisAdapter) *RedisAdapter {
	t.Helper()
	if err := provisionRedisAdapter(t, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// A bad address fails provisioning (and so `caddy validate`) with a clear
// message, without any Redis running.
func TestRedisAdapterBadAddressesFailValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		r    RedisAdapter
		want string
	}{
		{"no port", RedisAdapter{Addresses: []string{"localhost"}}, `redis address "localhost"`},
		{"port out of range", RedisAdapter{Addresses: []string{"127.0.0.1:70000"}}, `port "70000" is not a number from 1 to 65535`},
		{"bad URL scheme", RedisAdapter{Addresses: []string{"http://127.0.0.1:6379"}}, `redis address "http://127.0.0.1:6379"`},
		{"password hidden in errors", RedisAdapter{Addresses: []string{"redis://u:hunter2@host:6379/x"}}, `redis://[redacted]@host:6379/x`},
		{"db with a cluster", RedisAdapter{Addresses: []string{"a:7000", "b:7001"}, DB: 3}, "a Redis Cluster has only db 0"},
		{"unset variable", RedisAdapter{Addresses: []string{"{env.CADDY_SOCKETIO_TEST_UNSET}"}}, `redis address ""`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.r
			err := provisionRedisAdapter(t, &r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v; want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// Placeholders are resolved at provision, and equal settings share one
// connection, which is what keeps subscriptions across a reload.
func TestRedisAdapterPlaceholdersAndPooling(t *testing.T) {
	t.Setenv("CADDY_SOCKETIO_TEST_REDIS", "127.0.0.1:1")
	t.Setenv("CADDY_SOCKETIO_TEST_PASSWORD", "s3cret")
	a := mustProvision(t, &RedisAdapter{Addresses: []string{"{env.CADDY_SOCKETIO_TEST_REDIS}"}, Password: "{env.CADDY_SOCKETIO_TEST_PASSWORD}"})
	if got := a.client.Addresses; len(got) != 1 || got[0] != "127.0.0.1:1" || a.client.Password != "s3cret" {
		t.Errorf("resolved %v / %q", got, a.client.Password)
	}
	if strings.Contains(a.key, "s3cret") {
		t.Errorf("pool key shows the password: %s", a.key)
	}
	b := mustProvision(t, &RedisAdapter{Addresses: []string{"127.0.0.1:1"}, Password: "s3cret"})
	if a.group != b.group || a.AdapterFactory() == nil {
		t.Error("equal settings did not share the cluster connection")
	}
	c := mustProvision(t, &RedisAdapter{Addresses: []string{"127.0.0.1:1"}, Password: "s3cret", KeyPrefix: "other"})
	if c.group == a.group || c.key == a.key {
		t.Error("a changed key_prefix kept the old connection")
	}
}

// A reload provisions the new config's adapter before it cleans up the old
// one, while the live server (made with the old one's factory) lives on.
// With the same settings the connection survives; with others the server
// moves (as the handler's Attach does); either way the namespaces created
// later still get the Redis adapter, and once the server and the last
// config are gone nothing is left running.
func TestRedisAdapterReloadLeavesNothingRunning(t *testing.T) {
	for _, c := range []struct {
		name, next string
		sameGroup  bool
	}{
		{"same settings keep the connection", "127.0.0.1:1", true},
		{"a new address moves the server", "127.0.0.1:2", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			old := &RedisAdapter{Addresses: []string{"127.0.0.1:1"}}
			if err := old.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: old.AdapterFactory()})
			next := &RedisAdapter{Addresses: []string{c.next}}
			if err := next.Provision(ctx); err != nil {
				t.Fatal(err)
			}
			next.AdoptServer(srv)
			if err := old.Cleanup(); err != nil {
				t.Fatal(err)
			}
			if (next.group == old.group) != c.sameGroup {
				t.Errorf("the new config shares the old connection: %v, want %v", next.group == old.group, c.sameGroup)
			}
			if _, ok := srv.Of("/late").Adapter().(*redisadapter.Adapter); !ok {
				t.Error("a namespace created after the reload did not get the Redis adapter")
			}
			shutdown, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancelShutdown()
			if err := srv.Shutdown(shutdown); err != nil {
				t.Fatal(err)
			}
			if err := next.Cleanup(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The way the socketio directive reads `adapter redis {...}`: the module is
// registered under socketio.adapters and parses its own segment.
func TestRedisAdapterAsInlineModule(t *testing.T) {
	d := caddyfile.NewTestDispenser("adapter redis 127.0.0.1:6379 {\n key_prefix app\n}\nnext_directive")
	d.Next() // adapter
	if !d.NextArg() || d.Val() != "redis" {
		t.Fatal("no module name")
	}
	unm, err := caddyfile.UnmarshalModule(d, "socketio.adapters.redis")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(unm)
	if string(b) != `{"addresses":["127.0.0.1:6379"],"key_prefix":"app"}` {
		t.Errorf("got %s", b)
	}
}

// startRedisServer runs a redis-server of the test's own on a free loopback
// port, without persistence, and returns its address; the test's cleanup
// kills it. No goroutine waits on it, so goleak checks are not disturbed.
func startRedisServer(t *testing.T) string {
	t.Helper()
	bin := testpeer.RedisServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + port
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr
		}
	}
	t.Fatalf("redis-server on %s did not start", addr)
	return ""
}

// redisSubscribers is the number of servers subscribed to the request
// channel of the main namespace in the Redis at addr: Node's server count.
func redisSubscribers(t *testing.T, addr string) int64 {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	n, err := c.PubSubNumSub(context.Background(), "socket.io-request#/#").Result()
	if err != nil {
		t.Fatal(err)
	}
	return n["socket.io-request#/#"]
}

func waitRedisSubscribers(t *testing.T, addr string, want int64) {
	t.Helper()
	got := redisSubscribers(t, addr)
	for deadline := time.Now().Add(10 * time.Second); got != want && time.Now().Before(deadline); got = redisSubscribers(t, addr) {
		time.Sleep(20 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("%d servers subscribed on the Redis at %s, want %d", got, addr, want)
	}
}

// goRedisNode is a Socket.IO server of our own (no HTTP: it has no clients)
// joined to the Redis at addr, to broadcast to another node's clients.
func goRedisNode(t *testing.T, addr string) (srv *socketio.Server, stop func()) {
	t.Helper()
	g, err := redisadapter.NewGroup(redisadapter.ClientConfig{Addresses: []string{addr}}, redisadapter.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv = socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: g.Adapter})
	return srv, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = g.Close()
	}
}

// wsSocket is a Socket.IO client written out in Engine.IO 4 frames over one
// WebSocket, in the main namespace, so that the test sees every packet the
// server sends (a close or a DISCONNECT included). Its reader goroutine
// answers pings and ends when the connection closes.
type wsSocket struct {
	conn    *websocket.Conn
	sid     string      // the Socket.IO socket id
	packets chan string // what the server sent after the CONNECT answer; closed at the end
	writeMu sync.Mutex
}

func dialWSSocket(t *testing.T, addr string) *wsSocket {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &wsSocket{conn: conn, packets: make(chan string, 16)}
	if _, open, err := conn.ReadMessage(); err != nil || !strings.HasPrefix(string(open), `0{"sid":"`) {
		t.Fatalf("open packet %q: %v", open, err)
	}
	s.send(t, "40")
	_, ack, err := conn.ReadMessage()
	m := regexp.MustCompile(`^40\{"sid":"([^"]{20})"\}$`).FindStringSubmatch(string(ack))
	if err != nil || m == nil {
		t.Fatalf("CONNECT answer %q: %v", ack, err)
	}
	s.sid = m[1]
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.packets)
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if string(msg) == "2" {
				s.writeMu.Lock()
				_ = conn.WriteMessage(websocket.TextMessage, []byte("3"))
				s.writeMu.Unlock()
				continue
			}
			s.packets <- string(msg)
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

func (s *wsSocket) send(t *testing.T, packet string) {
	t.Helper()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(packet)); err != nil {
		t.Fatal(err)
	}
}

// expect reads the next packet from the server, which must be want.
func (s *wsSocket) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got, ok := <-s.packets:
		if !ok {
			t.Fatalf("the connection closed; want %s", want)
		}
		if got != want {
			t.Fatalf("the server sent %s, want %s", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s from the server", want)
	}
}

// A `caddy reload` that points the adapter at another Redis keeps the live
// server: the connected client keeps its socket and sees nothing, and once
// the reload returns the server is a node of the new Redis only, with no
// request to the new config (cleaning the old config up moves it).
func TestReloadToAnotherRedisKeepsTheClients(t *testing.T) {
	redisA, redisB := startRedisServer(t), startRedisServer(t)
	addr := inProcessCaddy(t)
	// certmagic's storage lock, taken by caddy.Load, is refreshed until the
	// process ends: Caddy's, not ours.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("github.com/caddyserver/certmagic.keepLockfileFresh"))
	const handler = `socketio {
		namespace / {
			relay chat
		}
		adapter redis {
			address %s
		}
	}`
	config := func(redisAddr string) string { return site(addr, "\t"+fmt.Sprintf(handler, redisAddr)) }
	loadCaddyfile(t, config(redisA))
	nodeA, stopA := goRedisNode(t, redisA)
	defer stopA()
	nodeB, stopB := goRedisNode(t, redisB)
	defer stopB()
	c := dialWSSocket(t, addr)
	waitRedisSubscribers(t, redisA, 2) // Caddy and nodeA
	if err := nodeA.Of("/").To(c.sid).Emit("hello", "via A"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, `42["hello","via A"]`)

	// Reloads to B that fail leave the server on A: one where a second
	// site shares the handler's name with other options, and one that
	// holds the server twice before an adapter fails to load (cleaning the
	// first of its handlers up, while the second still holds the server,
	// must not move it either).
	_, port, _ := net.SplitHostPort(addr)
	conflicting := config(redisB) + "http://localhost:" + port + " {\n\tsocketio {\n\t\tping_interval 4s\n\t\tadapter redis " + redisB + "\n\t}\n}\n"
	twice := site(addr, "\troute {\n\t"+fmt.Sprintf(handler, redisB)+"\n\t"+fmt.Sprintf(handler, redisB)+
		"\n\tsocketio {\n\t\tpath /other/\n\t\tadapter redis {env.CADDY_SOCKETIO_TEST_UNSET}\n\t}\n\t}")
	for _, bad := range []string{conflicting, twice} {
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(bad), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := caddy.Load(cfg, true); err == nil {
			t.Fatalf("a config that cannot load loaded:\n%s", bad)
		}
		if res, err := http.Get("http://" + addr + "/socket.io/?EIO=4&transport=polling"); err != nil {
			t.Fatal(err)
		} else {
			res.Body.Close()
		}
		if n := redisSubscribers(t, redisB); n != 1 {
			t.Errorf("after a failed reload %d servers listen on the new Redis, want 1 (nodeB)", n)
		}
		if err := nodeA.Of("/").To(c.sid).Emit("hello", "via A after the failed reload"); err != nil {
			t.Fatal(err)
		}
		c.expect(t, `42["hello","via A after the failed reload"]`)
	}

	loadCaddyfile(t, config(redisB)) // caddy reload
	// Only Redis is asked from here on, until the client's own event.
	waitRedisSubscribers(t, redisB, 2)
	waitRedisSubscribers(t, redisA, 1) // nodeA alone: Caddy left the old Redis
	if err := nodeB.Of("/").To(c.sid).Emit("hello", "via B"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, `42["hello","via B"]`) // same socket id, no close or DISCONNECT before it

	// The client's relayed event is published on the new Redis.
	sub := redis.NewClient(&redis.Options{Addr: redisB})
	defer sub.Close()
	ps := sub.PSubscribe(context.Background(), "socket.io#/#*")
	defer ps.Close()
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.send(t, `42["chat","hi from Caddy"]`)
	select {
	case msg := <-ps.Channel():
		if !strings.Contains(msg.Payload, "hi from Caddy") || msg.Channel != "socket.io#/#" {
			t.Errorf("published on %s: %q", msg.Channel, msg.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relayed event did not reach the new Redis")
	}
	// A broadcast on the old Redis no longer reaches the client.
	if err := nodeA.Of("/").To(c.sid).Emit("hello", "via A again"); err != nil {
		t.Fatal(err)
	}
	if err := nodeB.Of("/").To(c.sid).Emit("hello", "via B again"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, `42["hello","via B again"]`)

	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	// The server closes the WebSocket, as Node's io.close() does (no close
	// packet on WebSocket).
	for p := range c.packets {
		t.Errorf("after caddy stop the server sent %s", p)
	}
	waitRedisSubscribers(t, redisB, 1)
	stopA()
	stopB()
	_ = ps.Close()
	_ = sub.Close()
	http.DefaultClient.CloseIdleConnections()
}

// A reload that adds the adapter cannot keep the server (its namespaces
// cannot leave the in-memory adapter in place): the clients are closed, to
// reconnect to a new server that is a node of the Redis; removing it again
// unsubscribes at once.
func TestReloadAddingTheAdapterStartsANewServer(t *testing.T) {
	redisAddr := startRedisServer(t)
	addr := inProcessCaddy(t)
	plain := site(addr, "\tsocketio\n")
	withRedis := site(addr, "\tsocketio {\n\t\tadapter redis "+redisAddr+"\n\t}\n")
	loadCaddyfile(t, plain)
	c := dialWSSocket(t, addr)
	loadCaddyfile(t, withRedis)
	for p := range c.packets {
		t.Errorf("the server sent %s before closing", p)
	}
	waitRedisSubscribers(t, redisAddr, 1) // the new server, before any client
	again := dialWSSocket(t, addr)
	if again.sid == c.sid {
		t.Errorf("the new server gave the same socket id %s", c.sid)
	}
	loadCaddyfile(t, plain)
	waitRedisSubscribers(t, redisAddr, 0)
}
