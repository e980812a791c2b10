package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ackTimeout is how long an echo client waits for an ack before counting an
// error and stopping.
const ackTimeout = 10 * time.Second

// runEcho runs s.c clients, each in its own room, each emitting an event
// with an ack and waiting for the ack before the next: the relay has no one
// else to send to, so every round trip is the server's per-message cost.
// Over the polling transport this is the polling scenario.
func runEcho(ctx context.Context, s *scenario, name string) (result, error) {
	r := result{Scenario: name, Transport: s.transport, N: s.c}
	ns := s.target.namespace
	type echoer struct {
		c    client
		acks chan int64
		hist *histogram // owned by the echoer's worker until the window closes
	}
	echoers := make([]*echoer, s.c)
	hists := make([]histogram, s.c)
	var (
		serving  sync.WaitGroup
		stopping atomic.Bool
		strays   atomic.Int64 // events relayed to an echo client, alone in its room
	)
	opened := s.openClients(ctx, s.c, s.transport, func(i int) string { return "echo-" + strconv.Itoa(i) }, func(i int, c client) {
		e := &echoer{c: c, acks: make(chan int64, 1), hist: &hists[i]}
		echoers[i] = e
		serving.Add(1)
		go func() {
			defer serving.Done()
			err := c.serve(func(p sioPacket) {
				switch {
				case p.Type == sioAck && p.Namespace == ns:
					select {
					case e.acks <- p.ID:
					default:
					}
				case p.Type == sioEvent:
					strays.Add(1)
				}
			})
			if !stopping.Load() {
				s.errs.add(err)
			}
		}()
	})
	defer func() {
		stopping.Store(true)
		for _, e := range echoers {
			if e != nil {
				e.c.close()
			}
		}
		serving.Wait()
	}()
	if opened == 0 {
		s.errs.report(&r)
		return r, fmt.Errorf("%s: no client connected: %s", name, r.FirstErr)
	}

	if err := s.backend.reset(ctx); err != nil {
		return r, err
	}
	w, err := s.openWindow(ctx)
	if err != nil {
		return r, err
	}
	var acks atomic.Int64
	w.each(len(echoers), func(i int) {
		e := echoers[i]
		if e == nil {
			return // its dial failed
		}
		var msg, args []byte
		for seq := int64(1); w.running(ctx); seq++ {
			args = appendStamp(args[:0], "echo", seq, s.micros(), s.pad)
			msg = appendSIO(msg[:0], sioEvent, ns, seq, args)
			sent := time.Now()
			if err := e.c.send(msg); err != nil {
				s.errs.add(err)
				return
			}
			select {
			case id := <-e.acks:
				if id != seq {
					s.errs.add(fmt.Errorf("ack %d arrived while waiting for ack %d", id, seq))
					return
				}
			case <-time.After(ackTimeout):
				s.errs.add(fmt.Errorf("no ack for event %d within %s", seq, ackTimeout))
				return
			case <-ctx.Done():
				return
			}
			e.hist.record(time.Since(sent).Microseconds())
			acks.Add(1)
		}
	})
	if err := w.close(s); err != nil {
		return r, err
	}
	if n := strays.Load(); n > 0 {
		s.errs.add(fmt.Errorf("echo clients received %d relayed events: the server did not keep each client alone in the room of its ?room= query", n))
	}
	r.Ops = acks.Load()
	r.measure(w.before, w.after, w.elapsed)
	r.latencies(mergeHistograms(hists))
	if r.Hook, err = s.backend.read(ctx); err != nil {
		return r, err
	}
	s.checkHook(r.Hook)
	s.errs.report(&r)
	return r, nil
}
