package redisadapter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// nodePeer drives testdata/peer.js: a Node socket.io server in the cluster,
// Node clients, and the Redis emitter.
type nodePeer struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	mu     sync.Mutex
	nextID int
}

func startNodePeer(t *testing.T) *nodePeer {
	t.Helper()
	node := testpeer.Node(t)
	cmd := exec.Command(node, filepath.Join("testdata", "peer.js"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(testpeer.RepoRoot(), "node_modules"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodePeer{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		_, _ = fmt.Fprintln(stdin, `{"id":-1,"cmd":"quit"}`)
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return p
}

// testWriter passes the peer's stderr to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Logf("peer.js: %s", b)
	return len(b), nil
}

// do runs a command and decodes its result into out (when not nil).
func (p *nodePeer) do(cmd string, args map[string]any, out any) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	msg := map[string]any{"id": p.nextID, "cmd": cmd}
	for k, v := range args {
		msg[k] = v
	}
	b, _ := json.Marshal(msg)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("peer %s: %v", cmd, err)
	}
	select {
	case line, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("peer.js exited during %s", cmd)
		}
		var reply struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  string          `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &reply); err != nil {
			p.t.Fatalf("peer %s: bad reply %q", cmd, line)
		}
		if reply.Error != "" {
			p.t.Fatalf("peer %s %s: %s", cmd, b, reply.Error)
		}
		if out != nil {
			if err := json.Unmarshal(reply.Result, out); err != nil {
				p.t.Fatalf("peer %s: result %s: %v", cmd, reply.Result, err)
			}
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("peer %s: no answer in 30s", cmd)
	}
}

// event is what a Node client received.
type event struct {
	Event string          `json:"event"`
	Args  json.RawMessage `json:"args"`
}

func (e event) String() string { return e.Event + " " + string(e.Args) }

// take returns the events a client received: it waits for count of them,
// then quiet more milliseconds, so that a duplicate would show.
func (p *nodePeer) take(name string, count int) []string {
	p.t.Helper()
	var r struct{ Events []event }
	p.do("take", map[string]any{"name": name, "count": count, "quiet": 300}, &r)
	out := make([]string, len(r.Events))
	for i, e := range r.Events {
		out[i] = e.String()
	}
	return out
}

// takeAll is take for several clients, with one quiet period.
func (p *nodePeer) takeAll(names []string, want map[string][]string) map[string][]string {
	p.t.Helper()
	counts := map[string]int{}
	for _, n := range names {
		counts[n] = len(want[n])
	}
	var r struct{ Events map[string][]event }
	p.do("takeAll", map[string]any{"counts": counts, "quiet": 300}, &r)
	out := map[string][]string{}
	for n, evs := range r.Events {
		for _, e := range evs {
			out[n] = append(out[n], e.String())
		}
	}
	return out
}

func (p *nodePeer) connect(name, url string, version int, nsp string, transports ...string) string {
	p.t.Helper()
	var r struct{ ID string }
	args := map[string]any{"name": name, "url": url, "version": version, "nsp": nsp}
	if len(transports) > 0 {
		args["transports"] = transports
	}
	p.do("connect", args, &r)
	return r.ID
}

// goNode is our server in the cluster: a socketio.Server over an
// engine.Server on httptest, with a Cluster as its adapter.
type goNode struct {
	cluster *Cluster
	io      *socketio.Server
	http    *httptest.Server
	URL     string
}

func startGoNode(t *testing.T, redisAddr string, nsps ...string) *goNode {
	t.Helper()
	return startGoNodeWith(t, Config{}, redisAddr, nsps...)
}

func startGoNodeWith(t *testing.T, cfg Config, redisAddr string, nsps ...string) *goNode {
	t.Helper()
	cc := ClientConfig{Addresses: []string{redisAddr}}
	client, err := cc.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Client = client
	if cfg.Logger == nil {
		cfg.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	if cfg.RequestsTimeout == 0 {
		cfg.RequestsTimeout = 3 * time.Second
	}
	cluster, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.NewServer(engine.Options{AllowEIO3: true})
	srv := socketio.NewServer(eng, socketio.Options{Adapter: cluster.Adapter})
	for _, name := range nsps {
		nsp := srv.Of(name)
		nsp.OnConnection(func(s *socketio.Socket) {
			s.SetData(map[string]any{"node": "go", "nsp": name})
			s.On("join", func(e *socketio.Event) {
				var rooms []string
				_ = e.Args.Decode(0, &rooms)
				s.Join(rooms...)
				_ = e.Ack()
			})
		})
		nsp.Adapter().(*Adapter).OnServerSideEmit(func(e *ServerSideEvent) {
			if e.Name == "question" && e.WantsAck() {
				n, _ := e.Args.Value(0)
				_ = e.Ack(map[string]any{"from": "go", "n": n})
			}
		})
	}
	hs := httptest.NewServer(srv)
	n := &goNode{cluster: cluster, io: srv, http: hs, URL: hs.URL}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
		_ = cluster.Close()
	})
	return n
}
