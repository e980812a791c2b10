package engine

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"go.uber.org/goleak"
)

// clientSaw is what testdata/client.js prints.
type clientSaw struct {
	OpenTransport  string
	Upgraded       bool
	FinalTransport string
	Received       []struct {
		Text   *string
		Binary []byte
	}
	Heartbeats  int
	CloseReason string
}

// echoServer is an Engine.IO server on a loopback port, behind a proxy that
// can go silent (to play a dead server). It echoes every message, and obeys
// "push", "freeze" and "close".
type echoServer struct {
	srv   *Server
	http  *httptest.Server
	proxy *silentProxy
	// frozen, once closed, makes the proxy go silent.
	frozen     chan struct{}
	freezeOnce sync.Once
	closed     chan string // OnClose reasons
	mu         sync.Mutex
	got        []Message
	postTypes  []string // Content-Type of each POST
}

func newEchoServer(t *testing.T, o Options) *echoServer {
	t.Helper()
	e := &echoServer{srv: NewServer(o), closed: make(chan string, 16), frozen: make(chan struct{})}
	e.srv.OnConnection(func(s *Session) {
		s.OnMessage(func(m Message) {
			e.mu.Lock()
			e.got = append(e.got, m)
			e.mu.Unlock()
			switch {
			case !m.Binary && string(m.Data) == "push":
				s.Send(Message{Data: []byte("pushed")})
				s.SendPrepared(NewPreparedMessage(Message{Data: []byte{0, 1, 2}, Binary: true}))
			case !m.Binary && string(m.Data) == "freeze":
				e.freezeOnce.Do(func() { close(e.frozen) })
			case !m.Binary && string(m.Data) == "close":
				s.Close()
			default:
				s.Send(m)
			}
		})
		s.OnClose(func(reason string) { e.closed <- reason })
	})
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			e.mu.Lock()
			e.postTypes = append(e.postTypes, r.Header.Get("Content-Type"))
			e.mu.Unlock()
		}
		e.srv.ServeHTTP(w, r)
	}))
	e.http = httptest.NewServer(mux)
	e.proxy = newSilentProxy(t, e.http.Listener.Addr().String(), e.frozen)
	t.Cleanup(func() {
		e.proxy.close()
		e.http.Close()
	})
	return e
}

func (e *echoServer) url() string { return "http://" + e.proxy.addr() }

func (e *echoServer) closeReason(t *testing.T) string {
	t.Helper()
	select {
	case r := <-e.closed:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the server never closed the session")
		return ""
	}
}

func runClient(t *testing.T, e *echoServer, client, transport, mode string) clientSaw {
	t.Helper()
	res := testpeer.RunNode(t, 20*time.Second, filepath.Join("testdata", "client.js"),
		"URL="+e.url(), "CLIENT="+client, "TRANSPORT="+transport, "MODE="+mode)
	if res.Err != nil {
		t.Fatalf("client.js: %v\nstdout: %s\nstderr: %s", res.Err, res.Stdout, res.Stderr)
	}
	var saw clientSaw
	if err := json.Unmarshal([]byte(res.Stdout), &saw); err != nil {
		t.Fatalf("client.js printed %q: %v", res.Stdout, err)
	}
	return saw
}

var heartbeatOptions = Options{
	PingInterval:   100 * time.Millisecond,
	PingTimeout:    200 * time.Millisecond,
	UpgradeTimeout: 2 * time.Second,
	AllowEIO3:      true,
}

