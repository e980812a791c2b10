package redisadapter

import (
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// redisServer is a redis-server of the test's own, on a free loopback port,
// without persistence. Kill and Start stop and restart it on the same port,
// for the outage tests.
type redisServer struct {
	t     *testing.T
	bin   string
	port  int
	extra []string    // more redis-server arguments
	tls   *tls.Config // the port speaks TLS only
	cmd   *exec.Cmd
	done  chan struct{}
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	r := &redisServer{t: t, bin: testpeer.RedisServer(t), port: freePort(t)}
	r.Start()
	t.Cleanup(r.Kill)
	return r
}

// startRedisCluster starts a Redis Cluster of three masters and returns
// their addresses.
func startRedisCluster(t *testing.T) []string { return testpeer.RedisCluster(t) }

func freePort(t *testing.T) int { return testpeer.FreePort(t) }

// Addr is host:port.
func (r *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// URL is the redis:// URL.
func (r *redisServer) URL() string { return "redis://" + r.Addr() }

// Start runs redis-server and waits until it accepts connections.
func (r *redisServer) Start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, testpeer.RedisArgs(r.port, r.extra...)...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(r.cmd, r.done)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var c net.Conn
		var err error
		if r.tls != nil {
			c, err = tls.DialWithDialer(&net.Dialer{Timeout: 100 * time.Millisecond}, "tcp", r.Addr(), r.tls)
		} else {
			c, err = net.DialTimeout("tcp", r.Addr(), 100*time.Millisecond)
		}
		if err == nil {
			// Without AUTH a protected server answers -NOAUTH: up all the same.
			fmt.Fprint(c, "PING\r\n")
			buf := make([]byte, 16)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			n, _ := c.Read(buf)
			c.Close()
			if reply := string(buf[:n]); reply == "+PONG\r\n" || strings.HasPrefix(reply, "-NOAUTH") {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("redis-server on %s did not start", r.Addr())
}

// Kill stops redis-server at once, as a crash would.
func (r *redisServer) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}
