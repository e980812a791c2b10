package engine

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Reading a WebSocket without a goroutine per idle connection.
//
// gorilla/websocket reads through a bufio.Reader that batchConn supplies
// (see hijackable), so the session knows what input is already buffered in
// user space: gorilla's buffer, bytes read ahead by waitInput or sent
// before the hijack, and, under TLS, records crypto/tls decrypted ahead.
// Once those are empty the reader waits for more through Go's network
// poller, with a deadline: a timeout is harmless there, while gorilla
// would take a timed-out read as the end of the connection. After
// idleHandoff without input (at once after a heartbeat packet, see
// serveWS) the connection goes to the inputPoller and the reader goroutine
// exits; the next input starts a new one. An active
// connection thus reads as cheaply as with a dedicated goroutine, and an
// idle one holds no goroutine. Where the poller cannot watch a connection
// (not Linux, or a connection type whose buffering it cannot see) the
// session keeps a reader goroutine.

// idleHandoff is how long a connection stays without input before its
// reader goroutine hands it to the poller. Much shorter than any
// heartbeat, so an idle connection holds a goroutine only briefly after
// each pong; long enough that a busy connection never pays the hand-off.
const idleHandoff = 250 * time.Millisecond

// wsReadBufferSize is gorilla's read buffer per connection: small, since
// an idle connection is the common case; larger messages bypass it.
// gorilla adopts a supplied buffer only above 256 bytes.
const wsReadBufferSize = 320

var errNoPoller = errors.New("engine: the connection cannot be watched for input")

// longAgo is a read deadline that has passed: a read with it returns only
// what is already buffered in user space.
var longAgo = time.Unix(1, 0)

// readAhead holds what waitInput reads ahead on a plain connection while a
// reader is active, with the callback RawConn.Read calls made once, not per
// wait (a closure per wait was an allocation per message).
type readAhead struct {
	buf []byte
	n   int // what the last successful attempt read
	try func(fd uintptr) bool
}

var inputBuffers = sync.Pool{New: func() any {
	ra := &readAhead{buf: make([]byte, 4096)}
	ra.try = func(fd uintptr) bool {
		n, ready := readFD(fd, ra.buf)
		if !ready {
			return false
		}
		ra.n = n
		return true // data, or end of stream or an error the next read meets
	}
	return ra
}}

var peekBuffers = sync.Pool{New: func() any { b := make([]byte, 2048); return &b }}

// watchable reports whether the poller can watch this connection.
func (c *batchConn) watchable() bool { return c.raw != nil && thePoller() != nil }

// waitInput waits up to d for input and reports whether some came (or the
// connection failed: the next read tells). On a plain connection it reads
// what came into early, with the read it would have made anyway; under
// TLS it only peeks, and crypto/tls reads.
func (c *batchConn) waitInput(d time.Duration) bool {
	if c.isTLS {
		return c.waitInputTLS(d)
	}
	// The deadline stays set for the next waits and is renewed only once
	// less than half of d is left, so that the linger is between d/2 and
	// d: a reader that waits after every message (an echo) would
	// otherwise re-arm and stop the runtime's deadline timer twice per
	// message. Read clears it when gorilla meets it.
	if now := time.Now(); c.readDeadline-now.UnixNano() < int64(d/2) {
		c.readDeadline = now.Add(d).UnixNano()
		_ = c.Conn.SetReadDeadline(now.Add(d))
	}
	if c.inbuf == nil {
		c.inbuf = inputBuffers.Get().(*readAhead)
	}
	ra := c.inbuf
	ra.n = 0
	err := c.raw.Read(ra.try)
	if err == nil && ra.n > 0 {
		c.early = ra.buf[:ra.n]
	}
	return err == nil
}

// waitInputTLS is waitInput under crypto/tls: it only peeks, and
// crypto/tls reads. The deadline is set only once the first attempt finds
// nothing (a busy connection usually has its next message waiting
// already), and cleared after, since inputPending sets its own.
func (c *batchConn) waitInputTLS(d time.Duration) bool {
	deadline := false
	err := c.raw.Read(func(fd uintptr) bool {
		if peekFD(fd) {
			return true
		}
		if !deadline {
			_ = c.Conn.SetReadDeadline(time.Now().Add(d))
			deadline = true
		}
		return false
	})
	if deadline {
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	return err == nil
}

// releaseInputBuffer gives back the read-ahead buffer before the
// connection goes idle.
func (c *batchConn) releaseInputBuffer() {
	if c.inbuf != nil && len(c.early) == 0 {
		inputBuffers.Put(c.inbuf)
		c.inbuf, c.early = nil, nil
	}
}

// newReadBuffer is the bufio.Reader gorilla reads the connection through.
func (c *batchConn) newReadBuffer() *bufio.Reader {
	c.br = bufio.NewReaderSize(c, wsReadBufferSize)
	return c.br
}

// inputPending reports whether input is buffered in user space, where the
// poller cannot see it. Only the reader calls it.
func (c *batchConn) inputPending() bool {
	if len(c.early) > 0 || (c.br != nil && c.br.Buffered() > 0) {
		return true
	}
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		return false
	}
	// crypto/tls may hold whole records read along with earlier ones. A
	// read that must not wait returns them; a timeout is not sticky in
	// crypto/tls, and a partial record stays buffered for the next read.
	buf := peekBuffers.Get().(*[]byte)
	defer peekBuffers.Put(buf)
	_ = tc.SetReadDeadline(longAgo)
	n, err := tc.Read(*buf)
	_ = tc.SetReadDeadline(time.Time{})
	if n > 0 {
		c.early = append(c.early, (*buf)[:n]...)
		return true
	}
	var ne net.Error
	// Any other error is for the reader to meet (crypto/tls repeats it).
	return !(errors.As(err, &ne) && ne.Timeout())
}

// awaitInput hands the connection to the poller: onInput runs on a new
// goroutine when input arrives. Call it only when inputPending is false,
// from the reader, which then returns.
// An error means the caller must go on reading by itself.
func (c *batchConn) awaitInput(onInput func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	if c.watch != nil {
		return c.watch.arm()
	}
	p := thePoller()
	if p == nil || c.raw == nil {
		return errNoPoller
	}
	w, err := p.watch(c.raw, func() {
		// The burst that armed the watch released mu after its last read;
		// taking it here orders this burst after that one (the poller's
		// report, through the kernel, is invisible to the race detector).
		c.mu.Lock()
		//lint:ignore SA2001 the empty critical section is the point
		c.mu.Unlock()
		onInput()
	})
	if err != nil {
		return err
	}
	c.watch = w
	return nil
}

// rawConnOf gives access to the descriptor of conn if the poller can
// watch it: a TCP or Unix socket, bare or under crypto/tls. Other wrappers
// (a PROXY protocol reader, say) may buffer input the poller cannot see.
func rawConnOf(conn net.Conn) (syscall.RawConn, bool) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	var rc syscall.RawConn
	var err error
	switch c := conn.(type) {
	case *net.TCPConn:
		rc, err = c.SyscallConn()
	case *net.UnixConn:
		rc, err = c.SyscallConn()
	default:
		return nil, false
	}
	return rc, err == nil
}

// Close stops watching the connection before closing it.
func (c *batchConn) Close() error {
	c.mu.Lock()
	c.closed = true
	w := c.watch
	c.watch = nil
	c.mu.Unlock()
	if w != nil {
		w.stop()
	}
	return c.Conn.Close()
}
