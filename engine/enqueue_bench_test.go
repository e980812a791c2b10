package engine

import "testing"

// BenchmarkEnqueue measures queueing on a polling session that is not
// polling (no network): the cost of Send and SendPrepared themselves, the
// accounting of max_buffered_bytes included.
func BenchmarkEnqueue(b *testing.B) {
	srv := NewServer(Options{MaxPayload: 1 << 30})
	s := &Session{id: "bench", server: srv, opts: srv.opts.Load(), polling: new(pollingState)}
	pm := NewPreparedMessage(Message{Data: []byte(`2["chat message","hello, world"]`)})
	msg := Message{Data: []byte(`2["chat message","hello, world"]`)}
	for _, prepared := range []bool{false, true} {
		name := "Send"
		if prepared {
			name = "SendPrepared"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if prepared {
					s.SendPrepared(pm)
				} else {
					s.Send(msg)
				}
				if i%1024 == 1023 {
					s.mu.Lock()
					srv.releaseBytes(s.queue)
					s.queue = s.queue[:0]
					s.queuedBytes = 0
					s.mu.Unlock()
				}
			}
		})
	}
}
