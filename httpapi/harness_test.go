package httpapi

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// fixture is a Socket.IO server with the API beside it, on one listener:
// clients connect at /socket.io/, the API is at /api/. A connecting socket
// joins the room of its handshake query (?room=) and gets {"name": ...}
// as its data, so that tests can place clients and recognise them.
type fixture struct {
	URL string
	io  *socketio.Server
	api *Handler
}

const testKey = "test-key-0123456789"

func startFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	if opts.Keys == nil {
		opts.Keys = []string{testKey}
	}
	eng := engine.NewServer(engine.Options{AllowEIO3: true, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	io := socketio.NewServer(eng, socketio.Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	place := func(s *socketio.Socket) error {
		q := s.Handshake().Query()
		if room := q.Get("room"); room != "" {
			s.Join(room)
		}
		s.SetData(map[string]string{"name": q.Get("name")})
		return nil
	}
	io.Of("/").Use(place)
	io.Of("/chat").Use(place)
	opts.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	f := &fixture{io: io, api: New(Fixed(io), opts)}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	mux.Handle("/api/", http.StripPrefix("/api", f.api))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.URL = "http://" + ln.Addr().String()
	return f
}

// answer is what an API call returned.
type answer struct {
	status int
	header http.Header
	body   string
}

// json decodes the body.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("answer %d %q is not a JSON object: %v", a.status, a.body, err)
	}
	return m
}

// errorCode is the error.code of an error answer.
func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	e, _ := a.json(t)["error"].(map[string]any)
	if e == nil {
		t.Fatalf("answer %d %q has no error object", a.status, a.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("error answer %q has no message", a.body)
	}
	code, _ := e["code"].(string)
	return code
}

// message is the error.message of an error answer.
func (a answer) message(t *testing.T) string {
	t.Helper()
	e, _ := a.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// call sends an API request with the test key; headers are name, value
// pairs (an "Authorization" pair replaces the key).
func (f *fixture) call(t *testing.T, method, path, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, f.URL+"/api"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(b))}
}

// clients is a Node process running testdata/clients.js, with the lines
// it printed so far.
type clients struct {
	mu    sync.Mutex
	cond  *sync.Cond
	lines []string
}

// startClients starts the clients of spec (see clients.js) and waits until
// all are connected.
func startClients(t *testing.T, url, spec string, env ...string) *clients {
	t.Helper()
	node := testpeer.Node(t)
	cmd := exec.Command(node, "testdata/clients.js")
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(testpeer.RepoRoot(), "node_modules"), "URL="+url, "CLIENTS="+spec)
	cmd.Env = append(cmd.Env, env...)
	var stderr testpeer.LockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &clients{}
	c.cond = sync.NewCond(&c.mu)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.cond.Broadcast()
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("clients printed:\n%s\nstderr:\n%s", strings.Join(c.snapshot(), "\n"), stderr.String())
		}
	})
	for _, s := range strings.Split(spec, ",") {
		c.wait(t, "connected "+strings.Split(s, ":")[0])
	}
	return c
}

func (c *clients) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// wait blocks until the clients printed line, for at most 10 s.
func (c *clients) wait(t *testing.T, line string) {
	t.Helper()
	if !c.waitFor(line, 10*time.Second) {
		t.Fatalf("the clients did not print %q; they printed:\n%s", line, strings.Join(c.snapshot(), "\n"))
	}
}

func (c *clients) waitFor(line string, d time.Duration) bool {
	timer := time.AfterFunc(d, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for _, l := range c.lines {
			if l == line {
				return true
			}
		}
		if !time.Now().Before(deadline) {
			return false
		}
		c.cond.Wait()
	}
}

// count is how many times the clients printed line.
func (c *clients) count(line string) int {
	n := 0
	for _, l := range c.snapshot() {
		if l == line {
			n++
		}
	}
	return n
}

// has reports whether some client printed a line starting with prefix.
func (c *clients) has(prefix string) bool {
	for _, l := range c.snapshot() {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
