package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// openLoopDrain bounds how long the open-loop scenario waits, once the
// offered stream has stopped, for the acks of the events still in flight.
const openLoopDrain = 2 * time.Second

// runOpenLoop is the echo at a fixed offered rate: s.c clients, each alone
// in its room, together emitting s.offered events per second with an ack
// each, on a schedule that does not wait for the acks (an open loop, as
// real clients behave: they do not slow down because the server is slow).
// A closed loop at saturation measures throughput as much as latency; here
// both servers get the same load, so latency and CPU per ack are those of a
// server that has time to spare, which is where wake-ups and hand-offs
// show. Latency is from when an event was due, not when it went out, so a
// load generator that falls behind cannot hide the server's stalls
// (coordinated omission).
func runOpenLoop(ctx context.Context, s *scenario) (result, error) {
	r := result{Scenario: "openloop", Transport: s.transport, N: s.c, OfferedPerSec: float64(s.offered)}
	if s.offered <= 0 {
		return r, fmt.Errorf("openloop: -offered must be the offered events per second (compare.sh takes half of Node's closed-loop echo acks/s)")
	}
	ns := s.target.namespace
	// interval is each client's time between two events; the clients are
	// spread evenly over it.
	interval := max(time.Duration(float64(time.Second)*float64(s.c)/float64(s.offered)), time.Microsecond)
	type sender struct {
		c client
		// mu guards due, acked and recording: the sender appends the due
		// time of each event, the reading goroutine looks it up by the
		// ack's id (acks come in order) and records the latency.
		mu        sync.Mutex
		due       []int64 // µs since s.epoch, index seq-1
		acked     int64
		recording bool
		hist      histogram
	}
	senders := make([]*sender, s.c)
	var acks atomic.Int64
	solo := &soloClients{s: s}
	defer solo.close()
	opened := solo.open(ctx, "open-", func(i int, c client) func(int64) {
		e := &sender{c: c}
		senders[i] = e
		return func(id int64) {
			now := s.micros()
			e.mu.Lock()
			want := e.acked + 1
			if id != want || id > int64(len(e.due)) {
				e.mu.Unlock()
				s.errs.add(fmt.Errorf("ack %d arrived while waiting for ack %d", id, want))
				return
			}
			e.acked = want
			if e.recording {
				e.hist.record(now - e.due[want-1])
				acks.Add(1)
			}
			e.mu.Unlock()
		}
	})
	if opened == 0 {
		s.errs.report(&r)
		return r, fmt.Errorf("openloop: no client connected: %s", r.FirstErr)
	}

	w, err := s.openWindow(ctx)
	if err != nil {
		return r, err
	}
	for _, e := range senders {
		if e != nil {
			e.mu.Lock()
			e.recording = true
			e.due = make([]int64, 0, int(s.duration/interval)+2)
			e.mu.Unlock()
		}
	}
	var sent atomic.Int64
	w.each(len(senders), func(i int) {
		e := senders[i]
		if e == nil {
			return
		}
		next := w.begin.Add(interval * time.Duration(i) / time.Duration(len(senders)))
		var msg, args []byte
		for seq := int64(1); next.Before(w.deadline) && ctx.Err() == nil; seq++ {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			due := next.Sub(s.epoch).Microseconds()
			e.mu.Lock()
			e.due = append(e.due, due)
			e.mu.Unlock()
			args = appendStamp(args[:0], "echo", seq, due, s.pad)
			msg = appendSIO(msg[:0], sioEvent, ns, seq, args)
			if err := e.c.send(msg); err != nil {
				s.errs.add(err)
				return
			}
			sent.Add(1)
			next = next.Add(interval)
		}
	})
	// The acks of the last events are still on their way.
	drained := time.Now().Add(openLoopDrain)
	for acks.Load() < sent.Load() && time.Now().Before(drained) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if err := w.close(s); err != nil {
		return r, err
	}
	hists := make([]histogram, 0, len(senders))
	for _, e := range senders {
		if e != nil {
			e.mu.Lock()
			e.recording = false
			hists = append(hists, e.hist)
			e.mu.Unlock()
		}
	}
	r.Sent = sent.Load()
	r.Ops = acks.Load()
	if missing := r.Sent - r.Ops; missing > 0 {
		s.errs.add(fmt.Errorf("%d of %d events got no ack within %s of the end of the offered stream", missing, r.Sent, openLoopDrain))
	}
	solo.checkStrays("open-loop")
	r.measure(w.before, w.after, w.elapsed)
	r.latencies(mergeHistograms(hists))
	s.errs.report(&r)
	return r, nil
}
