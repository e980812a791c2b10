package httpapi

import (
	"crypto/sha256"
	"net/http"
	"sync"
	"time"
)

// idempotencyStore remembers the answers of POSTs that carried an
// Idempotency-Key, for a while, so that a backend's retry (after a timeout
// it could not tell from a failure) gets the first answer and emits
// nothing again. It is bounded: past maxBytes of remembered answers, new
// keys are refused with 429 until the oldest expire, rather than
// forgetting a key early and doing its request twice.
//
// One mutex guards it; a request holding a key in progress is waited for
// by its retries outside the lock, on the entry's done channel.
type idempotencyStore struct {
	ttl      time.Duration
	maxBytes int
	now      func() time.Time

	mu      sync.Mutex
	entries map[string]*idempotencyEntry // guarded by mu
	order   []*idempotencyEntry          // guarded by mu: by insertion, so by expiry (one ttl for all)
	bytes   int                          // guarded by mu: the size of what entries keep
	dead    int                          // guarded by mu: forgotten entries still in order
}

type idempotencyEntry struct {
	key       string
	body      [sha256.Size]byte // the request body's digest
	expires   time.Time
	done      chan struct{} // closed once resp is set, or the entry dropped
	resp      response      // set before done is closed
	dropped   bool          // set before done is closed: the request must be run again
	size      int
	forgotten bool // guarded by the store's mu: removed from entries
}

// entryOverhead approximates what an entry costs besides its answer.
const entryOverhead = 256

func newIdempotencyStore(ttl time.Duration, maxBytes int, now func() time.Time) *idempotencyStore {
	return &idempotencyStore{ttl: ttl, maxBytes: maxBytes, now: now, entries: map[string]*idempotencyEntry{}}
}

// begin looks key up. With a new key it returns an entry the caller must
// finish (or drop). With a known one it waits for its answer (the first
// request may still be running) and returns it, or a 409 when the body
// differs.
func (s *idempotencyStore) begin(key string, body []byte) (*idempotencyEntry, *response) {
	digest := sha256.Sum256(body)
	for {
		s.mu.Lock()
		s.expireLocked()
		e := s.entries[key]
		if e == nil {
			cost := entryOverhead + len(key)
			if s.bytes+cost > s.maxBytes {
				wait := s.ttl
				if len(s.order) > 0 {
					wait = s.order[0].expires.Sub(s.now())
				}
				s.mu.Unlock()
				r := errorResponse(&apiError{status: http.StatusTooManyRequests, code: "idempotency_store_full",
					message:    "too many Idempotency-Key answers are remembered; retry later, or send fewer requests with a key",
					retryAfter: max(1, int(wait.Seconds()+0.999))})
				return nil, &r
			}
			e = &idempotencyEntry{key: key, body: digest, expires: s.now().Add(s.ttl), done: make(chan struct{}), size: cost}
			s.entries[key] = e
			s.order = append(s.order, e)
			s.bytes += cost
			s.mu.Unlock()
			return e, nil
		}
		s.mu.Unlock()
		if e.body != digest {
			r := errorResponse(errorf(http.StatusConflict, "idempotency_key_reused",
				"this Idempotency-Key was used within the last %v with another request body; use a new key for a new request", s.ttl))
			return nil, &r
		}
		<-e.done
		if !e.dropped {
			r := e.resp
			return nil, &r
		}
		// The first request failed in a way worth retrying (5xx): this one
		// runs it, under a fresh entry.
	}
}

// finish records the answer of e's request. Server errors (5xx: the
// cluster was unreachable, say) are not remembered: nothing was done, and
// the retry must run the request.
func (s *idempotencyStore) finish(e *idempotencyEntry, r response) {
	s.mu.Lock()
	if r.status >= 500 {
		e.dropped = true
		s.forgetLocked(e)
		s.compactLocked()
	} else {
		e.resp = r
		extra := len(r.body)
		e.size += extra
		if !e.forgotten {
			s.bytes += extra
		}
	}
	s.mu.Unlock()
	close(e.done)
}

func (s *idempotencyStore) forgetLocked(e *idempotencyEntry) {
	if e.forgotten {
		return
	}
	e.forgotten = true
	if s.entries[e.key] == e {
		delete(s.entries, e.key)
	}
	s.bytes -= e.size
	s.dead++
}

// compactLocked drops the forgotten entries from order once they are the
// majority. Answers not kept (5xx) leave their entry there until it
// expires, and during an outage retries make many; compacting at half
// moves each entry at most once per halving.
func (s *idempotencyStore) compactLocked() {
	if s.dead <= 64 || s.dead <= len(s.order)/2 {
		return
	}
	live := s.order[:0]
	for _, o := range s.order {
		if !o.forgotten {
			live = append(live, o)
		}
	}
	clear(s.order[len(live):])
	s.order, s.dead = live, 0
}

// expireLocked drops the entries whose time is over, oldest first. An
// entry still running after the whole ttl is kept until it ends, so that
// its retries keep waiting for it rather than running it again.
func (s *idempotencyStore) expireLocked() {
	now := s.now()
	n := 0
	for ; n < len(s.order); n++ {
		e := s.order[n]
		if !e.forgotten {
			if now.Before(e.expires) || !isClosed(e.done) {
				break
			}
			s.forgetLocked(e)
		}
		s.dead--
		s.order[n] = nil
	}
	s.order = s.order[n:]
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
