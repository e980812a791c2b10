// Package http1 is a small HTTP/1.1 client for hook requests: it writes a
// request and reads its answer on the calling goroutine, over kept-alive
// connections to one address (a Pool), with no goroutine per connection.
//
// net/http's Transport gives every connection a reading and a writing
// goroutine and hands each request and answer between them and the
// caller; for the short request and short answer of a hook call, those
// hand-offs cost more CPU than the bytes (BENCHMARKS.md, "Backend
// hooks"). What this client leaves out is what hook calls do not need:
// TLS, HTTP/2, proxies, request bodies of unknown length, streaming
// answers (an answer is read whole, up to a bound, before Do returns),
// compression.
//
// A connection is reused while both sides keep it alive (HTTP/1.1 without
// "Connection: close", or HTTP/1.0 with "Connection: keep-alive") and the
// answer was read to its end; the idle ones are kept most recently used
// first, and one the backend closed while it was idle is seen (a
// non-blocking peek, on Unix) and dropped before a request is written to
// it.
package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request is one request. Header is written as it is (Host and
// Content-Length are the client's); Target is the request-target, such as
// "/socketio/event".
type Request struct {
	Method string
	Target string
	Host   string
	Header http.Header
	// Body, ContentLength bytes of it (-1: to its end), is read once,
	// into the request's buffer.
	Body          io.Reader
	ContentLength int64
	// Replayable requests may be sent a second time, on a new connection,
	// when a kept one failed before any byte of the answer came: net/http's
	// rule (GET, HEAD, OPTIONS, TRACE, or an Idempotency-Key header).
	// Another request is sent again only when nothing of it was written.
	Replayable bool
}

// Response is an answer, read whole.
type Response struct {
	StatusCode int
	Status     string // "200 OK"
	Proto      string // "HTTP/1.1"
	ProtoMinor int
	Header     http.Header
	// Body holds at most the Pool's MaxBody bytes; Truncated says that the
	// answer had more (the rest was not read, and the connection closed).
	Body      []byte
	Truncated bool
}

// Pool keeps connections to one address. Its fields are set before the
// first Do and not changed after.
type Pool struct {
	// Dial opens a new connection.
	Dial func(ctx context.Context) (net.Conn, error)
	// MaxIdle connections are kept for reuse (the others are closed once
	// their answer is read); 0 keeps none.
	MaxIdle int
	// IdleTimeout closes a connection idle for longer; 0: no limit.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds an answer's status line and header; 0: 1 MiB.
	MaxHeaderBytes int
	// MaxBody bounds the body read; a longer answer is cut there
	// (Response.Truncated). 0: 10 MiB.
	MaxBody int64

	mu     sync.Mutex
	idle   []*conn // the most recently used last
	closed bool
}

type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	idleFrom time.Time
}

// Close closes the idle connections, and those in use once their answer
// is read: a request after Close (a notification sent by a configuration
// being replaced) still works, on a connection of its own.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
}

// Do sends req and reads its answer, within ctx (its deadline becomes the
// connection's; its cancellation cuts the call short). A 1xx answer is
// skipped.
func (p *Pool) Do(ctx context.Context, req *Request) (*Response, error) {
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 { // a large notify batch's buffer is not kept
			bufPool.Put(bp)
		}
	}()
	wire, err := appendRequest((*bp)[:0], req)
	if err != nil {
		return nil, err
	}
	*bp = wire
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		res, written, read, err := p.roundTrip(ctx, c, wire, req.Method)
		if err == nil {
			return res, nil
		}
		_ = c.nc.Close()
		// A kept connection the backend closed just as it was reused:
		// send the request again, once, on a new one, when that cannot
		// make the backend act on it twice.
		if reused && attempt == 0 && !read && (!written || req.Replayable) && ctx.Err() == nil && p.Dial != nil {
			continue
		}
		return nil, err
	}
}

