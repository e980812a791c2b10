package socketio

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// BenchmarkBroadcastRecovery is BenchmarkBroadcast with connection state
// recovery off and on: with it on, each broadcast is also stored, with its
// offset appended, under the namespace's log lock. The cost per receiver
// is what the difference shows.
func BenchmarkBroadcastRecovery(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("recovery=%v", on), func(b *testing.B) {
			opts := Options{}
			if on {
				opts.ConnectionStateRecovery = &RecoveryOptions{}
			}
			benchBroadcast(b, opts, 1000, []any{"hello world", map[string]any{"user": "ada", "n": 3}})
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
