package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fanout's patience: how long the sender waits for the receivers to catch
// up before sending anyway, and how long deliveries may trail the last send.
const (
	fanoutCatchUp = 2 * time.Second
	fanoutDrain   = 5 * time.Second
)

// runFanout connects s.n receivers and one sender to the namespace, none in
// a room: the relay sends each of the sender's events to everyone else.
// The sender keeps at most s.window events in flight (an event is in flight
// until every receiver has it) so the load generator's single core measures
// deliveries rather than queues; latencies come from the send time in the
// payload.
//
// With two server nodes (-url2) the receivers alternate between them and the
// sender is on the first: the first node relays to its own receivers and,
// through Redis, to the second node, which relays to its own. A warm-up
// event that every receiver must get comes first, outside the window.
func runFanout(ctx context.Context, s *scenario) (result, error) {
	r := result{Scenario: "fanout", Transport: s.transport, N: s.n}
	switch {
	case s.idlePoll && s.stalledWS:
		r.Variant = "idle-polling+stalled-websocket"
	case s.idlePoll:
		r.Variant = "idle-polling"
	case s.stalledWS:
		r.Variant = "stalled-websocket"
	}
	if s.nodes() > 1 {
		r.Variant = strings.TrimPrefix(r.Variant+"+cluster", "+")
	}
	room := noRoom
	if s.emitter != nil {
		// One phase for both ways a backend emits, so that the table
		// compares them; emit_via tells which one a line measured.
		r.Variant = strings.TrimPrefix(r.Variant+"+backend", "+")
		r.EmitVia = "redis-emitter"
		if _, ok := s.emitter.(*apiEmitter); ok {
			r.EmitVia = "api"
		}
		defer s.emitter.close()
		room = func(int) string { return s.room }
	}
	ns := s.target.namespace
	hists := make([]histogram, s.n)
	counts := make([]int64, s.n) // deliveries per receiver, each owned by its receiver until closeAll
	clients := make([]client, s.n)
	var (
		delivered atomic.Int64
		warmed    atomic.Int64 // receivers that got the warm-up event
		serving   sync.WaitGroup
		stopping  atomic.Bool
	)
	serve := func(c client, handle func(sioPacket)) {
		serving.Add(1)
		go func() {
			defer serving.Done()
			err := c.serve(handle)
			if !stopping.Load() {
				s.errs.add(err)
			}
		}()
	}
	opened := s.openClients(ctx, s.n, s.transport, room, func(i int, c client) {
		clients[i] = c
		h, count := &hists[i], &counts[i]
		serve(c, func(p sioPacket) {
			if p.Type != sioEvent || p.Namespace != ns {
				return
			}
			seq, at, ok := parseStamp(p.Data)
			if ok && seq == warmUpSeq {
				warmed.Add(1)
				return
			}
			if ok {
				h.record(s.micros() - at)
			}
			*count++
			delivered.Add(1)
		})
	})
	var sender, idle, stalled client
	var closing sync.Once
	closeAll := func() {
		closing.Do(func() {
			stopping.Store(true)
			for _, c := range append(clients, sender, idle, stalled) {
				if c != nil {
					c.close()
				}
			}
			serving.Wait()
		})
	}
	defer closeAll()
	if opened == 0 {
		s.errs.report(&r)
		return r, fmt.Errorf("fanout: no receiver connected: %s", r.FirstErr)
	}
	var err error
	send := func(seq int64, msg, args []byte) ([]byte, []byte, error) {
		return nil, nil, s.emitter.emit(ctx, seq, s.micros())
	}
	if s.emitter == nil {
		if sender, err = s.target.dial(ctx, "websocket", ""); err != nil {
			return r, fmt.Errorf("fanout sender: %v", err)
		}
		serve(sender, func(sioPacket) {})
		send = func(seq int64, msg, args []byte) ([]byte, []byte, error) {
			args = appendStamp(args[:0], "fanout", seq, s.micros(), s.pad)
			msg = appendSIO(msg[:0], sioEvent, ns, -1, args)
			return msg, args, sender.send(msg)
		}
	}
	if s.idlePoll {
		// Connected to the namespace, then never polled again: the server
		// must queue for it without holding up everyone else.
		if idle, err = s.target.dial(ctx, "polling", ""); err != nil {
			return r, fmt.Errorf("fanout idle polling session: %v", err)
		}
	}
	if s.stalledWS {
		// Connected over WebSocket, then never read: once the socket
		// buffers fill, every write to it blocks, and must block no one
		// else.
		if stalled, err = s.target.dial(ctx, "websocket", ""); err != nil {
			return r, fmt.Errorf("fanout stalled websocket: %v", err)
		}
	}
	s.logf("fanout: %d receivers connected", opened)
	if s.nodes() > 1 || s.emitter != nil {
		// Both nodes must relay to each other before anything is measured:
		// a node that is not yet subscribed to Redis would show as losses
		// (and an emitter's first events would find no receiver).
		if _, _, err := send(warmUpSeq, nil, nil); err != nil {
			return r, fmt.Errorf("fanout warm-up: %v", err)
		}
		if !waitUntil(func() bool { return warmed.Load() >= int64(opened) }, fanoutDrain) {
			return r, fmt.Errorf("fanout: the warm-up event reached %d of %d receivers within %s; do both nodes use the same Redis and relay namespace %s?", warmed.Load(), opened, fanoutDrain, ns)
		}
	}

	w, err := s.openWindow(ctx)
	if err != nil {
		return r, err
	}
	receivers := int64(opened)
	var msg, args []byte
	var sent int64
	for w.running(ctx) {
		// Wait until every receiver has all but the last window events;
		// with -pause, all of them, and then the pause: one event at a
		// time, each to an idle server.
		if s.pause > 0 {
			waitUntil(func() bool { return delivered.Load() >= sent*receivers }, fanoutCatchUp)
			time.Sleep(s.pause)
		} else if want := (sent - int64(s.window)) * receivers; want > 0 {
			waitUntil(func() bool { return delivered.Load() >= want }, fanoutCatchUp)
		}
		sent++
		if msg, args, err = send(sent, msg, args); err != nil {
			s.errs.add(err)
			break
		}
	}
	waitUntil(func() bool { return delivered.Load() >= sent*receivers }, fanoutDrain)
	if err := w.close(s); err != nil {
		return r, err
	}
	closeAll() // the receivers stop recording before their histograms are read
	r.Sent = sent
	r.Ops = delivered.Load()
	r.Lost = max(sent*receivers-r.Ops, 0)
	if s.nodes() > 1 {
		r.Nodes = make([]nodeResult, s.nodes())
		for k := range r.Nodes {
			n := &r.Nodes[k]
			var h histogram
			for i := k; i < s.n; i += s.nodes() { // the receivers s.node(i) sent to node k
				if clients[i] != nil {
					n.Receivers++
					n.Ops += counts[i]
					h.merge(&hists[i])
				}
			}
			n.Lost = max(sent*int64(n.Receivers)-n.Ops, 0)
			n.P99us = h.quantile(0.99)
		}
	}
	r.measure(w.before, w.after, w.elapsed)
	if s.emitter != nil && sent > 0 && r.Seconds > 0 {
		r.EmitsPerSec = float64(sent) / r.Seconds
		r.CPUusPerEmit = float64(r.ServerCPUus) / float64(sent)
	}
	r.latencies(mergeHistograms(hists))
	s.errs.report(&r)
	return r, nil
}

// warmUpSeq numbers the warm-up event of a cross-node fanout; measured
// events count from 1.
const warmUpSeq = 0

// waitUntil polls cond until it holds or the timeout passes. A short sleep
// rather than a wake-up from every receiver: the receivers are the hot path.
func waitUntil(cond func() bool, timeout time.Duration) bool {
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
	return true
}