// bufPool holds the buffers requests are written into.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// get returns a kept connection (reused) or, when there is none or fresh
// is set, a new one.
func (p *Pool) get(ctx context.Context, fresh bool) (*conn, bool, error) {
	now := time.Now()
	p.mu.Lock()
	for !fresh && len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		if p.IdleTimeout > 0 && now.Sub(c.idleFrom) > p.IdleTimeout {
			// The oldest are below it: all of them are stale.
			stale := append([]*conn{c}, p.idle...)
			clear(p.idle)
			p.idle = p.idle[:0]
			p.mu.Unlock()
			for _, s := range stale {
				_ = s.nc.Close()
			}
			p.mu.Lock()
			continue
		}
		p.mu.Unlock()
		if c.br.Buffered() == 0 && alive(c.nc) {
			return c, true, nil
		}
		_ = c.nc.Close() // closed by the backend, or it sent bytes nobody asked for
		p.mu.Lock()
	}
	p.mu.Unlock()
	nc, err := p.Dial(ctx)
	if err != nil {
		return nil, false, err
	}
	return &conn{nc: nc, br: bufio.NewReaderSize(nc, 4096)}, false, nil
}

// put keeps c for reuse, or closes it.
func (p *Pool) put(c *conn) {
	c.idleFrom = time.Now()
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.MaxIdle {
		p.mu.Unlock()
		_ = c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// aLongTimeAgo is a deadline that fails every read and write at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip makes one exchange on c. written tells whether any byte of
// req went out, read whether any byte of an answer came; on success, c is
// back in the pool or closed.
func (p *Pool) roundTrip(ctx context.Context, c *conn, wire []byte, method string) (res *Response, written, read bool, err error) {
	deadline, _ := ctx.Deadline() // zero: none
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, false, false, err
	}
	// Cancellation (the hooks closing) fails the reads and writes under
	// way. stop tells whether that never happened and never will.
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	}
	defer func() {
		if err != nil && !deadline.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline) {
			// The connection's deadline is the context's, and may pass a
			// little before the context's own timer: wait for it, so that
			// the caller sees the context's error as the cause.
			<-ctx.Done()
		}
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
	}()

	n, err := c.nc.Write(wire)
	if err != nil {
		stop()
		return nil, n > 0, false, err
	}
	res, keep, read, err := p.readResponse(c.br, method)
	if err != nil {
		stop()
		return nil, true, read, err
	}
	if stop() && keep && !res.Truncated {
		p.put(c) // its deadline is set again before its next use
	} else {
		_ = c.nc.Close()
	}
	return res, true, true, nil
}

// appendRequest writes the request line, header and body of req.
func appendRequest(b []byte, req *Request) ([]byte, error) {
	method := req.Method
	if method == "" {
		method = http.MethodPost
	}
	if !httpguts.ValidHeaderFieldName(method) || req.Target == "" || !validValue(req.Target) || strings.IndexByte(req.Target, ' ') >= 0 || !validValue(req.Host) {
		return nil, fmt.Errorf("http1: invalid request line %q %q (host %q)", method, req.Target, req.Host)
	}
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, req.Target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, req.Host...)
	b = append(b, "\r\n"...)
	for name, values := range req.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, fmt.Errorf("http1: invalid header field name %q", name)
		}
		switch name {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			continue // the client's own
		}
		for _, v := range values {
			if !validValue(v) {
				return nil, fmt.Errorf("http1: invalid header field value for %q", name)
			}
			b = append(b, name...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if req.Body == nil || req.ContentLength == 0 {
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			b = append(b, "Content-Length: 0\r\n"...)
		}
		return append(b, "\r\n"...), nil
	}
	if req.ContentLength < 0 {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, fmt.Errorf("http1: reading the request body: %w", err)
		}
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n\r\n"...)
		return append(b, body...), nil
	}
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, req.ContentLength, 10)
	b = append(b, "\r\n\r\n"...)
	n := len(b)
	b = append(b, make([]byte, req.ContentLength)...)
	if _, err := io.ReadFull(req.Body, b[n:]); err != nil {
		return nil, fmt.Errorf("http1: the request body is shorter than its length %d: %w", req.ContentLength, err)
	}
	return b, nil
}

// validValue refuses what would end a field early or smuggle another one:
// control characters other than tab.
func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
