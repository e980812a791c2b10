package caddysocketio

import (
	"bytes"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// BenchmarkIdleWebSocketThroughCaddy is the conns phase of bench/compare.sh
// in one process: raw WebSocket clients connect to "/" of the in-process
// Caddy, configured as compare.sh configures it (relay, join {query.room}
// with no room in the query, the default ping interval), and stay idle.
// It reports what each connection keeps (heap-B/conn, the live heap after
// the readers handed their connections to the poller, the clients' net.Conn
// included) and what each handshake allocates on its way (alloc-B/handshake
// and allocs/handshake: Caddy, net/http and this module, and the clients'
// few hundred bytes), which is the garbage that makes the heap climb to
// twice the live one during a ramp. With -memprofile and -memprofilerate 1,
// go tool pprof -sample_index=alloc_space tells them apart.
func BenchmarkIdleWebSocketThroughCaddy(b *testing.B) {
	const conns = 1000
	dir := b.TempDir()
	b.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	b.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	b.Cleanup(func() { _ = caddy.Stop() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	caddyfile := inProcessCaddyfile(addr, `
	log {
		level WARN
	}`, `	socketio {
		allow_eio3
		namespace / {
			relay
			join {query.room}
		}
	}`)
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(caddyfile), nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		b.Fatal(err)
	}
	// A first round allocates what is made once (the poller, its tables at
	// this size, pools) so that the measured ones do not count it.
	closeAll(openIdle(b, addr, conns))
	for b.Loop() {
		settle()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		open := openIdle(b, addr, conns)
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/conns, "alloc-B/handshake")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/conns, "allocs/handshake")
		// The readers hand idle connections to the poller after 250 ms
		// (later on a loaded machine).
		time.Sleep(time.Second)
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/conns, "heap-B/conn")
		closeAll(open)
	}
}

// settle waits for the sessions of the previous round to be gone, so that
// the heap they held is not counted in the next.
func settle() {
	for range 3 {
		runtime.GC()
		time.Sleep(200 * time.Millisecond)
	}
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// openIdle opens n Engine.IO WebSocket sessions at addr, each connected to
// "/", with a hand-written handshake and a fixed read buffer, so that the
// client side allocates little and keeps only its net.Conn.
func openIdle(b *testing.B, addr string, n int) []net.Conn {
	upgrade := []byte("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	// A masked text frame holding "40", as a client must send it.
	connect := []byte{0x81, 0x80 | 2, 1, 2, 3, 4, '4' ^ 1, '0' ^ 2}
	var buf [1024]byte
	out := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, c)
		if _, err := c.Write(upgrade); err != nil {
			b.Fatal(err)
		}
		readUntil(b, c, buf[:], `"maxPayload"`)
		if _, err := c.Write(connect); err != nil {
			b.Fatal(err)
		}
		readUntil(b, c, buf[:], `40{"sid":"`)
	}
	return out
}

// readUntil reads from c into buf until what was read holds want (the
// answers are short: they fit).
func readUntil(b *testing.B, c net.Conn, buf []byte, want string) {
	n := 0
	for !bytes.Contains(buf[:n], []byte(want)) {
		if n == len(buf) {
			b.Fatalf("no %q in %q", want, buf[:n])
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			b.Fatalf("waiting for %q: %v (read %q)", want, err, buf[:n])
		}
		n += m
	}
}
