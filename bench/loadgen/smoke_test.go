package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// startNodeReference starts bench/node/server.js on a free port, with the
// extra environment given (REDIS_URL makes it a cluster node), and returns
// its endpoint URL and process id; the process is killed when the test ends.
func startNodeReference(t *testing.T, env ...string) (string, int) {
	t.Helper()
	port, pid := testpeer.StartNodeServer(t, filepath.Join(testpeer.RepoRoot(), "bench", "node", "server.js"), append([]string{"PORT=0"}, env...)...)
	return fmt.Sprintf("http://127.0.0.1:%d/socket.io/", port), pid
}

// smokeRun runs the load generator with args and fails the test when the
// run reports errors, loses deliveries, or completes nothing; it returns
// the result and its JSON line.
func smokeRun(t *testing.T, args []string) (result, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := run(ctx, args)
	if err != nil {
		t.Fatalf("loadgen %s: %v", strings.Join(args, " "), err)
	}
	line, _ := json.Marshal(r)
	t.Logf("%s", line)
	if r.Errors != 0 || r.Ops == 0 || r.Lost != 0 {
		t.Fatalf("%d errors (first: %q), %d operations, %d lost", r.Errors, r.FirstErr, r.Ops, r.Lost)
	}
	return r, line
}

// TestEveryScenarioRunsAgainstTheNodeReference is the smoke run CI does:
// each scenario, both protocols, a second each, against the Node reference
// server. No thresholds: it fails only when a scenario reports errors, loses
// deliveries, or completes nothing.
func TestEveryScenarioRunsAgainstTheNodeReference(t *testing.T) {
	url, pid := startNodeReference(t)
	pidFlag := fmt.Sprint(pid)
	for _, eio := range []string{"4", "3"} {
		for _, tc := range []struct {
			name string
			args []string
		}{
			{"conns", []string{"-scenario", "conns", "-n", "50", "-hold", "500ms"}},
			{"conns over polling", []string{"-scenario", "conns", "-n", "20", "-hold", "500ms", "-transport", "polling"}},
			{"echo", []string{"-scenario", "echo", "-c", "5"}},
			{"openloop", []string{"-scenario", "openloop", "-c", "5", "-offered", "200"}},
			{"fanout", []string{"-scenario", "fanout", "-n", "20"}},
			{"fanout with an idle polling session", []string{"-scenario", "fanout", "-n", "20", "-idle-polling"}},
			{"fanout with a stalled WebSocket client", []string{"-scenario", "fanout", "-n", "20", "-stalled-websocket"}},
			{"handshake", []string{"-scenario", "handshake", "-c", "5"}},
			{"polling", []string{"-scenario", "polling", "-c", "5"}},
		} {
			t.Run("EIO"+eio+" "+tc.name, func(t *testing.T) {
				r, line := smokeRun(t, append([]string{"-url", url, "-eio", eio, "-d", "1s", "-pid", pidFlag, "-label", "node"}, tc.args...))
				if fmt.Sprint(r.Protocol) != eio || r.Server != "node" || r.RSSAfter == 0 {
					t.Fatalf("result misses what the flags asked for: %s", line)
				}
				// 200 events/s for a second from 5 clients on a fixed
				// schedule: 40 each, whatever the server's speed.
				if r.Scenario == "openloop" && (r.Sent != 200 || r.Ops != r.Sent || r.OfferedPerSec != 200 || r.P999us == 0) {
					t.Fatalf("openloop: want 200 events sent and acked at the offered 200/s, with a p99.9: %s", line)
				}
			})
		}
	}
}

// startRedis runs a redis-server of the test's own on a free loopback port,
// without persistence, until the test ends, and returns its URL.
func startRedis(t *testing.T) string {
	t.Helper()
	bin := testpeer.RedisServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "redis://" + addr
		}
	}
	t.Fatalf("redis-server did not listen on %s within 10s", addr)
	return ""
}

// TestFanoutAcrossTwoNodesThroughRedis is the smoke run of the cross-node
// fanout: two Node reference nodes on one redis-server, the receivers split
// over both. Every receiver gets every event, whichever node it is on, and
// each node's share is reported.
func TestFanoutAcrossTwoNodesThroughRedis(t *testing.T) {
	redisURL := startRedis(t)
	url1, pid1 := startNodeReference(t, "REDIS_URL="+redisURL)
	url2, pid2 := startNodeReference(t, "REDIS_URL="+redisURL)
	for _, eio := range []string{"4", "3"} {
		t.Run("EIO"+eio, func(t *testing.T) {
			r, line := smokeRun(t, []string{"-scenario", "fanout", "-n", "20", "-d", "1s", "-eio", eio, "-label", "node",
				"-url", url1, "-pid", fmt.Sprint(pid1), "-url2", url2, "-pid2", fmt.Sprint(pid2)})
			if r.Variant != "cluster" || len(r.Nodes) != 2 {
				t.Fatalf("want the variant cluster with two nodes: %s", line)
			}
			for i, n := range r.Nodes {
				if n.Receivers != 10 || n.Ops != r.Sent*10 || n.ServerCPUus == 0 {
					t.Fatalf("node %d: want 10 receivers with %d deliveries and its CPU measured: %+v", i+1, r.Sent*10, n)
				}
			}
			if r.ServerWrites == 0 || r.Nodes[0].ServerWrites+r.Nodes[1].ServerWrites != r.ServerWrites {
				t.Fatalf("write calls not read from both nodes' /proc/<pid>/io: %s", line)
			}
			if want := r.Nodes[0].ServerCPUus + r.Nodes[1].ServerCPUus; r.ServerCPUus != want {
				t.Fatalf("server CPU %d µs, want the two nodes' sum %d µs", r.ServerCPUus, want)
			}
		})
	}
}
