package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// runConns opens s.n WebSocket (or polling) connections with a ramp, holds
// them through a heartbeat round, and reports how many stayed up and the
// server's resident memory per connection.
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
	ramp := time.Since(begin)
	s.logf("conns: %d of %d connected in %.1fs", opened, s.n, ramp.Seconds())

	rampEnd, err := s.sample()
	if err != nil {
		return r, err
	}
	hold := s.hold
	if hold == 0 {
		// Every connection has been pinged (protocol 4) or has pinged
		// (protocol 3) once by then, the last one opened included.
		hold = time.Duration(interval.Load()) + 2*time.Second
	}
	select {
	case <-time.After(hold):
	case <-ctx.Done():
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
	if every := time.Duration(interval.Load()); after != nil && r.Up > 0 && every > 0 {
		// What keeping one idle connection alive costs: the CPU of the hold
		// (heartbeats and nothing else) per connection per ping interval.
		beats := hold.Seconds() / every.Seconds()
		r.HeartbeatCPUus = float64((after.CPU - rampEnd.CPU).Microseconds()) / float64(r.Up) / beats
	}
	if ramp > 0 {
		r.OpsPerSec = float64(opened) / ramp.Seconds() // the connection rate of the ramp
	}
	if after != nil && r.Up > 0 {
		r.BytesPerOp = float64(after.RSS-before.RSS) / float64(r.Up)
	}
	s.errs.report(&r)
	if lost := int64(opened - r.Up); lost > r.Errors {
		r.Errors = lost
	}
	return r, nil
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
