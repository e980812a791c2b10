package redisstreams

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// startRedis runs a redis-server of the test's own on a free loopback
// port, without persistence, and returns a client of it.
func startRedis(t *testing.T) (addr string, client *redis.Client) {
	t.Helper()
	addr, client, _ = startKillableRedis(t)
	return addr, client
}

// startKillableRedis is startRedis, and kill stops the server as a crash
// would.
func startKillableRedis(t *testing.T) (addr string, client *redis.Client, kill func()) {
	t.Helper()
	bin := testpeer.RedisServer(t)
	port := testpeer.FreePort(t)
	cmd := exec.Command(bin, testpeer.RedisArgs(port)...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	var once sync.Once
	kill = func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(kill)
	addr = "127.0.0.1:" + strconv.Itoa(port)
	client = redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for client.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, client, kill
}

func isEvent(name string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["event"] == name }
}

// startNode runs a script of testdata (testpeer.StartNodeScript).
func startNode(t *testing.T, script string, env ...string) (*testpeer.JSONLines, *exec.Cmd) {
	t.Helper()
	return testpeer.StartNodeScript(t, filepath.Join("testdata", script), env...)
}

// startNodeServer runs node-server.js and returns its URL and its lines.
func startNodeServer(t *testing.T, redisAddr string) (string, *testpeer.JSONLines) {
	t.Helper()
	l, _ := startNode(t, "node-server.js", "REDIS_URL=redis://"+redisAddr)
	m, _ := l.Wait(t, 0, "port", testpeer.Has("port"))
	return fmt.Sprintf("127.0.0.1:%v", m["port"]), l
}

// goNode is a Go Socket.IO server in the cluster, with recovery on. A new
// socket joins room1 and gets data {"name":"ann"}, as on node-server.js.
type goNode struct {
	addr  string
	io    *socketio.Server
	group *Group
	mu    sync.Mutex
	seen  []string
	cond  *sync.Cond
}

func startGoNode(t *testing.T, redisAddr string, logger *zap.Logger) *goNode {
	t.Helper()
	if logger == nil {
		logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	client := redis.NewClient(&redis.Options{Addr: redisAddr})
	g, err := NewGroup(Config{Client: client, Logger: logger, SessionRefresh: time.Second, RequestsTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	n := &goNode{group: g}
	n.cond = sync.NewCond(&n.mu)
	n.io = socketio.NewServer(engine.NewServer(engine.Options{Logger: logger}), socketio.Options{
		Logger: logger, Adapter: g.Adapter,
		ConnectionStateRecovery: &socketio.RecoveryOptions{MaxDisconnectionDuration: time.Minute},
	})
	n.io.OnConnection(func(s *socketio.Socket) {
		if !s.Recovered() {
			s.Join("room1")
			s.SetData(map[string]string{"name": "ann"})
		}
		n.note(fmt.Sprintf("connect %s recovered=%v", s.ID(), s.Recovered()))
		s.OnDisconnect(func(reason string) { n.note("disconnect " + s.ID() + " " + reason) })
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = ln.Addr().String()
	hs := &http.Server{Handler: n.io}
	go hs.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = n.io.Shutdown(ctx)
		_ = hs.Close()
		_ = g.Close()
		_ = client.Close()
	})
	return n
}

func (n *goNode) note(s string) {
	n.mu.Lock()
	n.seen = append(n.seen, s)
	n.cond.Broadcast()
	n.mu.Unlock()
}

// waitNote waits until the node noted a line starting with prefix.
func (n *goNode) waitNote(t *testing.T, prefix string) string {
	t.Helper()
	timer := time.AfterFunc(15*time.Second, func() { n.note("timeout") })
	defer timer.Stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := 0; ; i++ {
		for i >= len(n.seen) {
			n.cond.Wait()
		}
		if strings.HasPrefix(n.seen[i], prefix) {
			return n.seen[i]
		}
		if n.seen[i] == "timeout" {
			t.Fatalf("go node: no %q; it saw %q", prefix, n.seen)
		}
	}
}
