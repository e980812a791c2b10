package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// scenario holds what every scenario needs: where to connect, the sizes
// from the flags, and the server process to measure.
type scenario struct {
	target    *target
	target2   *target       // the second server node of a cross-node fanout; nil for one node
	transport string        // of the measured clients: websocket or polling
	n         int           // connections (conns, fanout receivers)
	c         int           // concurrent clients (echo, handshake, polling)
	duration  time.Duration // measured window of echo, fanout, handshake, polling
	ops       int64         // if > 0: the window ends after this many operations (-ops)
	pause     time.Duration // -pause: the wait after each operation
	hold      time.Duration // conns: how long to hold; 0 is the settle, 4 ping intervals and 5 s
	rate      int           // connections opened per second during a ramp
	offered   int           // openloop: events per second offered, over all clients
	pid       int           // server process to sample; 0 for none
	pid2      int           // the second node's process (with target2); 0 for none
	pad       int           // extra payload bytes per event
	window    int           // fanout: events in flight before the sender waits
	idlePoll  bool          // fanout: keep one idle polling session in the namespace
	stalledWS bool          // fanout: keep one WebSocket client that never reads in the namespace
	epoch     time.Time     // stamps in payloads are microseconds since epoch
	progress  io.Writer     // human-readable progress (stderr)
	errs      errorCount
	profile   *profiler     // nil unless -pprof
	profile2  *profiler     // the second node's; nil unless -pprof2
	dialSlots int           // dials in flight during a ramp
	emitter   emitter       // fanout: sends the events from outside (-emit-via); nil: a client socket, relayed
	room      string        // fanout with an emitter: the receivers' room
	backend   *backendStats // -hook-backend: the hook backend to read; nil for none
}

// micros is the time since the epoch, the clock of payload stamps.
func (s *scenario) micros() int64 { return time.Since(s.epoch).Microseconds() }

// serverSample is the measured servers at one moment: all nodes together,
// and each node on its own when there are two.
type serverSample struct {
	procSample              // the sum over the nodes
	nodes      []procSample // per node, -pid first; empty for one node
}

// sample reads the server's process tree (each node's, with -pid2); nil
// without -pid.
func (s *scenario) sample() (*serverSample, error) {
	if s.pid == 0 {
		return nil, nil
	}
	p, err := sampleProcessTree(s.pid)
	if err != nil {
		return nil, err
	}
	if s.pid2 == 0 {
		return &serverSample{procSample: p}, nil
	}
	p2, err := sampleProcessTree(s.pid2)
	if err != nil {
		return nil, fmt.Errorf("-pid2: %v", err)
	}
	sum := procSample{CPU: p.CPU + p2.CPU, Sys: p.Sys + p2.Sys, RSS: p.RSS + p2.RSS, Procs: p.Procs + p2.Procs, Writes: p.Writes + p2.Writes}
	return &serverSample{procSample: sum, nodes: []procSample{p, p2}}, nil
}

func (s *scenario) logf(format string, args ...any) {
	fmt.Fprintf(s.progress, "loadgen: "+format+"\n", args...)
}

// nodes is the number of server nodes the clients are spread over.
func (s *scenario) nodes() int {
	if s.target2 != nil {
		return 2
	}
	return 1
}

// node is where client i connects: with two nodes, the even clients to the
// first (-url) and the odd ones to the second (-url2), so both nodes fill
// alike during a ramp.
func (s *scenario) node(i int) *target {
	if s.target2 != nil && i%2 == 1 {
		return s.target2
	}
	return s.target
}

// openClients dials n clients at most s.rate per second with at most
// s.dialSlots dials in flight, calling started from the dialing goroutine
// for each one that connected. Failures go to s.errs. It returns the number
// connected once every dial has finished.
func (s *scenario) openClients(ctx context.Context, n int, transport string, room func(int) string, started func(int, client)) int {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		opened int // guarded by mu
	)
	slots := make(chan struct{}, max(s.dialSlots, 1))
	begin := time.Now()
	lastReport := begin
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		if s.rate > 0 {
			due := begin.Add(time.Duration(i) * time.Second / time.Duration(s.rate))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			c, err := s.node(i).dial(ctx, transport, room(i))
			if err != nil {
				s.errs.add(err)
				return
			}
			mu.Lock()
			opened++
			mu.Unlock()
			started(i, c)
		}()
		if time.Since(lastReport) > 2*time.Second {
			lastReport = time.Now()
			s.logf("ramp: %d/%d dialled", i+1, n)
		}
	}
	wg.Wait()
	return opened
}

func noRoom(int) string { return "" }
