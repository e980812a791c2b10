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
// user space: gorilla's buffer, bytes the client sent before the hijack,
// and, under TLS, records crypto/tls decrypted ahead. While all of those are
// empty, the connection is handed to the poller and no goroutine waits on
// it; the next input starts a read burst that reads until they are empty
// again. Where the poller cannot watch a connection (not Linux, or a
// connection type whose buffering it cannot see) the session keeps a
// reader goroutine instead.

// wsReadBufferSize is gorilla's read buffer per connection: small, since
// an idle connection is the common case; larger messages bypass it.
// gorilla adopts a supplied buffer only above 256 bytes.
const wsReadBufferSize = 320

var errNoPoller = errors.New("engine: the connection cannot be watched for input")

// longAgo is a read deadline that has passed: a read with it returns only
// what is already buffered in user space.
var longAgo = time.Unix(1, 0)

var peekBuffers = sync.Pool{New: func() any { b := make([]byte, 2048); return &b }}

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
// goroutine when input arrives. Call it only when inputPending is false.
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
	rc, ok := rawConnOf(c.Conn)
	if p == nil || !ok || c.br == nil {
		return errNoPoller
	}
	w, err := p.watch(rc, func() {
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
