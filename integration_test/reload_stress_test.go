package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// reloadRun is the part of bench/loadgen's reload result this test reads.
type reloadRun struct {
	Errors   int64  `json:"errors"`
	FirstErr string `json:"first_error"`
	N        int    `json:"n"`
	Up       int    `json:"up"`
	Sent     int64  `json:"sent"`
	Ops      int64  `json:"ops"`
	Lost     int64  `json:"lost"`
	Stress   struct {
		Reload struct {
			Reloads     int      `json:"reloads"`
			Disconnects int      `json:"disconnects"`
			Duplicates  int64    `json:"duplicates"`
			Checks      int      `json:"checks"`
			Failed      []string `json:"failed_checks"`
			ByKind      map[string]struct {
				Clients int `json:"clients"`
			} `json:"by_kind"`
		} `json:"reload"`
	} `json:"stress"`
}

// The smoke run of bench/stress.sh's reload scenario, at a small size,
// through this Caddy: clients on every transport (WebSocket, polling kept
// alive, polling with a new connection per request as socket.io-client
// does in Node, polling upgraded to WebSocket, and protocol 3 polling and
// WebSocket) receive a numbered broadcast through reloads that change the
// CORS origins, the namespaces, a relay and the limits, loaded through the
// admin API. Nobody may be disconnected, every client gets every broadcast
// exactly once, and each change is in effect once its reload returns (the
// scenario checks four per config: stress_reload.go).
func TestTheReloadStressScenarioLosesNothing(t *testing.T) {
	const clients, reloads = 36, 4
	loadgen := filepath.Join(t.TempDir(), "loadgen")
	build := exec.Command("go", "build", "-o", loadgen, "./bench/loadgen")
	build.Dir = testpeer.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./bench/loadgen: %v\n%s", err, out)
	}
	port := freePort(t)
	c := startCaddy(t, fmt.Sprintf("http://127.0.0.1:%d {\n\trespond \"the scenario loads its own config\"\n}\n", port))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, loadgen, "-scenario", "reload",
		"-url", fmt.Sprintf("http://127.0.0.1:%d/socket.io/", port), "-admin", "http://"+c.adminAddr,
		"-n", fmt.Sprint(clients), "-reloads", fmt.Sprint(reloads), "-reload-every", "300ms", "-tick", "100ms")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("loadgen: %v\n%s", err, stderr.String())
	}
	t.Logf("%s", out)
	var r reloadRun
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("loadgen's result %q: %v", out, err)
	}
	rl := r.Stress.Reload
	if rl.Reloads != reloads || rl.Checks != 4*(reloads+1) || len(rl.Failed) > 0 {
		t.Errorf("%d reloads, %d checks held (want %d and %d); failed: %q", rl.Reloads, rl.Checks, reloads, 4*(reloads+1), rl.Failed)
	}
	if r.Errors != 0 || rl.Disconnects != 0 || r.Up != clients {
		t.Errorf("%d errors (first: %q), %d disconnects, %d of %d clients connected at the end", r.Errors, r.FirstErr, rl.Disconnects, r.Up, clients)
	}
	if r.Sent == 0 || r.Lost != 0 || rl.Duplicates != 0 || r.Ops != r.Sent*int64(clients) {
		t.Errorf("%d broadcasts, %d deliveries (want %d), %d lost, %d duplicated", r.Sent, r.Ops, r.Sent*int64(clients), r.Lost, rl.Duplicates)
	}
	if len(rl.ByKind) != 6 {
		t.Errorf("clients of %d transports, want 6: %v", len(rl.ByKind), rl.ByKind)
	}
}
