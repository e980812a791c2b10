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

// soloClients are the clients of the echo scenarios, each alone in its room
// (so the server relays it nothing, and every event it sends comes back as
// its ack alone), each read by a goroutine of its own until close.
type soloClients struct {
	s        *scenario
	clients  []client // index as in open; nil where the dial failed
	serving  sync.WaitGroup
	stopping atomic.Bool
	strays   atomic.Int64 // events relayed to a client alone in its room
}

// open dials s.c clients over the scenario's transport, client i into room
// prefix+i, and returns how many connected. For each one that did it calls
// started, whose result is handed the id of each ack of the target's
// namespace that client reads.
func (sc *soloClients) open(ctx context.Context, prefix string, started func(i int, c client) (onAck func(id int64))) int {
	s := sc.s
	ns := s.target.namespace
	sc.clients = make([]client, s.c)
	return s.openClients(ctx, s.c, s.transport, func(i int) string { return prefix + strconv.Itoa(i) }, func(i int, c client) {
		sc.clients[i] = c
		onAck := started(i, c)
		sc.serving.Add(1)
		go func() {
			defer sc.serving.Done()
			err := c.serve(func(p sioPacket) {
				switch {
				case p.Type == sioAck && p.Namespace == ns:
					onAck(p.ID)
				case p.Type == sioEvent:
					sc.strays.Add(1)
				}
			})
			if !sc.stopping.Load() {
				s.errs.add(err)
			}
		}()
	})
}

// close ends every client and waits for its reader; what a reader returns
// from here on is not an error.
func (sc *soloClients) close() {
	sc.stopping.Store(true)
	for _, c := range sc.clients {
		if c != nil {
			c.close()
		}
	}
	sc.serving.Wait()
}

// checkStrays counts an error when any client received a relayed event,
// which a client alone in its room should never see.
func (sc *soloClients) checkStrays(who string) {
	if n := sc.strays.Load(); n > 0 {
		sc.s.errs.add(fmt.Errorf("%s clients received %d relayed events: the server did not keep each client alone in the room of its ?room= query", who, n))
	}
}

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
	solo := &soloClients{s: s}
	defer solo.close()
	opened := solo.open(ctx, "echo-", func(i int, c client) func(int64) {
		e := &echoer{c: c, acks: make(chan int64, 1), hist: &hists[i]}
		echoers[i] = e
		return func(id int64) {
			select {
			case e.acks <- id:
			default:
			}
		}
	})
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
			if s.pause > 0 {
				time.Sleep(s.pause)
			}
		}
	})
	if err := w.close(s); err != nil {
		return r, err
	}
	solo.checkStrays("echo")
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
