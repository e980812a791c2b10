package integration_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// clientSpec describes one socket.io-client that testdata/clients.js opens.
type clientSpec struct {
	Name       string            `json:"name"`
	Version    string            `json:"version"` // "v4" or "v2"
	URL        string            `json:"url"`
	Path       string            `json:"path,omitempty"`
	Namespace  string            `json:"namespace,omitempty"`
	Transports []string          `json:"transports,omitempty"`
	Query      map[string]string `json:"query,omitempty"`
}

// clientEvent is one line testdata/clients.js printed.
type clientEvent struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	ID          string          `json:"id"`
	Transport   string          `json:"transport"`
	Reason      string          `json:"reason"`
	Error       string          `json:"error"`
	Description string          `json:"description"`
	Event       string          `json:"event"`
	Args        json.RawMessage `json:"args"`
	Reply       json.RawMessage `json:"reply"`
	Clients     []struct {
		Name      string `json:"name"`
		Connected bool   `json:"connected"`
		ID        string `json:"id"`
		Transport string `json:"transport"`
	} `json:"clients"`
	at time.Time // when the Go side read the line
}

// nodeClients is a running testdata/clients.js. The test that started it
// owns it; its reader goroutine ends when the script's stdout closes, which
// t.Cleanup forces by killing the script.
type nodeClients struct {
	t     testing.TB
	stdin io.WriteCloser

	mu     sync.Mutex // guards events
	events []clientEvent
}

// startClients runs testdata/clients.js with the given clients; it does not
// wait for them to connect.
func startClients(t testing.TB, specs ...clientSpec) *nodeClients {
	t.Helper()
	data, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	return startClientScript(t, "clients.js", []string{"CLIENTS=" + string(data)}, nil)
}

// startClientScript runs testdata/<script>, which speaks the line protocol
// of clients.js (events out, commands in), with env added to the
// environment. extra, when not nil, sees each event with its line as
// printed, to read fields of the script's own that clientEvent lacks; it
// runs on the reader goroutine, before the event is recorded.
func startClientScript(t testing.TB, script string, env []string, extra func(e clientEvent, line []byte)) *nodeClients {
	t.Helper()
	cmd := testpeer.NodeCommand(context.Background(), t, filepath.Join("testdata", script), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &nodeClients{t: t}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", script, err)
	}
	readerDone := make(chan struct{})
	go func() { // owned by c: ends when the script's stdout closes
		defer close(readerDone)
		scanner := bufio.NewScanner(stdout)
		scanner.Buffer(make([]byte, 1<<20), 16<<20)
		for scanner.Scan() {
			var e clientEvent
			if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
				e = clientEvent{Type: "unreadable", Error: scanner.Text()}
			} else if extra != nil {
				extra(e, scanner.Bytes())
			}
			e.at = time.Now()
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = c.stdin.Close()
		_ = cmd.Process.Kill()
		<-readerDone
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s events:\n%s\nstderr:\n%s", script, c.dump(), stderr.String())
		}
	})
	return c
}

// send writes one command line to the script.
func (c *nodeClients) send(cmd map[string]any) {
	c.t.Helper()
	data, err := json.Marshal(cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.stdin.Write(append(data, '\n')); err != nil {
		c.t.Fatalf("writing to clients.js: %v", err)
	}
}

// waitFor returns the first event (from the start of the run) that match
// accepts, or fails the test after within.
func (c *nodeClients) waitFor(within time.Duration, what string, match func(clientEvent) bool) clientEvent {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		if e, ok := c.find(match); ok {
			return e
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("clients.js: no %s within %v; events so far:\n%s", what, within, c.dump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *nodeClients) find(match func(clientEvent) bool) (clientEvent, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if match(e) {
			return e, true
		}
	}
	return clientEvent{}, false
}

// all returns the events so far that match accepts.
func (c *nodeClients) all(match func(clientEvent) bool) []clientEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []clientEvent
	for _, e := range c.events {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// connected waits until every named client connected and returns their
// connect events by name.
func (c *nodeClients) connected(within time.Duration, names ...string) map[string]clientEvent {
	c.t.Helper()
	out := make(map[string]clientEvent, len(names))
	for _, name := range names {
		out[name] = c.waitFor(within, name+" connecting", func(e clientEvent) bool {
			if e.Name == name && e.Type == "connect_error" {
				c.t.Fatalf("%s could not connect: %s (%s)", name, e.Error, e.Description)
			}
			return e.Name == name && e.Type == "connected"
		})
	}
	return out
}

// is returns a matcher for events of one type and client.
func is(typ, name string) func(clientEvent) bool {
	return func(e clientEvent) bool { return e.Type == typ && e.Name == name }
}

// onWebSocket matches the moment a client is on WebSocket: connected over
// it (the upgrade can finish before Socket.IO's connect), or upgraded later.
func onWebSocket(name string) func(clientEvent) bool {
	return func(e clientEvent) bool {
		return e.Name == name && (e.Type == "connected" || e.Type == "upgrade") && e.Transport == "websocket"
	}
}

func (c *nodeClients) dump() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, e := range c.events {
		data, _ := json.Marshal(e)
		b.WriteString(e.at.Format("15:04:05.000 "))
		b.Write(data)
		b.WriteByte('\n')
	}
	return b.String()
}
