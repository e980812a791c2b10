package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func tcpPool(addr string) *Pool {
	return &Pool{
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		MaxIdle: 4,
	}
}

func post(body string) *Request {
	return &Request{Method: "POST", Target: "/socketio/event", Host: "localhost",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: strings.NewReader(body), ContentLength: int64(len(body))}
}

// A Go net/http server sees the request as written, and one connection
// carries every request of a sequence.
func TestDoAgainstNetHTTPServer(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Seen", r.Method+" "+r.URL.Path+" "+r.Host+" "+r.Header.Get("Content-Type"))
		if r.URL.Query().Get("big") != "" {
			_, _ = io.WriteString(w, strings.Repeat("y", 10000)) // chunked
			return
		}
		_, _ = w.Write(body)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := tcpPool(srv.Listener.Addr().String())
	defer p.Close()
	for i := range 5 {
		res, err := p.Do(context.Background(), post(fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || string(res.Body) != fmt.Sprintf(`{"n":%d}`, i) || res.Header.Get("Content-Type") != "application/json" ||
			res.Header.Get("X-Seen") != "POST /socketio/event localhost application/json" {
			t.Fatalf("answer %d %v %q", res.StatusCode, res.Header, res.Body)
		}
	}
	req := post("{}")
	req.Target = "/big?big=1"
	res, err := p.Do(context.Background(), req)
	if err != nil || len(res.Body) != 10000 || res.Truncated {
		t.Fatalf("chunked answer: %v, %d bytes, truncated %v", err, len(res.Body), res != nil && res.Truncated)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections opened for 6 requests in a row, want 1", n)
	}
}

// script is a backend that answers each request with the next of its
// answers, raw bytes, on whatever connection it came; an answer "" closes
// the connection without a word, one ending in "\x00" closes it after
// the rest.
type script struct {
	ln      net.Listener
	answers chan string
	conns   atomic.Int64
	wg      sync.WaitGroup
}

func newScript(t *testing.T, answers ...string) *script {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &script{ln: ln, answers: make(chan string, len(answers))}
	for _, a := range answers {
		s.answers <- a
	}
	close(s.answers)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					a, ok := <-s.answers
					if !ok || a == "" {
						return
					}
					closing := strings.HasSuffix(a, "\x00")
					if _, err := io.WriteString(c, strings.TrimSuffix(a, "\x00")); err != nil || closing {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

func TestAnswers(t *testing.T) {
	for _, c := range []struct {
		name, answer, body string
		conns              int64 // connections for two requests
	}{
		{"content-length", okAnswer, "{}", 1},
		{"chunked with extensions and trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;x=y\r\n{\r\n1\r\n}\r\n0\r\nX-T: 1\r\n\r\n", "{}", 1},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\n{}", "{}", 1},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", "{}", 2},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", "{}", 2},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}", "{}", 1},
		{"1xx skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + okAnswer, "{}", 1},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", "", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			answer := c.answer
			if c.conns == 2 {
				answer += "\x00" // the backend closes after each answer
			}
			s := newScript(t, answer, answer)
			p := tcpPool(s.ln.Addr().String())
			defer p.Close()
			for range 2 {
				res, err := p.Do(context.Background(), post("{}"))
				if err != nil {
					t.Fatal(err)
				}
				if string(res.Body) != c.body || res.Truncated {
					t.Fatalf("body %q (truncated %v), want %q", res.Body, res.Truncated, c.body)
				}
			}
			if n := s.conns.Load(); n != c.conns {
				t.Errorf("%d connections for two requests, want %d", n, c.conns)
			}
		})
	}
}

func TestMalformedAnswers(t *testing.T) {
	for _, a := range []string{
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
		strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + okAnswer,
	} {
		s := newScript(t, a+"\x00")
		p := tcpPool(s.ln.Addr().String())
		if res, err := p.Do(context.Background(), post("{}")); err == nil {
			t.Errorf("%q: answer %d %q, want an error", a, res.StatusCode, res.Body)
		}
		p.Close()
	}
}

// An answer past MaxBody is cut at MaxBody, flagged, and its connection
// not kept (the rest was not read).
func TestOversizedAnswer(t *testing.T) {
	for _, a := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("x", 5000),
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n" + strings.Repeat("x", 5000) + "\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + strings.Repeat("x", 5000) + "\x00",
	} {
		s := newScript(t, a, okAnswer)
		p := tcpPool(s.ln.Addr().String())
		p.MaxBody = 1001
		res, err := p.Do(context.Background(), post("{}"))
		if err != nil || len(res.Body) != 1001 || !res.Truncated {
			t.Fatalf("%.60q: %v, %d bytes, want 1001 and truncated", a, err, len(res.Body))
		}
		if _, err := p.Do(context.Background(), post("{}")); err != nil {
			t.Fatal(err)
		}
		if n := s.conns.Load(); n != 2 {
			t.Errorf("%.60q: %d connections, want 2 (the cut one not reused)", a, n)
		}
		p.Close()
	}
}

