package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// profiler saves a Go server's pprof profiles taken exactly over a
// scenario's measured window (CPU) or at its peak (heap), from the
// server's /debug/pprof/ (Caddy serves it on its admin address).
type profiler struct {
	base string // http://127.0.0.1:2019, without /debug/pprof
	out  string // file name prefix; ".cpu.pprof" or ".heap.pprof" is appended
}

// cpu starts a CPU profile of d (whole seconds, at least one) and returns a
// function that waits for it to be saved. A nil profiler does nothing.
func (p *profiler) cpu(ctx context.Context, d time.Duration) (wait func() error) {
	if p == nil {
		return func() error { return nil }
	}
	secs := max(int(d/time.Second), 1)
	done := make(chan error, 1)
	go func() {
		done <- p.fetch(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), ".cpu.pprof")
	}()
	return func() error { return <-done }
}

// heap saves the runtime's memory statistics as they are (.memstats.txt:
// what the resident memory is made of, heap, stacks, what the collector
// has not returned yet), then a heap profile of what is live now: the
// profile is taken after a collection, so it holds no garbage left from
// before (the profile of the last collection could date from the ramp).
func (p *profiler) heap(ctx context.Context) error {
	if p == nil {
		return nil
	}
	if err := p.fetch(ctx, "/debug/pprof/heap?debug=1", ".memstats.txt"); err != nil {
		return err
	}
	return p.fetch(ctx, "/debug/pprof/heap?gc=1", ".heap.pprof")
}

func (p *profiler) fetch(ctx context.Context, path, suffix string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("pprof: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: GET %s%s: HTTP %s", p.base, path, resp.Status)
	}
	f, err := os.Create(p.out + suffix)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
