// Package integration_test drives a real Caddy, built from ./caddy-build with
// this module, through generated Caddyfiles: the official socket.io-client
// (v4 and the legacy v2) from Node, headless Chromium loading pages from a
// second origin, and plain HTTP for the wire bytes a user would see with curl.
package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// caddyBin is the Caddy binary built once by TestMain for every test.
var caddyBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "caddy-socketio-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration_test: creating the build directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	caddyBin = filepath.Join(dir, "caddy")
	build := exec.Command("go", "build", "-o", caddyBin, "./caddy-build")
	build.Dir = testpeer.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "integration_test: go build ./caddy-build failed: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