func TestRealClientsEchoAndClose(t *testing.T) {
	testpeer.Node(t)
	for _, client := range []string{"v4", "v3"} {
		for _, transport := range []string{"polling", "polling-b64", "websocket", "upgrade"} {
			t.Run(client+"/"+transport, func(t *testing.T) {
				checkLeaks(t)
				e := newEchoServer(t, heartbeatOptions)
				saw := runClient(t, e, client, transport, "echo")

				wantOpen, wantFinal := transport, transport
				if transport == "polling-b64" {
					wantOpen, wantFinal = "polling", "polling"
				}
				if transport == "upgrade" {
					wantOpen, wantFinal = "polling", "websocket"
				}
				if saw.OpenTransport != wantOpen || saw.FinalTransport != wantFinal {
					t.Errorf("client transports: opened on %q, ended on %q; want %q then %q", saw.OpenTransport, saw.FinalTransport, wantOpen, wantFinal)
				}
				if transport == "upgrade" && !saw.Upgraded {
					t.Error("the client never saw the upgrade")
				}
				var got []any
				for _, r := range saw.Received {
					if r.Text != nil {
						got = append(got, *r.Text)
					} else {
						got = append(got, r.Binary)
					}
				}
				want := []any{"hello é🙂", []byte{1, 2, 3, 255}, "pushed", []byte{0, 1, 2}, "still here"}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("client received %#v, want %#v", got, want)
				}
				if saw.Heartbeats < 3 {
					t.Errorf("client saw %d heartbeats in 700ms at a 100ms interval, want at least 3", saw.Heartbeats)
				}
				if saw.CloseReason != "forced close" {
					t.Errorf("client close reason %q, want %q", saw.CloseReason, "forced close")
				}
				if r := e.closeReason(t); r != "transport close" {
					t.Errorf("server close reason %q, want %q", r, "transport close")
				}
				e.mu.Lock()
				defer e.mu.Unlock()
				binaryPosts := 0
				for _, ct := range e.postTypes {
					if ct == "application/octet-stream" {
						binaryPosts++
					}
				}
				// In Node, the v3 client's XHR lacks binary support, so it
				// asks for base64 (b64=1) like a forceBase64 client; binary
				// payloads are covered by TestProtocol3Polling instead.
				if binaryPosts > 0 {
					t.Errorf("binary payload POSTs: %d (content types %q)", binaryPosts, e.postTypes)
				}
				if len(e.got) < 4 || !e.got[1].Binary || string(e.got[1].Data) != "\x01\x02\x03\xff" || e.got[0].Binary || string(e.got[0].Data) != "hello é🙂" {
					t.Errorf("server received %v", e.got)
				}
			})
		}
	}
}

// TestRealClientsCloseReasons: a server that stops answering (the "dead"
// mode freezes the proxy in between) and a server that closes the session
// give both sides Node's reasons.
func TestRealClientsCloseReasons(t *testing.T) {
	testpeer.Node(t)
	for _, tc := range []struct{ mode, client, server string }{
		{"dead", "ping timeout", "ping timeout"},
		{"serverclose", "transport close", "forced close"},
	} {
		for _, client := range []string{"v4", "v3"} {
			for _, transport := range []string{"polling", "websocket"} {
				t.Run(tc.mode+"/"+client+"/"+transport, func(t *testing.T) {
					checkLeaks(t)
					e := newEchoServer(t, heartbeatOptions)
					saw := runClient(t, e, client, transport, tc.mode)
					if saw.CloseReason != tc.client {
						t.Errorf("client close reason %q, want %q", saw.CloseReason, tc.client)
					}
					if r := e.closeReason(t); r != tc.server {
						t.Errorf("server close reason %q, want %q", r, tc.server)
					}
				})
			}
		}
	}
}

// silentProxy forwards TCP connections to a backend until frozen; then it
// stops forwarding in both directions without closing anything, the way a
// dead server or network looks to a client.
type silentProxy struct {
	ln      net.Listener
	backend string
	mu      sync.Mutex
	frozen  chan struct{}
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newSilentProxy(t *testing.T, backend string, frozen chan struct{}) *silentProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &silentProxy{ln: ln, backend: backend, frozen: frozen}
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *silentProxy) addr() string { return p.ln.Addr().String() }

func (p *silentProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, b)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, b)
		go p.pipe(b, c)
	}
}

func (p *silentProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			// Swallow everything from now on, keep the connection open.
			io.Copy(io.Discard, src)
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *silentProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// checkLeaks fails the test if a goroutine started during it outlives it
// (and its cleanups: it runs last).
func checkLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// waitSession waits, up to 5 s, until cond holds for s under its lock:
// for a state another goroutine of the session reaches a moment after
// what the test can see from outside.
func waitSession(t *testing.T, s *Session, what string, cond func(*Session) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		ok := cond(s)
		s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
