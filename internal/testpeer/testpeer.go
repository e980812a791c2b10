// Package testpeer finds the real peers the tests talk to: Node.js with the
// npm packages from the repository's package.json, headless Chromium, and
// redis-server, php-fpm and python3. A missing peer skips the test on a developer's machine, but
// fails it under CI=true, where .ci/run is expected to have installed it: a
// skipped test must never be counted as a pass there. It also plays a few
// peers itself: CutProxy (a network that is lost), IdleWebSocketDialer
// (idle clients that cost next to nothing on their side).
package testpeer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// RepoRoot is the directory holding go.mod and package.json.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Missing reports a peer that is not installed: a failure under CI=true, a
// skip elsewhere.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required test peer missing (CI=true): "+format, args...)
	}
	t.Skipf("test peer missing: "+format, args...)
}

// Node returns the node binary, after checking that the npm packages are
// installed (npm ci at the repository root).
func Node(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(t, "node not on PATH")
	}
	if _, err := os.Stat(filepath.Join(RepoRoot(), "node_modules", "socket.io-client")); err != nil {
		Missing(t, "node_modules not installed; run `npm ci` in %s", RepoRoot())
	}
	return node
}

// Chromium returns the path of Debian's chromium binary.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Missing(t, "chromium not installed; run `apt-get install -y chromium`")
	return ""
}

// RedisServer returns the path of the redis-server binary.
func RedisServer(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server not installed; run `apt-get install -y redis-server`")
	}
	return p
}

// PHPFPM returns the path of Debian's php-fpm binary (php-fpm8.2 and the
// like, in /usr/sbin), or of PHP_FPM when it is set.
func PHPFPM(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PHP_FPM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("php-fpm"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/sbin/php-fpm*")
	if len(matches) > 0 {
		return matches[len(matches)-1] // the newest version, in name order
	}
	Missing(t, "php-fpm not installed; run `apt-get install -y php-fpm`")
	return ""
}

// Python3 returns the path of python3 (the standard library is all the
// tests' backends use).
func Python3(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		Missing(t, "python3 not on PATH; run `apt-get install -y python3`")
	}
	return p
}

// NodeCommand is node running script (a path) with the repository's
// node_modules on NODE_PATH and env added to the environment; ctx kills it
// as exec.CommandContext does.
func NodeCommand(ctx context.Context, t testing.TB, script string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, Node(t), script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(RepoRoot(), "node_modules"))
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// Result is what a finished Node script printed.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// RunNode runs a Node script (a path, or a file under the caller's testdata)
// with the repository's node_modules on NODE_PATH, extra environment
// variables, and a deadline. Scripts report with their exit code and stdout.
func RunNode(t testing.TB, timeout time.Duration, script string, env ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := NodeCommand(ctx, t, script, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// StartNodeServer starts a Node script that serves until killed and
// announces its port with a JSON line {"port": N} on stdout (more lines may
// follow). It returns the port and the process id; the process is killed
// when the test ends (StartNodeScript), and the test fails when no port is
// announced within 15 s.
func StartNodeServer(t testing.TB, script string, env ...string) (port, pid int) {
	t.Helper()
	lines, cmd := StartNodeScript(t, script, env...)
	announced := func(m map[string]any) bool { p, _ := m["port"].(float64); return p != 0 }
	m, _ := lines.wait(t, 0, `{"port": N} line`, 15*time.Second, announced)
	return int(m["port"].(float64)), cmd.Process.Pid
}

// LockedBuffer collects a process's output while a test reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
