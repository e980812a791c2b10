package engine

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// Reading a WebSocket without a goroutine per idle connection.
//
// wsConn reads through batchConn's read buffer, so the session knows what
// input is already buffered in user space: that buffer, bytes read ahead
// by waitInput or sent before the hijack, and, under TLS, records
// crypto/tls decrypted ahead. Once those are empty the reader waits for
// more through Go's network poller, with a deadline: a timeout is harmless
// there, while a read would take a timed-out read as the end of the
// connection. After
// idleHandoff without input (at once after a heartbeat packet, see
// serveWS) the connection goes to the inputPoller and the reader goroutine
// exits; the next input starts a new one. An active
// connection thus reads as cheaply as with a dedicated goroutine, and an
// idle one holds no goroutine. Where the poller cannot watch a connection
// (not Linux, or a connection type whose buffering it cannot see) the
// session keeps a reader goroutine.
//
// What an idle connection gets most is its heartbeat: one small frame per
// ping interval (the pong, or a protocol 3 ping). The poller's goroutine
// reads that itself (idleInput): when what it reads is exactly one such
// frame, the session handles it there and the connection is re-armed, with
// no goroutine started and nothing allocated; anything else is handed to a
// new reader as input read ahead. While idle, the connection holds no read
// buffer either (parkReadBuffer): it gets one from a pool for each read
// burst.

// idleHandoff is how long a connection stays without input before its
// reader goroutine hands it to the poller. Much shorter than any
// heartbeat, so an idle connection holds a goroutine only briefly after
// each pong; long enough that a busy connection never pays the hand-off.
const idleHandoff = 250 * time.Millisecond

// wsReadBufferSize is the read buffer of a connection while it reads:
// small, since an idle connection is the common case, and larger messages
// bypass it; it holds a control frame whole (139 bytes at most).
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
	// message. Read clears it when the reader meets it.
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

// releaseInputBuffer gives back the read-ahead buffer and the read buffer
// before the connection goes idle.
func (c *batchConn) releaseInputBuffer() {
	if c.inbuf != nil && len(c.early) == 0 {
		inputBuffers.Put(c.inbuf)
		c.inbuf, c.early = nil, nil
	}
	c.parkReadBuffer()
}

// newReadBuffer gives the connection its first read buffer, from the
// pool of idle connections' buffers: taking it there, rather than
// allocating one, keeps that pool's takes and returns in balance (every
// connection returns one when it first goes idle). A pool only ever given
// to would keep every idle connection's buffer until two collections
// later, and count it live in the first: during a ramp of new
// connections, that was a read buffer for most connections made since the
// last collection, in the heap the collector's goal is twice of.
func (c *batchConn) newReadBuffer() { c.unparkReadBuffer() }

// Read buffers of idle connections wait in a pool.
var readBuffers = sync.Pool{New: func() any { return new(readBuffer) }}

// parkReadBuffer gives the read buffer back while the connection is idle:
// the reader calls it before it hands the connection to the poller, with
// nothing buffered. Until unparkReadBuffer nothing reads through it.
func (c *batchConn) parkReadBuffer() {
	if c.rbuf == nil || c.buffered() > 0 {
		return
	}
	readBuffers.Put(c.rbuf)
	c.rbuf, c.rpos, c.rend = nil, 0, 0
}

// unparkReadBuffer gives the connection a read buffer again, before a read
// burst.
func (c *batchConn) unparkReadBuffer() {
	if c.rbuf == nil {
		c.rbuf = readBuffers.Get().(*readBuffer)
		c.rpos, c.rend = 0, 0
	}
}

