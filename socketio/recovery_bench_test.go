package socketio

import (
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// BenchmarkBroadcastRecovery is BenchmarkBroadcast with connection state
// recovery off and on: with it on, each broadcast is also stored, with its
// offset appended, under the namespace's log lock. The cost per receiver
// is what the difference shows.
func BenchmarkBroadcastRecovery(b *testing.B) {
	const n = 1000
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("recovery=%v", on), func(b *testing.B) {
			eng := engine.NewServer(engine.Options{})
			opts := Options{}
			if on {
				opts.ConnectionStateRecovery = &RecoveryOptions{}
			}
			io := NewServer(eng, opts)
			sids := make([]string, n)
			for i := range sids {
				sids[i] = pollingSocket(b, io)
			}
			args := []any{"hello world", map[string]any{"user": "ada", "n": 3}}
			nsp := io.Of("/")
			const drainEvery = 200
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := nsp.Emit("message", args...); err != nil {
					b.Fatal(err)
				}
				if (i+1)%drainEvery == 0 {
					b.StopTimer()
					runtime.ReadMemStats(&after)
					for _, sid := range sids {
						drain(b, io, sid)
					}
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					before.Mallocs += m.Mallocs - after.Mallocs
					b.StartTimer()
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/receiver")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/receiver")
			for _, sid := range sids {
				h := httptest.NewRecorder()
				io.ServeHTTP(h, httptest.NewRequest("POST", "/socket.io/?EIO=4&transport=polling&sid="+sid, strings.NewReader("1")))
			}
		})
	}
}

// BenchmarkRecoveryStoredEvent measures the memory one stored event keeps
// while it is in the log (the live heap after a GC, per event), for a
// small event to a room, as a chat sends them; and what the log counts
// against max_log_size for it.
func BenchmarkRecoveryStoredEvent(b *testing.B) {
	const events = 20000
	io := NewServer(engine.NewServer(engine.Options{}), Options{ConnectionStateRecovery: &RecoveryOptions{}})
	nsp := io.Of("/")
	r := nsp.recovery.Load()
	var perEvent, counted float64
	for i := 0; i < b.N; i++ {
		heap := liveHeap()
		for j := range events {
			if err := nsp.To("room-42").Emit("message", "hello world", j); err != nil {
				b.Fatal(err)
			}
		}
		perEvent = float64(liveHeap()-heap) / events
		_, bytes, _ := r.stats()
		counted = float64(bytes) / float64(events*(i+1))
	}
	b.ReportMetric(perEvent, "heap-bytes/event")
	b.ReportMetric(counted, "counted-bytes/event")
	runtime.KeepAlive(io)
}
