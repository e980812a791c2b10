package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// connsSettle is how long after the ramp the heartbeat window opens: the
// last handshakes' work (and the collection of their garbage) is over.
const connsSettle = 5 * time.Second

// connsBeats is how many whole ping intervals the default hold measures
// heartbeats over: 4 at the default 25 s interval, a 110 s hold.
const connsBeats = 4

// rssEvery is how often the hold samples the server's resident memory for
// its peak.
const rssEvery = 500 * time.Millisecond

// runConns opens s.n WebSocket (or polling) connections with a ramp, holds
// them idle, and reports how many stayed up through a heartbeat, the
// server's peak resident memory per connection over the hold, and its CPU
// per idle connection per heartbeat.
//
// The heartbeat figure is measured over whole ping intervals that start
// connsSettle after the ramp: every connection is pinged (protocol 4) or
// pings (protocol 3) exactly once per interval in such a window, whatever
// its phase, and the ramp's handshakes are not in it. The default hold is
// the settle, connsBeats intervals and 5 s more, 110 s at the default
// 25 s ping interval.
func runConns(ctx context.Context, s *scenario) (result, error) {
	r := result{Scenario: "conns", Transport: s.transport, N: s.n}
	before, err := s.sample()
	if err != nil {
		return r, err
	}
	var (
		clients  = make([]client, s.n)
		ended    = make([]atomic.Bool, s.n)
		stopping atomic.Bool
		serving  sync.WaitGroup
		interval atomic.Int64 // the server's ping interval, from an open packet
	)
	begin := time.Now()
	opened := s.openClients(ctx, s.n, s.transport, noRoom, func(i int, c client) {
		clients[i] = c
		interval.Store(int64(openOf(c).pingInterval()))
		serving.Add(1)
		go func() {
			defer serving.Done()
			err := c.serve(func(sioPacket) {})
			ended[i].Store(true)
			if !stopping.Load() {
				s.errs.add(err)
			}
		}()
	})
	rampEnd := time.Now()
	ramp := rampEnd.Sub(begin)
	s.logf("conns: %d of %d connected in %.1fs", opened, s.n, ramp.Seconds())

	every := time.Duration(interval.Load())
	hold := s.hold
	if hold == 0 {
		hold = connsSettle + connsBeats*every + 5*time.Second
	}
	// The heartbeat window: as many whole ping intervals as fit in the
	// hold after the settle; none in a hold too short for one.
	var beats int
	if every > 0 && hold > connsSettle {
		beats = int((hold - connsSettle) / every)
	}
	peak, err := s.holdSampling(ctx, rampEnd, hold, connsSettle, time.Duration(beats)*every, &r)
	if err != nil {
		return r, err
	}
	after, err := s.sample()
	if err != nil {
		return r, err
	}
	if err := s.profile.heap(ctx); err != nil {
		s.logf("%v", err)
	}
	for i, c := range clients {
		if c == nil || ended[i].Load() {
			continue
		}
		r.Up++
		if c.heartbeats() > 0 {
			r.Heartbeats++
		}
	}
	stopping.Store(true)
	for _, c := range clients {
		if c != nil {
			c.close()
		}
	}
	serving.Wait()

	r.Ops = int64(r.Up)
	r.measure(before, after, ramp+hold)
	if r.Up > 0 && beats > 0 && r.HeartbeatCPUus > 0 {
		// What keeping one idle connection alive costs: the window's CPU
		// (heartbeats and nothing else) per connection per ping interval.
		r.HeartbeatCPUus = r.HeartbeatCPUus / float64(r.Up) / float64(beats)
	}
	if ramp > 0 {
		r.OpsPerSec = float64(opened) / ramp.Seconds() // the connection rate of the ramp
	}
	if peak != nil && r.Up > 0 {
		r.BytesPerOp = float64(max(peak.RSS, after.RSS)-before.RSS) / float64(r.Up)
	}
	s.errs.report(&r)
	if lost := int64(opened - r.Up); lost > r.Errors {
		r.Errors = lost
	}
	return r, nil
}

// holdSampling waits out the hold that began at start, sampling the server
// every rssEvery, and returns the sample of its highest resident memory
// (nil without -pid). Between settle and settle+window (window 0: none) it
// measures the server's CPU into r.HeartbeatCPUus (microseconds in all,
// for the caller to divide) and takes the CPU profile.
func (s *scenario) holdSampling(ctx context.Context, start time.Time, hold, settle, window time.Duration, r *result) (*serverSample, error) {
	var peak, windowStart *serverSample
	var profiled func() error
	windowOpen, windowEnd := start.Add(settle), start.Add(settle+window)
	end := start.Add(hold)
	tick := time.NewTicker(rssEvery)
	defer tick.Stop()
	for stage := 0; ; {
		// The window's edges are waited for exactly, RSS samples in between.
		next := end
		switch {
		case window > 0 && stage == 0:
			next = windowOpen
		case window > 0 && stage == 1:
			next = windowEnd
		}
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return peak, nil
		case <-tick.C:
			timer.Stop()
			sm, err := s.sample()
			if err != nil || sm == nil {
				return nil, err
			}
			if peak == nil || sm.RSS > peak.RSS {
				peak = sm
			}
			continue
		case <-timer.C:
		}
		sm, err := s.sample()
		if err != nil {
			return nil, err
		}
		if sm != nil && (peak == nil || sm.RSS > peak.RSS) {
			peak = sm
		}
		switch {
		case next == end:
			if profiled != nil {
				if err := profiled(); err != nil {
					s.logf("%v", err)
				}
			}
			return peak, nil
		case stage == 0:
			windowStart = sm
			profiled = s.profile.cpu(ctx, window)
		case stage == 1 && sm != nil && windowStart != nil:
			r.HeartbeatCPUus = float64((sm.CPU - windowStart.CPU).Microseconds())
		}
		stage++
	}
}

// openOf returns the open packet a client received.
func openOf(c client) openPacket {
	switch c := c.(type) {
	case *wsClient:
		return c.open
	case *pollClient:
		return c.open
	}
	return openPacket{}
}
