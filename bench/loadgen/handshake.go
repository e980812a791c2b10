package main

import (
	"context"
	"fmt"
	"net/http"
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
	w, err := s.openWindow(ctx)
	if err != nil {
		return r, err
	}
	hists := make([]histogram, s.c)
	var done atomic.Int64
	w.each(s.c, func(i int) {
		var buf []byte
		for w.running(ctx) {
			start := time.Now()
			var err error
			if buf, err = handshakeOnce(ctx, s.target, url, buf); err != nil {
				s.errs.add(err)
				return
			}
			hists[i].record(time.Since(start).Microseconds())
			done.Add(1)
			if s.pause > 0 {
				time.Sleep(s.pause)
			}
		}
	})
	if err := w.close(s); err != nil {
		return r, err
	}
	r.Ops = done.Load()
	r.measure(w.before, w.after, w.elapsed)
	r.latencies(mergeHistograms(hists))
	if w.after != nil && r.Ops > 0 {
		r.BytesPerOp = float64(w.after.RSS-w.before.RSS) / float64(r.Ops)
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
