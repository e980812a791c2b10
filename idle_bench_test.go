package caddysocketio

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
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
	addr := inProcessCaddy(b)
	loadCaddyfile(b, inProcessCaddyfile(addr, `
	log {
		level WARN
	}`, `	socketio {
		allow_eio3
		namespace / {
			relay
			join {query.room}
		}
	}`))
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
// "/", as testpeer.IdleWebSocketDialer does, so that the client side
// allocates little and keeps only its net.Conn.
func openIdle(b *testing.B, addr string, n int) []net.Conn {
	d := testpeer.NewIdleWebSocketDialer(addr)
	out := make([]net.Conn, 0, n)
	for range n {
		out = append(out, d.Dial(b, true))
	}
	return out
}
