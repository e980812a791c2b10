package engine

// A Batch queues messages on sessions without starting their writes, until
// Flush: a producer that has several broadcasts in hand at once (the entries
// of one read from a Redis stream, say) queues them all, then flushes, and
// each receiver writes them together, in one system call on a WebSocket,
// instead of starting its write after the first one and writing the rest
// after. Without it, a receiver's flusher may run between two of the
// broadcasts (whenever the producer yields the processor), which costs one
// write per broadcast per receiver.
//
// A batch only holds back the writes it would have started: a message
// queued on the same session outside the batch (by another goroutine, a
// heartbeat) starts the session's write as usual, and that write takes the
// held messages along, in queue order. The delay a batch adds to its own
// messages ends at Flush, so a producer flushes as soon as its batch is
// queued, never while waiting for more input. A session is held by one
// batch at a time; a second batch queueing on it meanwhile writes at once.
//
// The zero Batch is ready to use, and can be reused after Flush. It is not
// safe for concurrent use: one producer owns it.
type Batch struct {
	held []*Session
}

// SendPrepared queues pm on s as Session.SendPrepared does, leaving the
// write to b's Flush (unless something else starts it first).
func (b *Batch) SendPrepared(s *Session, pm *PreparedMessage) error {
	_, err := s.enqueueIn(b, []packet{pm.packet()}, false)
	return err
}

// Flush starts the writes the batch held back, one per session, and
// empties the batch.
func (b *Batch) Flush() {
	for i, s := range b.held {
		s.mu.Lock()
		if s.heldBy == b {
			s.heldBy = nil
			if s.state == stateOpen && len(s.queue) > 0 {
				s.flushLocked()
			}
		}
		s.mu.Unlock()
		b.held[i] = nil
	}
	b.held = b.held[:0]
}

// Len is the number of sessions whose writes the batch holds back.
func (b *Batch) Len() int { return len(b.held) }
