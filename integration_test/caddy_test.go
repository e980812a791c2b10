package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// caddyProcess is one `caddy run` started by a test. The test that started it
// owns it; t.Cleanup kills it if the test did not stop it.
type caddyProcess struct {
	t          testing.TB
	dir        string // the test's temporary directory: the Caddyfile and Caddy's data
	configPath string
	adminAddr  string
	global     []string // extra global options, kept on reload
	cmd        *exec.Cmd
	logs       *testpeer.LockedBuffer // Caddy's stderr: its JSON logs
	exited     chan struct{}          // closed when the process has exited
	exitErr    error                  // valid once exited is closed
}

// freePort returns a loopback port nothing listens on right now. Caddy needs
// the number in its Caddyfile, so the listener is closed again; the window
// in which another process could take it is small. A port is handed out
// once per test binary, so that two picks in a row never collide.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if _, taken := handedOut.LoadOrStore(port, true); !taken {
			return port
		}
	}
	t.Fatal("no fresh free port after 100 tries")
	return 0
}

// handedOut holds the ports freePort returned (a set; any goroutine).
var handedOut sync.Map

// globalOptions is the global block every generated Caddyfile starts with:
// an admin endpoint on its own free port (never the default 2019, which a
// developer's own Caddy may hold), plain HTTP, nothing saved to disk, and
// any extra global options a test needs.
func globalOptions(adminAddr string, extra ...string) string {
	return fmt.Sprintf(`{
	admin %s
	auto_https off
	persist_config off
%s
}
`, adminAddr, indent(strings.Join(extra, "\n"), "\t"))
}

// startCaddy writes sites (Caddyfile site blocks, without the global
// options; extra global options in global) to a file and runs `caddy run`
// on it until Caddy says it serves the configuration.
func startCaddy(t testing.TB, sites string, global ...string) *caddyProcess {
	t.Helper()
	c := newCaddyProcess(t)
	c.global = global
	c.writeConfig(sites)
	c.start("run", "--config", c.configPath, "--adapter", "caddyfile")
	return c
}

// startCaddyfile runs `caddy run` on a whole Caddyfile as given; its admin
// endpoint comes from CADDY_ADMIN, so the file may leave it unset.
func startCaddyfile(t testing.TB, caddyfile string) *caddyProcess {
	t.Helper()
	c := newCaddyProcess(t)
	if err := os.WriteFile(c.configPath, []byte(caddyfile), 0o600); err != nil {
		t.Fatalf("writing the Caddyfile: %v", err)
	}
	c.start("run", "--config", c.configPath, "--adapter", "caddyfile")
	return c
}

func newCaddyProcess(t testing.TB) *caddyProcess {
	t.Helper()
	dir := t.TempDir()
	c := &caddyProcess{
		t:          t,
		dir:        dir,
		configPath: filepath.Join(dir, "Caddyfile"),
		adminAddr:  fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	return c
}

// start runs caddyBin with args from the repository root (so relative paths
// such as ./site resolve as they do for a user) and waits until it serves.
func (c *caddyProcess) start(args ...string) {
	c.t.Helper()
	c.logs = &testpeer.LockedBuffer{}
	c.exited = make(chan struct{})
	c.cmd = exec.Command(caddyBin, args...)
	c.cmd.Dir = testpeer.RepoRoot()
	c.cmd.Env = append(os.Environ(),
		"HOME="+c.dir,
		"XDG_DATA_HOME="+filepath.Join(c.dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(c.dir, "config"),
		"CADDY_ADMIN="+c.adminAddr,
	)
	c.cmd.Stdout = c.logs
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("starting caddy: %v", err)
	}
	go func() { // owned by this caddyProcess: ends when the process does
		c.exitErr = c.cmd.Wait()
		close(c.exited)
	}()
	c.t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		if c.t.Failed() {
			c.t.Logf("caddy logs:\n%s", c.logs.String())
		}
	})
	c.waitForLog("serving initial configuration", 20*time.Second)
}

func (c *caddyProcess) writeConfig(sites string) {
	c.t.Helper()
	config := globalOptions(c.adminAddr, c.global...) + "\n" + sites
	if err := os.WriteFile(c.configPath, []byte(config), 0o600); err != nil {
		c.t.Fatalf("writing the Caddyfile: %v", err)
	}
}

// waitForLog waits until Caddy's output contains text, or fails the test
// with the logs if Caddy exits or the time is up.
func (c *caddyProcess) waitForLog(text string, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(c.logs.String(), text) {
		select {
		case <-c.exited:
			c.t.Fatalf("caddy exited (%v) before logging %q:\n%s", c.exitErr, text, c.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("caddy did not log %q within %v:\n%s", text, within, c.logs.String())
		}
	}
}

// logEntries returns Caddy's JSON log entries so far that match accepts.
func (c *caddyProcess) logEntries(match func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(c.logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && match(entry) {
			out = append(out, entry)
		}
	}
	return out
}

// cli runs another caddy subcommand (reload, stop, validate, adapt) against
// this instance's Caddyfile and admin endpoint and returns its output.
func (c *caddyProcess) cli(args ...string) (string, error) {
	c.t.Helper()
	return runCaddyCommand(c.dir, c.adminAddr, args...)
}

// runCaddyCommand runs caddyBin once with args, from the repository root.
func runCaddyCommand(dir, adminAddr string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, caddyBin, args...)
	cmd.Dir = testpeer.RepoRoot()
	cmd.Env = append(os.Environ(),
		"HOME="+dir,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
	)
	if adminAddr != "" {
		cmd.Env = append(cmd.Env, "CADDY_ADMIN="+adminAddr)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// reload replaces the running configuration with sites through `caddy
// reload`, which returns once the new configuration is in place.
func (c *caddyProcess) reload(sites string) {
	c.t.Helper()
	c.writeConfig(sites)
	if out, err := c.cli("reload", "--config", c.configPath, "--adapter", "caddyfile", "--address", c.adminAddr); err != nil {
		c.t.Fatalf("caddy reload: %v\n%s", err, out)
	}
}

// stop runs `caddy stop` (which returns once Caddy has stopped its apps)
// and waits for the process to exit; it returns how long that took.
func (c *caddyProcess) stop(within time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	if out, err := c.cli("stop", "--address", c.adminAddr); err != nil {
		c.t.Fatalf("caddy stop: %v\n%s", err, out)
	}
	select {
	case <-c.exited:
	case <-time.After(within - time.Since(start)):
		c.t.Fatalf("caddy did not exit within %v of `caddy stop`:\n%s", within, c.logs.String())
	}
	if c.exitErr != nil {
		c.t.Errorf("caddy exited with %v after `caddy stop`:\n%s", c.exitErr, c.logs.String())
	}
	return time.Since(start)
}

// httpGet fetches url with a short timeout and returns the response with
// its body read.
func httpGet(t testing.TB, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("request %s: %v", url, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, req)
}

// freshClient opens a new connection for every request: right after a
// `caddy reload` an idle kept-alive connection may still be served by the
// old config, and a test must see the one it just loaded.
var freshClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := freshClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		t.Fatalf("reading the body of %s %s: %v", req.Method, req.URL, err)
	}
	return resp, body.String()
}
