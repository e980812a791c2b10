package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// window brackets the measured stretch of a scenario the same way for every
// scenario: the server's process tree sampled at both ends, a CPU profile
// over it when -pprof asks, and the elapsed time the rates divide by.
type window struct {
	begin    time.Time
	deadline time.Time // begin + the scenario's duration: when workers stop
	elapsed  time.Duration
	before   *serverSample // nil without -pid
	after    *serverSample
	profiled []func() error // wait for the CPU profiles to be saved, one per node
	limit    int64          // -ops: how many times running may say yes; 0: no limit
	started  atomic.Int64   // how many times it did
}

// openWindow samples the server, starts the CPU profiles and the clock.
func (s *scenario) openWindow(ctx context.Context) (*window, error) {
	before, err := s.sample()
	if err != nil {
		return nil, err
	}
	w := &window{before: before, profiled: []func() error{s.profile.cpu(ctx, s.duration), s.profile2.cpu(ctx, s.duration)}}
	w.limit = s.ops
	w.begin = time.Now()
	w.deadline = w.begin.Add(s.duration)
	return w, nil
}

// running reports whether workers should go on: the deadline is ahead and
// the run was not interrupted. Each worker calls it before each operation,
// so with -ops (a fixed number of operations, for instruction counts that
// must not depend on how fast the machine is) a yes is one operation more.
func (w *window) running(ctx context.Context) bool {
	if !time.Now().Before(w.deadline) || ctx.Err() != nil {
		return false
	}
	return w.limit == 0 || w.started.Add(1) <= w.limit
}

// each runs worker(0) to worker(n-1), each on its own goroutine, and returns
// once all have returned; a worker loops while running says so.
func (w *window) each(n int, worker func(i int)) {
	var working sync.WaitGroup
	for i := range n {
		working.Add(1)
		go func() {
			defer working.Done()
			worker(i)
		}()
	}
	working.Wait()
}

// close stops the clock and samples the server at once, then waits for the
// CPU profiles (a failed profile is logged, not fatal: the figures stand).
func (w *window) close(s *scenario) error {
	w.elapsed = time.Since(w.begin)
	after, err := s.sample()
	if err != nil {
		return err
	}
	w.after = after
	for _, profiled := range w.profiled {
		if err := profiled(); err != nil {
			s.logf("%v", err)
		}
	}
	return nil
}

// mergeHistograms gathers the per-client histograms into one.
func mergeHistograms(hists []histogram) *histogram {
	var all histogram
	for i := range hists {
		all.merge(&hists[i])
	}
	return &all
}
