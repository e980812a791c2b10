package engine

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// batchConn is the network connection under a WebSocket. While the flusher
// writes a batch of queued messages it gathers their frames and sends them
// in one write, instead of one system call per message; the rest of the
// time writes pass straight through. wsConn serializes writes to it (data
// frames from the flusher, control frames from anywhere).
type batchConn struct {
	net.Conn

	mu       sync.Mutex // guards batching, buf, closed, watchID, reader and handoffs
	batching bool
	closed   bool
	isTLS    bool // the connection is under crypto/tls (see raw); set once
	// handoffs counts the times the reader handed the connection to the
	// poller (awaitInput), which it does after parking its buffer: what
	// the reader did before a hand-off is seen by whoever sees the count.
	handoffs uint32
	// watchID is the connection's id with the poller (0: not registered),
	// from the reader's first wait on; reader is then what the poller
	// hands its input to (see onInput).
	watchID uint64
	reader  idleReader

	// early is what the client sent before the hijack (or crypto/tls
	// decrypted ahead, see inputPending), read before the connection
	// itself; rbuf[rpos:rend] is what was read and not yet parsed, and
	// rbuf is nil while the connection is idle (parkReadBuffer). Only the
	// reader (one goroutine at a time) touches them, so they need no lock.
	early      []byte
	rbuf       *readBuffer
	rpos, rend int32
	inbuf      *readAhead // early's storage while the reader is active (plain connections)

	// raw reaches the descriptor when the poller can watch the connection
	// (see rawConnOf).
	raw syscall.RawConn
	// buf is borrowed from batchBuffers for one batch only (a pointer, as
	// the pool holds it: a connection keeps one word for it).
	buf *[]byte

	// readDeadline is the read deadline waitInput left on a plain
	// connection (UnixNano; 0: none), which Read clears when it meets it;
	// reader-owned. writeDeadline is the write deadline last set on the
	// connection (UnixNano; 0: none), so that setting the one it has
	// before every frame costs the runtime's timer nothing; set under the
	// WebSocket's write lock, so one at a time.
	readDeadline  int64
	writeDeadline atomic.Int64 // read by the flusher too (see refreshWriteDeadline)
}

// maxBatch is the most a batch gathers before it is written out; larger
// buffers are not kept in the pool.
const maxBatch = 64 << 10

var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (c *batchConn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if n == 0 && c.readDeadline != 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		// waitInput's deadline, left in place for the next wait: the
		// reader would take the timeout as the end of the connection, and
		// more of a message it has begun is worth waiting for.
		c.readDeadline = 0
		_ = c.Conn.SetReadDeadline(time.Time{})
		return c.Conn.Read(p)
	}
	return n, err
}

// setWriteDeadlineKey sets the connection's write deadline (UnixNano; 0:
// none) unless it already is that.
func (c *batchConn) setWriteDeadlineKey(key int64) {
	if key == c.writeDeadline.Load() {
		return
	}
	c.writeDeadline.Store(key)
	var t time.Time
	if key != 0 {
		t = time.Unix(0, key)
	}
	_ = c.Conn.SetWriteDeadline(t)
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.batching && (len(p) >= largeWrite || len(*c.buf)+len(p) > maxBatch) {
		// What is gathered goes out first, then a large write (a
		// broadcast's prepared frame, shared by every receiver) goes as
		// it is, not copied: a flusher blocked on a client that stopped
		// reading then holds at most maxBatch bytes of its own. Writes
		// are serialized (wsConn.wmu), so buf is not appended to meanwhile.
		buf := *c.buf
		*c.buf = buf[:0]
		c.mu.Unlock()
		if len(buf) > 0 {
			if _, err := c.Conn.Write(buf); err != nil {
				return 0, err
			}
		}
		if len(p) >= largeWrite {
			return c.Conn.Write(p)
		}
		c.mu.Lock()
	}
	if c.batching {
		*c.buf = append(*c.buf, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// largeWrite is the size from which a write during a batch is not gathered:
// one system call for it costs little next to copying it.
const largeWrite = 16 << 10

// writeNow writes p if the socket takes it without waiting, and returns
// how much it took (0 when its buffer is full, or on an error, which the
// next write meets). The descriptor's write lock is held meanwhile, as for
// any write, so p does not interleave with another writer's bytes.
func (c *batchConn) writeNow(p []byte) int {
	if c.raw == nil {
		return 0
	}
	w := fdWrites.Get().(*fdWrite)
	w.p, w.n = p, 0
	if err := c.raw.Write(w.try); errors.Is(err, os.ErrDeadlineExceeded) {
		// The write deadline of the last batch has passed: it bounds a
		// batch, and an idle connection outlives it. This write does not
		// wait, so it needs none; wsConn sets one again for each frame
		// it writes.
		c.setWriteDeadlineKey(0)
		_ = c.raw.Write(w.try)
	}
	n := w.n
	w.p = nil
	fdWrites.Put(w)
	return n
}

// fdWrite is one attempt of writeNow, with the callback RawConn.Write
// takes made once per pooled value (a closure per call was an allocation
// per ping).
type fdWrite struct {
	p   []byte
	n   int
	try func(fd uintptr) bool
}

var fdWrites = sync.Pool{New: func() any {
	w := new(fdWrite)
	w.try = func(fd uintptr) bool {
		w.n = writeFD(fd, w.p)
		return true // one attempt: the caller must not wait
	}
	return w
}}

// writeFrame writes one frame given in parts: its header, then its
// payload in two pieces. A frame of up to smallFrame bytes goes in one
// write (or is gathered into the batch); a larger one as a copy of its
// header and prefix, then data as it is. The caller holds the write lock.
func (c *batchConn) writeFrame(hdr, prefix, data []byte) error {
	n := len(hdr) + len(prefix) + len(data)
	c.mu.Lock()
	if c.batching && n < largeWrite && len(*c.buf)+n <= maxBatch {
		*c.buf = append(append(append(*c.buf, hdr...), prefix...), data...)
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	bp := frameBuffers.Get().(*[]byte)
	b := append(append((*bp)[:0], hdr...), prefix...)
	if n <= smallFrame {
		b = append(b, data...)
		data = nil
	}
	_, err := c.Write(b)
	*bp = b[:0]
	frameBuffers.Put(bp)
	if err == nil && len(data) > 0 {
		_, err = c.Write(data)
	}
	return err
}

// begin starts gathering writes.
func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching = true
	if c.buf == nil {
		c.buf = batchBuffers.Get().(*[]byte)
		*c.buf = (*c.buf)[:0]
	}
	c.mu.Unlock()
}

// pending is how many bytes are gathered.
func (c *batchConn) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return 0
	}
	return len(*c.buf)
}

// flush writes what was gathered and stops gathering.
func (c *batchConn) flush() error {
	c.mu.Lock()
	bp := c.buf
	c.buf, c.batching = nil, false
	c.mu.Unlock()
	if bp == nil {
		return nil
	}
	var err error
	if len(*bp) > 0 {
		_, err = c.Conn.Write(*bp)
	}
	if cap(*bp) <= maxBatch {
		*bp = (*bp)[:0]
		batchBuffers.Put(bp)
	}
	return err
}
