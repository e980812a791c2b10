package engine

import (
	"bufio"
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
// time writes pass straight through. gorilla/websocket serializes writes to
// it (data frames from the flusher, control frames from anywhere).
type batchConn struct {
	net.Conn

	mu       sync.Mutex // guards batching, buf, dropHandshake, closed, watch and handoffs
	batching bool
	closed   bool
	// dropHandshake: the 101 response went out through the ResponseWriter
	// (see hijackable); gorilla's own copy, its first write, is dropped.
	dropHandshake bool
	isTLS         bool // the connection is under crypto/tls (see raw); set once
	parked        bool // br's buffer is in the pool (see parkReadBuffer); reader-owned, like early
	// handoffs counts the times the reader handed the connection to the
	// poller (awaitInput), which it does after parking its buffer: what
	// the reader did before a hand-off is seen by whoever sees the count.
	handoffs uint32
	watch    *inputWatch // registered with the poller, once the reader first waits

	// early is what the client sent before the hijack (or crypto/tls
	// decrypted ahead, see inputPending), read before the connection
	// itself; br is the buffer gorilla reads through. Only the reader (one
	// goroutine at a time) touches them, so they need no lock.
	early []byte
	br    *bufio.Reader
	inbuf *readAhead // early's storage while the reader is active (plain connections)

	// raw reaches the descriptor when the poller can watch the connection
	// (see rawConnOf).
	raw syscall.RawConn
	buf []byte // borrowed from batchBuffers for one batch only

	// readDeadline is the read deadline waitInput left on a plain
	// connection (UnixNano; 0: none), which Read clears when it meets it;
	// reader-owned. writeDeadline is the write deadline last set on the
	// connection (UnixNano; 0: none), so that gorilla's SetWriteDeadline
	// before every frame, with the value it stores, costs the runtime's
	// timer nothing when it has not changed; gorilla calls it with its
	// write lock held, so one at a time.
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
		// waitInput's deadline, left in place for the next wait: gorilla
		// would take the timeout as the end of the connection, and more of
		// a message it has begun is worth waiting for.
		c.readDeadline = 0
		_ = c.Conn.SetReadDeadline(time.Time{})
		return c.Conn.Read(p)
	}
	return n, err
}

// SetWriteDeadline passes t on unless it is already the connection's
// write deadline.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	key := int64(0)
	if !t.IsZero() {
		key = t.UnixNano()
	}
	if key == c.writeDeadline.Load() {
		return nil
	}
	c.writeDeadline.Store(key)
	return c.Conn.SetWriteDeadline(t)
}

// SetDeadline forgets the remembered write deadline, then passes t on.
func (c *batchConn) SetDeadline(t time.Time) error {
	c.writeDeadline.Store(-1) // matches no deadline: the next SetWriteDeadline goes through
	return c.Conn.SetDeadline(t)
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.dropHandshake {
		c.dropHandshake = false
		if isHandshakeResponse(p) {
			c.mu.Unlock()
			return len(p), nil
		}
	}
	if c.batching && (len(p) >= largeWrite || len(c.buf)+len(p) > maxBatch) {
		// What is gathered goes out first, then a large write (a
		// broadcast's prepared frame, shared by every receiver) goes as
		// it is, not copied: a flusher blocked on a client that stopped
		// reading then holds at most maxBatch bytes of its own. gorilla
		// serializes Write calls, so buf is not appended to meanwhile.
		buf := c.buf
		c.buf = c.buf[:0]
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
		c.buf = append(c.buf, p...)
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
	var n int
	write := func(fd uintptr) bool {
		n = writeFD(fd, p)
		return true // one attempt: the caller must not wait
	}
	if err := c.raw.Write(write); errors.Is(err, os.ErrDeadlineExceeded) {
		// The write deadline of the last batch has passed: it bounds a
		// batch, and an idle connection outlives it. This write does not
		// wait, so it needs none; gorilla sets one again for each frame
		// it writes.
		_ = c.SetWriteDeadline(time.Time{})
		_ = c.raw.Write(write)
	}
	return n
}

// begin starts gathering writes.
func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching = true
	if c.buf == nil {
		c.buf = (*batchBuffers.Get().(*[]byte))[:0]
	}
	c.mu.Unlock()
}

// pending is how many bytes are gathered.
func (c *batchConn) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

// flush writes what was gathered and stops gathering.
func (c *batchConn) flush() error {
	c.mu.Lock()
	buf := c.buf
	c.buf, c.batching = nil, false
	c.mu.Unlock()
	if buf == nil {
		return nil
	}
	var err error
	if len(buf) > 0 {
		_, err = c.Conn.Write(buf)
	}
	if cap(buf) <= maxBatch {
		buf = buf[:0]
		batchBuffers.Put(&buf)
	}
	return err
}
