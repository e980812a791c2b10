package testpeer

import (
	"bytes"
	"net"
	"testing"
)

// IdleWebSocketDialer opens Engine.IO (protocol 4) WebSocket sessions at
// "/socket.io/" of one address with a hand-written handshake and a fixed
// read buffer, so that a client allocates little and keeps only its
// net.Conn: for the benchmarks of what an idle connection costs the server
// (the root package's through Caddy, socketio's over a bare engine), whose
// figures would otherwise count the clients' own allocations. Its buffer is
// shared: one goroutine at a time.
type IdleWebSocketDialer struct {
	addr    string
	upgrade []byte
	buf     [1024]byte // the answers are short: they fit
}

// connectFrame is a masked text frame holding "40" (CONNECT to "/"), as a
// client must send it.
var connectFrame = []byte{0x81, 0x80 | 2, 1, 2, 3, 4, '4' ^ 1, '0' ^ 2}

// NewIdleWebSocketDialer dials addr (host:port).
func NewIdleWebSocketDialer(addr string) *IdleWebSocketDialer {
	return &IdleWebSocketDialer{addr: addr, upgrade: []byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")}
}

// Dial opens a session and waits for its open packet; with connect it then
// sends CONNECT for "/" and waits for the whole answer (40{"sid":"..."}).
// It fails tb if any of that fails.
func (d *IdleWebSocketDialer) Dial(tb testing.TB, connect bool) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", d.addr)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Write(d.upgrade); err != nil {
		tb.Fatal(err)
	}
	d.readUntil(tb, c, `"maxPayload"`)
	if !connect {
		return c
	}
	if _, err := c.Write(connectFrame); err != nil {
		tb.Fatal(err)
	}
	d.readUntil(tb, c, `40{"sid":"`, `"}`)
	return c
}

// readUntil reads from c until what it read holds each of wants, one after
// the other.
func (d *IdleWebSocketDialer) readUntil(tb testing.TB, c net.Conn, wants ...string) {
	tb.Helper()
	n, from := 0, 0
	for _, want := range wants {
		for {
			if i := bytes.Index(d.buf[from:n], []byte(want)); i >= 0 {
				from += i + len(want)
				break
			}
			if n == len(d.buf) {
				tb.Fatalf("no %q in %q", want, d.buf[:n])
			}
			m, err := c.Read(d.buf[n:])
			if err != nil {
				tb.Fatalf("waiting for %q: %v (read %q)", want, err, d.buf[:n])
			}
			n += m
		}
	}
}