// A kept connection the backend closed while idle is not used: the next
// request goes on a new one and succeeds.
func TestIdleConnectionClosedByBackend(t *testing.T) {
	s := newScript(t, okAnswer, "", okAnswer)
	p := tcpPool(s.ln.Addr().String())
	defer p.Close()
	if _, err := p.Do(context.Background(), post("{}")); err != nil {
		t.Fatal(err)
	}
	// The second request is read, then its connection closed unanswered:
	// a POST is not sent again (nothing says the backend did not act).
	if _, err := p.Do(context.Background(), post("{}")); err == nil {
		t.Fatal("a POST whose connection closed unanswered succeeded, want an error")
	}
	if _, err := p.Do(context.Background(), post("{}")); err != nil {
		t.Fatalf("on a new connection: %v", err)
	}
}

// The peek finds an idle connection closed by the backend (a keep-alive
// timeout) before the request is written to it.
func TestIdleCloseSeenBeforeWriting(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "{}")
	}))
	srv.Config.IdleTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()
	p := tcpPool(srv.Listener.Addr().String())
	defer p.Close()
	for range 3 {
		res, err := p.Do(context.Background(), post("{}"))
		if err != nil || string(res.Body) != "{}" {
			t.Fatalf("%v %v", res, err)
		}
		time.Sleep(150 * time.Millisecond) // past the backend's idle timeout
	}
}

// A replayable request whose kept connection dies unanswered is sent
// again, once, on a new connection.
func TestReplayableRetriedOnce(t *testing.T) {
	s := newScript(t, okAnswer, "", okAnswer)
	p := tcpPool(s.ln.Addr().String())
	defer p.Close()
	if _, err := p.Do(context.Background(), post("{}")); err != nil {
		t.Fatal(err)
	}
	req := post("{}")
	req.Replayable = true
	if _, err := p.Do(context.Background(), req); err != nil {
		t.Fatalf("replayable request: %v", err)
	}
	if n := s.conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// The context's deadline bounds the call; its cancellation ends it.
func TestDeadlineAndCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never answers
		}
	}()
	p := tcpPool(ln.Addr().String())
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = p.Do(ctx, post("{}"))
	var ne net.Error
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v, want the deadline, as a timeout", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err = p.Do(ctx, post("{}")); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// A header value that would end the field early is refused, not sent.
func TestRequestHeaderInjectionRefused(t *testing.T) {
	s := newScript(t, okAnswer)
	p := tcpPool(s.ln.Addr().String())
	defer p.Close()
	req := post("{}")
	req.Header.Set("X-A", "a\r\nX-B: b")
	if _, err := p.Do(context.Background(), req); err == nil {
		t.Error("a header value with CR LF was sent")
	}
}

// At most MaxIdle connections are kept; the most recently used is reused
// first.
func TestIdleKeptLIFO(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RemoteAddr)
	}))
	defer srv.Close()
	p := tcpPool(srv.Listener.Addr().String())
	p.MaxIdle = 2
	defer p.Close()
	var cs []*conn
	for range 3 {
		c, _, err := p.get(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		p.put(c)
	}
	if len(p.idle) != 2 || p.idle[1] != cs[1] {
		t.Fatalf("idle %v, want the first two, the second last", p.idle)
	}
	c, reused, _ := p.get(context.Background(), false)
	if !reused || c != cs[1] {
		t.Error("the most recently put connection was not the one reused")
	}
	p.put(c)
}

// After Close, requests still work (a retired configuration's last
// notifications), each on a connection of its own, none kept.
func TestRequestsAfterClose(t *testing.T) {
	s := newScript(t, okAnswer, okAnswer, okAnswer)
	p := tcpPool(s.ln.Addr().String())
	if _, err := p.Do(context.Background(), post("{}")); err != nil {
		t.Fatal(err)
	}
	p.Close()
	for range 2 {
		if _, err := p.Do(context.Background(), post("{}")); err != nil {
			t.Fatalf("after Close: %v", err)
		}
	}
	if n := s.conns.Load(); n != 3 || len(p.idle) != 0 {
		t.Errorf("%d connections, %d kept, want 3 and none kept", n, len(p.idle))
	}
}
