package testpeer

import (
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port nothing listens on right now; the
// listener that found it is closed again, for the peer to take.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RedisArgs is the command line of a test's own redis-server (RedisServer)
// on port: loopback only, nothing saved to disk, in the foreground, warnings
// only; extra follows.
func RedisArgs(port int, extra ...string) []string {
	return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"}, extra...)
}

// RedisCluster starts a Redis Cluster of three masters of the test's own
// (stopped at its end) and returns their addresses once it is ready.
func RedisCluster(t testing.TB) []string {
	t.Helper()
	bin := RedisServer(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		Missing(t, "redis-cli not installed; run `apt-get install -y redis-tools`")
	}
	var addrs []string
	for range 3 {
		port := FreePort(t)
		cmd := exec.Command(bin, RedisArgs(port, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(t.TempDir(), "nodes.conf"))...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting redis-server: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		addr := "127.0.0.1:" + strconv.Itoa(port)
		waitPing(t, cli, port)
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range addrs {
		for {
			out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", a[len("127.0.0.1:"):], "cluster", "info").Output()
			if strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Redis Cluster not ready: %s", out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// waitPing waits up to 10 s for the redis-server on port to answer PING.
func waitPing(t testing.TB, cli string, port int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, _ := exec.Command(cli, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "ping").Output()
		if strings.TrimSpace(string(out)) == "PONG" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not start", port)
		}
	}
}
