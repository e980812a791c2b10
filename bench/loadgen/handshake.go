package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// runHandshake runs s.c HTTP clients each opening polling sessions in a
// loop and abandoning them at once, as a crowd of clients that never come
// back would: handshakes per second, server CPU per handshake, and the
// resident memory each abandoned session holds (they live until the ping
// timeout, far beyond the run).
func runHandshake(ctx context.Context, s *scenario) (result, error) {
	r := result{Scenario: "handshake", Transport: "polling", N: s.c}
	url := s.target.url("polling", "")
	before, err := s.sample()
	if err != nil {
		return r, err
	}
	profiled := s.profile.cpu(ctx, s.duration)
	begin := time.Now()
	deadline := begin.Add(s.duration)
	hists := make([]histogram, s.c)
	var (
		working sync.WaitGroup
		done    atomic.Int64
	)
	for i := range s.c {
		working.Add(1)
		go func() {
			defer working.Done()
			var buf []byte
			for time.Now().Before(deadline) && ctx.Err() == nil {
				start := time.Now()
				var err error
				if buf, err = handshakeOnce(ctx, s.target, url, buf); err != nil {
					s.errs.add(err)
					return
				}
				hists[i].record(time.Since(start).Microseconds())
				done.Add(1)
			}
		}()
	}
	working.Wait()
	window := time.Since(begin)
	after, err := s.sample()
	if err != nil {
		return r, err
	}
	if err := profiled(); err != nil {
		s.logf("%v", err)
	}
	var all histogram
	for i := range hists {
		all.merge(&hists[i])
	}
	r.Ops = done.Load()
	r.measure(before, after, window)
	r.latencies(&all)
	if after != nil && r.Ops > 0 {
		r.BytesPerOp = float64(after.RSS-before.RSS) / float64(r.Ops)
	}
	s.errs.report(&r)
	return r, nil
}

// handshakeOnce opens one polling session and checks its open packet.
func handshakeOnce(ctx context.Context, t *target, url string, buf []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return buf, err
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return buf, err
	}
	defer resp.Body.Close()
	buf, err = readAll(buf, resp.Body)
	if err != nil {
		return buf, err
	}
	if resp.StatusCode != http.StatusOK {
		return buf, fmt.Errorf("handshake GET %s: HTTP %s: %s", url, resp.Status, clip(buf))
	}
	packets, err := splitPayload(buf, t.proto)
	if err != nil {
		return buf, err
	}
	if len(packets) == 0 {
		return buf, fmt.Errorf("handshake GET %s: empty payload", url)
	}
	_, err = parseOpen(packets[0])
	return buf, err
}
