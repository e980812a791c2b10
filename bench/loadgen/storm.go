package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Reconnection as socket.io-client does it by default: 1 s, randomised by
// half either way (reconnectionDelay 1000, randomizationFactor 0.5), doubling
// up to 5 s (reconnectionDelayMax).
const (
	stormRetryDelay    = time.Second
	stormRetryDelayMax = 5 * time.Second
)

// runStorm is a reconnect storm: s.n clients dial at once (no ramp), as
// after a server restart, into a namespace whose connect hook asks a
// backend. A client the namespace refuses (connect_error), or whose dial
// fails, tries again after socket.io-client's reconnection delay, until
// every client is connected or deadline passes. It reports the time until
// the last one connected (Seconds; P50us/P99us/MaxUs of each client's wait),
// the refusals, the server's CPU per connection, and, with -hook-backend,
// the most connect hooks the backend had in flight at once.
func runStorm(ctx context.Context, s *scenario, deadline time.Duration) (result, error) {
	r := result{Scenario: "storm", Transport: s.transport, N: s.n}
	if err := s.backend.reset(ctx); err != nil {
		return r, err
	}
	before, err := s.sample()
	if err != nil {
		return r, err
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		clients  []client // guarded by mu
		refused  atomic.Int64
		failed   atomic.Int64 // dials that failed otherwise (and were retried)
		waited   = make([]int64, s.n)
		start    = make(chan struct{})
		begin    time.Time
		lastDone atomic.Int64 // microseconds from begin to the last connection
	)
	for i := range s.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			delay := stormRetryDelay
			for {
				c, err := s.node(i).dial(ctx, s.transport, noRoom(i))
				if err == nil {
					us := time.Since(begin).Microseconds()
					waited[i] = us
					for {
						m := lastDone.Load()
						if us <= m || lastDone.CompareAndSwap(m, us) {
							break
						}
					}
					mu.Lock()
					clients = append(clients, c)
					mu.Unlock()
					go func() { _ = c.serve(func(sioPacket) {}) }()
					return
				}
				if ctx.Err() != nil {
					s.errs.add(fmt.Errorf("client %d not connected within -storm-deadline %s: %v", i, deadline, err))
					waited[i] = -1
					return
				}
				var re *refusedError
				if errors.As(err, &re) {
					refused.Add(1)
				} else {
					failed.Add(1)
				}
				jitter := time.Duration((rand.Float64() - 0.5) * float64(delay)) // ±50%
				select {
				case <-time.After(delay + jitter):
				case <-ctx.Done():
				}
				delay = min(2*delay, stormRetryDelayMax)
			}
		}()
	}
	begin = time.Now()
	close(start)
	wg.Wait()
	after, err := s.sample()
	if err != nil {
		return r, err
	}
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()

	var h histogram
	for _, us := range waited {
		if us >= 0 {
			h.record(us)
		}
	}
	r.Ops = int64(len(clients))
	r.Up = len(clients)
	r.Refused = refused.Load()
	// Seconds is the time until the last client connected: the figure of
	// a storm, and what the rate divides by.
	var window time.Duration
	if r.Ops == int64(s.n) {
		window = time.Duration(lastDone.Load()) * time.Microsecond
	} else {
		window = time.Since(begin)
	}
	r.measure(before, after, window)
	r.latencies(&h)
	if n := failed.Load(); n > 0 {
		s.logf("storm: %d dials failed other than by a refusal, and were retried", n)
	}
	if r.Hook, err = s.backend.read(ctx); err != nil {
		return r, err
	}
	s.checkHook(r.Hook)
	s.errs.report(&r)
	if r.Ops < int64(s.n) {
		return r, fmt.Errorf("storm: %d of %d clients connected within %s: %s", r.Ops, s.n, deadline, r.FirstErr)
	}
	return r, nil
}

// checkHook counts, as an error of the run, a hook request the backend
// refused for its signature: the server measured did not sign as the
// other did.
func (s *scenario) checkHook(st *hookStats) {
	if st != nil && st.BadSignatures > 0 {
		s.errs.add(fmt.Errorf("the hook backend refused %d requests for a missing or wrong Socketio-Signature", st.BadSignatures))
	}
}

// backendStats reads the hook backend (loadgen hookbackend) over HTTP; a
// nil *backendStats reads nothing.
type backendStats struct {
	base string
}

func (b *backendStats) reset(ctx context.Context) error {
	if b == nil {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+"/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("-hook-backend: resetting its counters: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("-hook-backend %s: POST /reset answered %s; is it `loadgen hookbackend`?", b.base, resp.Status)
	}
	return nil
}

func (b *backendStats) read(ctx context.Context) (*hookStats, error) {
	if b == nil {
		return nil, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("-hook-backend: reading its counters: %v", err)
	}
	defer resp.Body.Close()
	var st hookStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("-hook-backend %s: GET /stats answered %s (%v); is it `loadgen hookbackend`?", b.base, resp.Status, err)
	}
	return &st, nil
}
