package testpeer

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// JSONLines collects the JSON objects a process prints, one a line, for a
// test to wait on; other lines are skipped.
type JSONLines struct {
	name string
	mu   sync.Mutex
	all  []map[string]any
	cond *sync.Cond
	done bool // the output ended (or a Wait timed out)
}

// NewJSONLines reads r until it ends; name says whose lines they are in
// failures.
func NewJSONLines(name string, r io.Reader) *JSONLines {
	l := &JSONLines{name: name}
	l.cond = sync.NewCond(&l.mu)
	go func() { // ends with r
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			l.mu.Lock()
			l.all = append(l.all, m)
			l.cond.Broadcast()
			l.mu.Unlock()
		}
		l.mu.Lock()
		l.done = true
		l.cond.Broadcast()
		l.mu.Unlock()
	}()
	return l
}

// Wait returns the first line from index from on that match accepts, and
// the index after it; it fails the test, with every line, after 20 s or
// when the output ends first.
func (l *JSONLines) Wait(t testing.TB, from int, what string, match func(map[string]any) bool) (map[string]any, int) {
	t.Helper()
	return l.wait(t, from, what, 20*time.Second, match)
}

// wait is Wait with the time it gives.
func (l *JSONLines) wait(t testing.TB, from int, what string, within time.Duration, match func(map[string]any) bool) (map[string]any, int) {
	t.Helper()
	timer := time.AfterFunc(within, func() {
		l.mu.Lock()
		l.done = true
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; ; i++ {
		for i >= len(l.all) && !l.done {
			l.cond.Wait()
		}
		if i >= len(l.all) {
			all, _ := json.Marshal(l.all)
			t.Fatalf("%s: no %s; it printed %s", l.name, what, all)
		}
		if match(l.all[i]) {
			return l.all[i], i + 1
		}
	}
}

// Line is line i.
func (l *JSONLines) Line(i int) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all[i]
}

// Since returns the lines from index from on.
func (l *JSONLines) Since(from int) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]any(nil), l.all[from:]...)
}

// Has matches the lines with key.
func Has(key string) func(map[string]any) bool {
	return func(m map[string]any) bool { _, ok := m[key]; return ok }
}

// StartNodeScript runs a Node script (a path) with the repository's
// node_modules and env, and collects its JSON lines; it is killed when the
// test ends, and its stderr is logged if the test failed.
func StartNodeScript(t testing.TB, script string, env ...string) (*JSONLines, *exec.Cmd) {
	t.Helper()
	cmd := NodeCommand(context.Background(), t, script, env...)
	var stderr LockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", script, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.String() != "" {
			t.Logf("%s stderr:\n%s", filepath.Base(script), stderr.String())
		}
	})
	return NewJSONLines(filepath.Base(script), out), cmd
}
