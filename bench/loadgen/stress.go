package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The stress scenarios (bench/stress.sh runs them at full size): hostile or
// broken clients must cost only themselves.
//
//	stalled: -n WebSocket clients that never read, -c healthy ones, one
//	         sender relaying -events events of -pad bytes to all; the
//	         server's peak RSS, the healthy clients' losses, and how many
//	         stalled clients the server closed.
//	cycles:  -n connect/disconnect cycles, -c at a time, over WebSocket,
//	         polling, polling upgraded to WebSocket, and protocol 3
//	         polling in turn; the server's goroutines, heap and RSS
//	         before and after (-pprof: Caddy's admin /debug/pprof/).
//	slow:    -n slow requests (half of them polling POSTs whose body comes
//	         a byte a second, half WebSocket handshakes never finished),
//	         then -c clients that connect and do an acknowledged emit
//	         while they hang: the round trips that succeed, and their
//	         latency; with -hold, how many slow requests are still open
//	         after that long (the server's timeouts cut the others).

// stressResult is what the stress scenarios add to a result line.
type stressResult struct {
	RSSMax        int64    `json:"rss_max,omitempty"`        // stalled: the server's peak resident bytes
	StalledClosed int      `json:"stalled_closed,omitempty"` // stalled: clients the server closed
	Goroutines    [2]int   `json:"goroutines,omitzero"`      // cycles: the server's, before and after
	HeapBytes     [2]int64 `json:"heap_bytes,omitzero"`      // cycles: its live heap, before and after

	Reload *reloadResult `json:"reload,omitempty"` // reload (stress_reload.go)
}

// runStalled is the stalled scenario.
func runStalled(ctx context.Context, s *scenario, events int) (result, error) {
	r := result{Scenario: "stalled", Transport: "websocket", N: s.n}
	ns := s.target.namespace
	// A stalled client reads nothing, and its socket buffers as little as
	// the kernel lets it: what piles up, piles up in the server.
	stalledTarget := *s.target
	dialer := *s.target.ws
	dialer.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := s.target.ws.NetDialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}
	stalledTarget.ws = &dialer
	stalled := make([]*wsClient, s.n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 64)
	for i := range stalled {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			c, err := dialWebSocket(ctx, &stalledTarget, "")
			if err != nil {
				s.errs.add(fmt.Errorf("stalled client: %v", err))
				return
			}
			stalled[i] = c
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range stalled {
			if c != nil {
				c.close()
			}
		}
	}()
	s.logf("stalled: %d stalled clients connected", s.n)

	var delivered atomic.Int64
	healthy := make([]client, s.c)
	opened := s.openClients(ctx, s.c, "websocket", noRoom, func(i int, c client) { healthy[i] = c })
	var serving sync.WaitGroup
	for _, c := range healthy {
		if c == nil {
			continue
		}
		serving.Add(1)
		go func() {
			defer serving.Done()
			_ = c.serve(func(p sioPacket) {
				if p.Type == sioEvent {
					delivered.Add(1)
				}
			})
		}()
	}
	defer func() {
		for _, c := range healthy {
			if c != nil {
				c.close()
			}
		}
		serving.Wait()
	}()
	sender, err := s.target.dial(ctx, "websocket", "")
	if err != nil {
		return r, fmt.Errorf("stalled: the sender: %v", err)
	}
	defer sender.close()
	go func() { _ = sender.serve(func(sioPacket) {}) }()

	before, err := s.sample()
	if err != nil {
		return r, err
	}
	var peak atomic.Int64
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		for sampling.Err() == nil {
			if p, err := s.sample(); err == nil && p != nil && p.RSS > peak.Load() {
				peak.Store(p.RSS)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	start := time.Now()
	receivers := int64(opened)
	var msg, args []byte
	sent := int64(0)
	for ; sent < int64(events) && ctx.Err() == nil; sent++ {
		if want := (sent - int64(s.window)) * receivers; want > 0 {
			waitUntil(func() bool { return delivered.Load() >= want }, fanoutCatchUp)
		}
		args = appendStamp(args[:0], "stress", sent+1, s.micros(), s.pad)
		msg = appendSIO(msg[:0], sioEvent, ns, -1, args)
		if err := sender.send(msg); err != nil {
			s.errs.add(err)
			break
		}
	}
	waitUntil(func() bool { return delivered.Load() >= sent*receivers }, fanoutDrain)
	elapsed := time.Since(start)
	stopSampling()
	after, err := s.sample()
	if err != nil {
		return r, err
	}
	// A stalled client the server closed reads what the kernel still had
	// for it, then the end of the connection; one it did not close reads
	// on until the deadline.
	var closed atomic.Int64
	deadline := time.Now().Add(20 * time.Second)
	for _, c := range stalled {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw := c.conn.NetConn()
			if tc, ok := raw.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(1 << 20)
			}
			_ = raw.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, raw)
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				closed.Add(1)
			}
		}()
	}
	wg.Wait()
	r.Sent = sent
	r.Ops = delivered.Load()
	r.Lost = max(sent*receivers-r.Ops, 0)
	r.Up = s.n - int(closed.Load())
	r.Stress = &stressResult{RSSMax: peak.Load(), StalledClosed: int(closed.Load())}
	r.measure(before, after, elapsed)
	s.errs.report(&r)
	return r, nil
}