// inputPending reports whether input is buffered in user space, where the
// poller cannot see it. Only the reader calls it.
func (c *batchConn) inputPending() bool {
	if len(c.early) > 0 || c.buffered() > 0 {
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

// idleReader is what reads a connection the poller watches: the session.
type idleReader interface {
	// resumeReading starts a reader goroutine.
	resumeReading()
	// idleMessage handles a text message the poller read while the
	// connection was idle, if it is a heartbeat packet, and reports
	// whether it did; if not, a reader gets it.
	idleMessage(payload []byte) bool
}

// awaitInput hands the connection to the poller: when input arrives, r
// handles a lone heartbeat frame on the poller's goroutine (idleInput), or
// a reader goroutine starts. The watch is registered once, with the r of
// the first call. Call it only when inputPending is false, from the
// reader, which then returns. An error means the caller must go on reading
// by itself.
func (c *batchConn) awaitInput(r idleReader) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.handoffs++
	if c.readDeadline != 0 {
		// waitInput's linger deadline has passed (or will, long before
		// the next input of an idle client): left set, it would fail the
		// poller's read of that input, and a reader goroutine would
		// start for every heartbeat.
		c.readDeadline = 0
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	p := thePoller()
	if c.watchID != 0 {
		return p.arm(c)
	}
	if p == nil || c.raw == nil {
		return errNoPoller
	}
	c.reader = r
	return p.watch(c)
}

// onInput is what the poller runs when a watched connection has input.
func (c *batchConn) onInput(scratch *idleRead) {
	// The burst that armed the watch released mu after its last read;
	// taking it here orders this report after that burst (the poller's
	// report, through the kernel, is invisible to the race detector).
	c.mu.Lock()
	r := c.reader
	c.mu.Unlock()
	if !c.idleInput(r, scratch) {
		r.resumeReading()
	}
}

// idleInput runs on the poller's goroutine, which is the connection's
// reader until it returns: it reads what came, and if that is exactly one
// small text frame that r handles (a heartbeat), re-arms the watch and
// reports true. Otherwise what it read waits in early for the reader that
// the caller starts. Under TLS it reads nothing (the records are
// crypto/tls's to read).
func (c *batchConn) idleInput(r idleReader, scratch *idleRead) bool {
	if c.isTLS || len(c.early) > 0 {
		return false
	}
	scratch.n, scratch.ready = 0, false
	if err := c.raw.Read(scratch.try); err != nil {
		return false // closed: the reader meets it
	}
	n := scratch.n
	switch {
	case !scratch.ready: // a report with nothing to read (the input went meanwhile)
		return c.rearm()
	case n == 0: // end of stream: the reader's next read meets it too
		return false
	}
	if payload, ok := clientTextFrame(scratch.buf[:n]); ok && r.idleMessage(payload) {
		return c.rearm()
	}
	// Not a heartbeat: the bytes (clientTextFrame left them as they came)
	// go to wsConn through the reader.
	if c.inbuf == nil {
		c.inbuf = inputBuffers.Get().(*readAhead)
	}
	c.early = append(c.inbuf.buf[:0], scratch.buf[:n]...)
	return false
}

// idleRead is the poller goroutine's read of a report's input: a scratch
// buffer, what one attempt read, and the callback RawConn.Read takes, made
// once (a closure per report was two allocations per heartbeat).
type idleRead struct {
	buf   []byte
	n     int
	ready bool
	try   func(fd uintptr) bool
}

func newIdleRead(size int) *idleRead {
	r := &idleRead{buf: make([]byte, size)}
	r.try = func(fd uintptr) bool {
		r.n, r.ready = readFD(fd, r.buf)
		return true // one attempt: the poller's goroutine must not wait
	}
	return r
}

// rearm asks the poller for the next report, after idleInput drained the
// input; false if that failed (the reader must then read).
func (c *batchConn) rearm() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && c.watchID != 0 && thePoller().arm(c) == nil
}

// maxIdleFrame is the largest payload idleInput hands to the session; a
// heartbeat packet is one byte.
const maxIdleFrame = 8

// clientTextFrame returns the payload of b if b is exactly one complete
// text message from a client: one final frame, no extension bits, masked
// (RFC 6455 5.1), of at most maxIdleFrame bytes. The payload is unmasked
// into scratch space after b's end, so b stays as it came.
func clientTextFrame(b []byte) ([]byte, bool) {
	if len(b) < 6 || b[0] != 0x81 || b[1]&0x80 == 0 {
		return nil, false
	}
	n := int(b[1] & 0x7f)
	if n > maxIdleFrame || len(b) != 6+n || cap(b) < len(b)+n {
		return nil, false
	}
	mask, data := b[2:6], b[6:]
	payload := b[len(b) : len(b)+n]
	for i := range data {
		payload[i] = data[i] ^ mask[i&3]
	}
	return payload, true
}

// rawConnOf gives access to the descriptor of conn if the poller can
// watch it: a TCP or Unix socket, bare or under crypto/tls, with any
// number of passThrough wrappers between. Other wrappers (a PROXY protocol
// reader, say) may buffer input the poller cannot see.
func rawConnOf(conn net.Conn) (syscall.RawConn, bool) {
	var rc syscall.RawConn
	var err error
	switch c := socketUnder(conn).(type) {
	case *net.TCPConn:
		rc, err = c.SyscallConn()
	case *net.UnixConn:
		rc, err = c.SyscallConn()
	default:
		return nil, false
	}
	return rc, err == nil
}

// passThrough is a connection wrapper that can step aside once its
// connection is hijacked: PassThrough makes it keep nothing of what it
// reads from then on and returns the connection it reads from, or nil if
// it still holds input of its own. The handover package's connections
// (Caddy's socketio_handover listener wrapper) are such wrappers; without
// this, every WebSocket accepted through them would keep a reader
// goroutine while idle.
type passThrough interface{ PassThrough() net.Conn }

// socketUnder returns the connection under conn's crypto/tls layer (only
// the outermost one: inputPending looks into its buffer) and under its
// passThrough wrappers; a wrapper that cannot step aside, or a TLS layer
// under one, stops the descent there.
func socketUnder(conn net.Conn) net.Conn {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	for {
		p, ok := conn.(passThrough)
		if !ok {
			return conn
		}
		under := p.PassThrough()
		if under == nil {
			return conn
		}
		conn = under
	}
}

// Close stops watching the connection before closing it.
func (c *batchConn) Close() error {
	c.mu.Lock()
	c.closed = true
	watched := c.watchID != 0
	c.mu.Unlock()
	if watched {
		thePoller().stop(c)
	}
	return c.Conn.Close()
}
