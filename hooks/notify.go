package hooks

import (
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// The notification queue's tuning; variables so that tests can shorten
// the waits.
var (
	notifyQueueSize = 10_000                 // notifications waiting per Config; past it the oldest is dropped
	notifyBatchSize = 100                    // notifications per request at most
	notifyLinger    = 20 * time.Millisecond  // gathering a batch before sending
	retryBase       = 250 * time.Millisecond // first retry delay, doubled on each failure
	retryMax        = 30 * time.Second       // longest retry delay
	retiredFlush    = time.Minute            // how long a replaced Config keeps retrying its queue
)

// notifier is the notification queue of one Config, and its sender: one
// goroutine, running only while the queue holds notifications.
type notifier struct {
	r     *runner
	flush chan struct{} // closed by retire: send without lingering

	mu        sync.Mutex // guards the fields below; taken before Hooks.mu
	queue     [][]byte   // encoded notifications, oldest first
	running   bool       // the sender goroutine runs
	retiredAt time.Time  // zero while the Config is in use
	burst     int        // dropped since the last successful send
}

// notify queues a lifecycle notification of s, if the configuration asks
// for that type. It runs on the observer's goroutine (a read loop): it
// encodes the socket's state of now, and never waits on the network.
func (h *Hooks) notify(s *socketio.Socket, typ, reason, room string) {
	r := h.cur.Load()
	if r == nil || !r.notify[typ] {
		return
	}
	sh, err := h.shakeOf(s, r)
	if err != nil {
		r.log.Error("notification not encoded", zap.String("type", typ), zap.Error(err))
		return
	}
	b, err := encodeNotification(&notification{
		envelope: describe(s, sh, h.newID(), typ, time.Now().UnixMilli()),
		Reason:   reason, Room: room,
	})
	if err != nil {
		r.log.Error("notification not encoded", zap.String("type", typ), zap.Error(err))
		return
	}
	r.notes.add(b)
}

func (n *notifier) add(b []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.queue) >= notifyQueueSize {
		n.queue[0] = nil
		n.queue = n.queue[1:]
		n.r.h.stats.dropped.Add(1)
		if n.burst == 0 {
			n.r.log.Warn("notification queue full: dropping the oldest notifications until the backend catches up",
				zap.Int("queue", notifyQueueSize))
		}
		n.burst++
	}
	n.queue = append(n.queue, b)
	if !n.running {
		h := n.r.h
		h.mu.Lock()
		n.running = h.goLocked(n.send)
		if n.running {
			h.senders++
		}
		h.mu.Unlock()
	}
}

// retire marks the Config replaced: the queue is sent without lingering,
// and retried for retiredFlush at most.
func (n *notifier) retire() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.retiredAt.IsZero() {
		return
	}
	n.retiredAt = time.Now()
	close(n.flush)
}

// send is the sender goroutine: batches, each retried with backoff and
// jitter until the backend takes it (at least once: a retry resends the
// same ids).
func (n *notifier) send() {
	h := n.r.h
	defer func() {
		h.mu.Lock()
		h.senders--
		if h.senders == 0 && h.idle != nil {
			close(h.idle)
			h.idle = nil
		}
		h.mu.Unlock()
	}()
	linger := time.NewTimer(notifyLinger)
	defer linger.Stop()
	for {
		// Let a burst of notifications gather into one request.
		linger.Reset(notifyLinger)
		select {
		case <-linger.C:
		case <-n.flush:
		case <-h.ctx.Done():
		}
		n.mu.Lock()
		if len(n.queue) == 0 || h.ctx.Err() != nil {
			n.giveUpLocked("the server stopped")
			n.mu.Unlock()
			return
		}
		k := min(len(n.queue), notifyBatchSize)
		batch := make([][]byte, k)
		copy(batch, n.queue)
		clear(n.queue[:k])
		n.queue = n.queue[k:]
		n.mu.Unlock()

		body := batchBody(batch)
		for attempt := 0; ; attempt++ {
			_, herr := n.r.call(KindNotify, body, nil)
			if herr == nil {
				h.stats.outcome(KindNotify, OutcomeOK)
				break
			}
			h.stats.failed(KindNotify, herr)
			delay := backoff(attempt)
			n.r.log.Warn("notify hook failed; retrying", zap.Int("notifications", k), zap.Int("attempt", attempt+1),
				zap.Duration("retry_in", delay), zap.String("code", herr.Code), zap.Error(herr.cause))
			n.mu.Lock()
			expired := !n.retiredAt.IsZero() && time.Since(n.retiredAt) > retiredFlush
			if expired {
				n.r.log.Error("notifications of a replaced configuration dropped: the backend did not take them in time",
					zap.Int("dropped", k+len(n.queue)), zap.Duration("tried", retiredFlush))
				n.queue = nil
				n.running = false
				n.mu.Unlock()
				return
			}
			n.mu.Unlock()
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-h.ctx.Done():
				t.Stop()
				n.mu.Lock()
				n.r.log.Error("notifications left unsent at shutdown", zap.Int("dropped", k+len(n.queue)))
				n.queue = nil
				n.running = false
				n.mu.Unlock()
				return
			}
		}
		n.mu.Lock()
		if n.burst > 0 {
			n.r.log.Warn("notification queue overflow ended", zap.Int("dropped", n.burst))
			n.burst = 0
		}
		n.mu.Unlock()
	}
}

// giveUpLocked ends the sender: normally with an empty queue; at shutdown
// with what is left, logged.
func (n *notifier) giveUpLocked(why string) {
	if len(n.queue) > 0 {
		n.r.log.Error("notifications left unsent", zap.String("why", why), zap.Int("dropped", len(n.queue)))
	}
	n.queue = nil
	n.running = false
}

// backoff is the delay before retry attempt+1: exponential, capped, with
// jitter (half of it random) so that nodes do not retry in step.
func backoff(attempt int) time.Duration {
	d := retryMax
	if attempt < 20 {
		d = min(retryBase<<attempt, retryMax)
	}
	return d/2 + rand.N(d/2+1)
}

// batchBody is {"events":[...]} around the encoded notifications.
func batchBody(batch [][]byte) []byte {
	size := len(`{"events":[]}`) + len(batch)
	for _, b := range batch {
		size += len(b)
	}
	out := make([]byte, 0, size)
	out = append(out, `{"events":[`...)
	for i, b := range batch {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	return append(out, `]}`...)
}