// runCycles is the cycles scenario.
func runCycles(ctx context.Context, s *scenario, prof *profiler) (result, error) {
	r := result{Scenario: "cycles", Transport: "mixed", N: s.n}
	v3 := *s.target
	v3.proto = 3
	kinds := []string{"websocket", "polling", "upgrade", "polling-eio3"}
	var done atomic.Int64
	slots := make(chan struct{}, s.c)
	var wg sync.WaitGroup
	// settle lets the server forget the sessions that just ended (a polling
	// sid answers one more GET for a second), and closes the client's idle
	// keep-alive connections, which hold a server goroutine each.
	settle := func() {
		s.target.http.CloseIdleConnections()
		time.Sleep(3 * time.Second)
	}
	cycle := func(i int) {
		defer wg.Done()
		defer func() { <-slots }()
		var c client
		var err error
		switch kinds[i%len(kinds)] {
		case "websocket":
			c, err = s.target.dial(ctx, "websocket", "")
		case "polling":
			c, err = s.target.dial(ctx, "polling", "")
		case "upgrade":
			c, err = dialUpgraded(ctx, s.target)
		case "polling-eio3":
			c, err = v3.dial(ctx, "polling", "")
		}
		if err != nil {
			s.errs.add(fmt.Errorf("%s: %v", kinds[i%len(kinds)], err))
			return
		}
		c.close()
		done.Add(1)
	}
	// A first round, not counted, allocates what the server makes once
	// (pools, maps at this size), which would otherwise look like a leak.
	for i := range max(s.n/10, len(kinds)) {
		slots <- struct{}{}
		wg.Add(1)
		go cycle(i)
	}
	wg.Wait()
	done.Store(0)
	settle()
	before, err := s.sample()
	if err != nil {
		return r, err
	}
	st := &stressResult{}
	st.Goroutines[0], st.HeapBytes[0] = serverRuntime(prof)
	start := time.Now()
	for i := 0; i < s.n && ctx.Err() == nil; i++ {
		slots <- struct{}{}
		wg.Add(1)
		go cycle(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	settle()
	after, err := s.sample()
	if err != nil {
		return r, err
	}
	st.Goroutines[1], st.HeapBytes[1] = serverRuntime(prof)
	r.Ops = done.Load()
	r.Stress = st
	r.measure(before, after, elapsed)
	s.errs.report(&r)
	return r, nil
}

// dialUpgraded opens a polling session and upgrades it to WebSocket, as
// socket.io-client does by default.
func dialUpgraded(ctx context.Context, t *target) (client, error) {
	p, err := dialPolling(ctx, t, "")
	if err != nil {
		return nil, err
	}
	url := t.url("websocket", "") + "&sid=" + p.open.SID
	conn, _, err := t.ws.DialContext(ctx, url, nil)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("upgrade: %v", err)
	}
	c := &wsClient{conn: conn, proto: t.proto, ns: t.namespace, open: p.open}
	fail := func(err error) (client, error) {
		conn.Close()
		p.cancel()
		return nil, fmt.Errorf("upgrade: %v", err)
	}
	if err := c.send([]byte("2probe")); err != nil {
		return fail(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := c.read()
		if err != nil {
			return fail(err)
		}
		if string(m) == "3probe" {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	if err := c.send([]byte("5")); err != nil {
		return fail(err)
	}
	p.cancel() // the polling transport is done with
	return c, nil
}

// serverRuntime reads the server's goroutine count and live heap (after a
// collection) from its /debug/pprof/; zeros without -pprof.
func serverRuntime(prof *profiler) (goroutines int, heap int64) {
	if prof == nil {
		return 0, 0
	}
	get := func(path string) string {
		resp, err := http.Get(prof.base + "/debug/pprof" + path)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if m := regexp.MustCompile(`goroutine profile: total (\d+)`).FindStringSubmatch(get("/goroutine?debug=1")); m != nil {
		goroutines, _ = strconv.Atoi(m[1])
	}
	if m := regexp.MustCompile(`# HeapAlloc = (\d+)`).FindStringSubmatch(get("/heap?gc=1&debug=1")); m != nil {
		heap, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return goroutines, heap
}

// runSlow is the slow scenario.
func runSlow(ctx context.Context, s *scenario) (result, error) {
	r := result{Scenario: "slow", Transport: "mixed", N: s.n}
	host := s.target.endpoint.Host
	var slow []net.Conn
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, 64)
	for i := range s.n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			var req string
			if i%2 == 0 {
				// A POST for a real session, its body to come a byte a second.
				p, err := dialPolling(ctx, s.target, "")
				if err != nil {
					s.errs.add(fmt.Errorf("slow POST's session: %v", err))
					return
				}
				path := strings.TrimPrefix(p.url, "http://"+host)
				req = "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
			} else {
				// A WebSocket handshake whose headers never end.
				req = "GET " + s.target.endpoint.Path + "?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\n"
			}
			c, err := s.target.ws.NetDialContext(ctx, "tcp", host)
			if err != nil {
				s.errs.add(fmt.Errorf("slow request: %v", err))
				return
			}
			if _, err := io.WriteString(c, req); err != nil {
				c.Close()
				return
			}
			mu.Lock()
			slow = append(slow, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	// One byte a second on every slow POST, until the end.
	trickle, stopTrickle := context.WithCancel(ctx)
	defer stopTrickle()
	var cut atomic.Int64
	go func() {
		for t := time.NewTicker(time.Second); trickle.Err() == nil; <-t.C {
			mu.Lock()
			for i, c := range slow {
				if c != nil && i%2 == 0 {
					if _, err := c.Write([]byte("x")); err != nil {
						c.Close()
						slow[i] = nil
						cut.Add(1)
					}
				}
			}
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range slow {
			if c != nil {
				c.Close()
			}
		}
		mu.Unlock()
	}()
	s.logf("slow: %d slow requests hanging; %d clients connect and chat", len(slow), s.c)
	before, err := s.sample()
	if err != nil {
		return r, err
	}
	start := time.Now()
	var h histogram
	var hmu sync.Mutex
	var ok atomic.Int64
	for i := range s.c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			transport := "websocket"
			if i%2 == 1 {
				transport = "polling"
			}
			c, err := s.target.dial(ctx, transport, "")
			if err != nil {
				s.errs.add(fmt.Errorf("a normal client during the slow requests: %v", err))
				return
			}
			defer c.close()
			acked := make(chan struct{})
			go func() {
				_ = c.serve(func(p sioPacket) {
					if p.Type == sioAck {
						close(acked)
					}
				})
			}()
			if err := c.send(appendSIO(nil, sioEvent, s.target.namespace, 1, appendStamp(nil, "hello", 1, s.micros(), 0))); err != nil {
				s.errs.add(err)
				return
			}
			select {
			case <-acked:
				ok.Add(1)
				hmu.Lock()
				h.record(time.Since(t0).Microseconds())
				hmu.Unlock()
			case <-time.After(10 * time.Second):
				s.errs.add(fmt.Errorf("a normal client's emit was not acknowledged within 10s"))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := s.sample()
	if err != nil {
		return r, err
	}
	r.Ops = ok.Load()
	if s.hold > 0 {
		// How many of them the server's timeouts cut meanwhile: a request
		// the server answered or closed reads something or its end.
		time.Sleep(s.hold)
		stopTrickle()
		mu.Lock()
		for i, c := range slow {
			if c == nil {
				continue
			}
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err == nil || !isTimeout(err) {
				c.Close()
				slow[i] = nil
				cut.Add(1)
			}
		}
		mu.Unlock()
	}
	r.Up = len(slow) - int(cut.Load()) // slow requests the server still holds open
	r.measure(before, after, elapsed)
	r.latencies(&h)
	s.errs.report(&r)
	return r, nil
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
