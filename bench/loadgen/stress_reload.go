package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The reload scenario: -n clients over every transport receive a broadcast
// while Caddy goes through -reloads config reloads that change CORS,
// namespaces, relays and limits. No client may be disconnected, every
// client must get every broadcast exactly once, and each change must be in
// effect once its reload returns. Caddy only: the scenario writes each
// config and loads it through the admin API (-admin), as `caddy reload`
// does (POST /load; here the Caddyfile itself, which Caddy adapts).
//
// Config r (reloadCaddyfile) differs from r-1 in:
//   - CORS: only the origin http://o<r>.test is allowed;
//   - namespaces: /n<r> exists, /n<r-1> no longer does;
//   - relays: /r relays "probe" in even configs only ("mark" always);
//   - limits: max_payload is 100000+r; from config 1 on,
//     max_connections_per_ip is 2 + r%3.
//
// After each reload: a handshake from http://o<r>.test is accepted and one
// from http://o<r-1>.test refused (403); /n<r> connects and /n<r-1> is
// refused; a socket of /r connected since config 0 emits "probe" then
// "mark", and another one receives the probe before the mark exactly when
// config r relays it; from a fresh address, 2 + r%3 handshakes are
// accepted, each announcing maxPayload 100000+r, and the next one gets 429.

// reloadKinds are the transports the clients use, in turn.
var reloadKinds = []string{"websocket", "polling", "polling-fresh", "upgrade", "polling-eio3", "websocket-eio3"}

// reloadResult is what the reload scenario adds to a result line.
type reloadResult struct {
	Reloads     int      `json:"reloads"`
	ReloadMsMax int64    `json:"reload_ms_max"` // the slowest POST /load
	Disconnects int      `json:"disconnects"`   // clients whose connection ended before the run did
	Duplicates  int64    `json:"duplicates"`    // deliveries of a broadcast a client already had
	Checks      int      `json:"checks"`        // checks of a change in effect that held
	Failed      []string `json:"failed_checks,omitempty"`

	ByKind map[string]*reloadKind `json:"by_kind"`
}

// reloadKind is one transport's share.
type reloadKind struct {
	Clients     int    `json:"clients"`
	Disconnects int    `json:"disconnects"`
	Lost        int64  `json:"lost"`
	Duplicates  int64  `json:"duplicates"`
	FirstErr    string `json:"first_error,omitempty"` // why the first disconnected one ended
}

// reloadClient is one receiving client and what it got: counts[seq-1] is
// how many times broadcast seq arrived. The serve goroutine owns counts
// until it returns (done).
type reloadClient struct {
	kind    string
	c       client
	counts  []uint8
	highest atomic.Int64
	ended   error // why serve returned, valid after done
	done    chan struct{}
}

// reloadSetup is the reload scenario's flags.
type reloadSetup struct {
	admin    string        // Caddy's admin endpoint, http://host:port
	reloads  int           // how many reloads
	every    time.Duration // time between two reloads
	tick     time.Duration // time between two broadcasts
	handover bool          // configs use the socketio_handover listener wrapper
}

// reloadCaddyfile is config r of the scenario, for a server at listen
// (host:port) with its admin endpoint at admin (host:port).
func reloadCaddyfile(r int, listen, admin string, handover bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tadmin %s\n\tauto_https off\n\tpersist_config off\n\tlog {\n\t\tlevel WARN\n\t}\n", admin)
	if handover {
		b.WriteString("\tservers {\n\t\tlistener_wrappers {\n\t\t\tsocketio_handover\n\t\t\ttls\n\t\t}\n\t}\n")
	}
	fmt.Fprintf(&b, "}\n\nhttp://%s {\n\tsocketio {\n\t\tallow_eio3\n\t\tmax_payload %d\n", listen, reloadMaxPayload(r))
	if limit := reloadPerIPLimit(r); limit > 0 {
		fmt.Fprintf(&b, "\t\tmax_connections_per_ip %d\n", limit)
	}
	fmt.Fprintf(&b, "\t\tcors {\n\t\t\torigin %s\n\t\t}\n", reloadOrigin(r))
	b.WriteString("\t\tnamespace / {\n\t\t\trelay tick\n\t\t}\n")
	relay := "mark"
	if reloadRelaysProbe(r) {
		relay = "mark probe"
	}
	fmt.Fprintf(&b, "\t\tnamespace /r {\n\t\t\trelay %s\n\t\t}\n", relay)
	fmt.Fprintf(&b, "\t\tnamespace /n%d {\n\t\t}\n\t}\n}\n", r)
	return b.String()
}

func reloadOrigin(r int) string    { return fmt.Sprintf("http://o%d.test", r) }
func reloadMaxPayload(r int) int   { return 100000 + r }
func reloadRelaysProbe(r int) bool { return r%2 == 0 }
func reloadNamespace(r int) string { return fmt.Sprintf("/n%d", r) }
func reloadPerIPLimit(r int) int {
	if r == 0 {
		return 0 // the clients of the run connect under config 0, many per address
	}
	return 2 + r%3
}

// loadConfig replaces Caddy's config through its admin API and returns how
// long that took.
func (rs *reloadSetup) loadConfig(ctx context.Context, caddyfile string) (time.Duration, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rs.admin+"/load", strings.NewReader(caddyfile))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s/load: %v", rs.admin, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST %s/load: HTTP %s: %s", rs.admin, resp.Status, clip(body))
	}
	return time.Since(start), nil
}

// runReload is the reload scenario.
func runReload(ctx context.Context, s *scenario, rs *reloadSetup) (result, error) {
	r := result{Scenario: "reload", Transport: "mixed", N: s.n}
	if rs.admin == "" {
		return r, fmt.Errorf("reload: -admin is needed: Caddy's admin endpoint, such as http://127.0.0.1:2019")
	}
	if s.target.endpoint.Path != "/socket.io/" {
		return r, fmt.Errorf("reload: the scenario's configs serve /socket.io/, not %s", s.target.endpoint.Path)
	}
	adminURL, err := url.Parse(rs.admin)
	if err != nil || adminURL.Host == "" {
		return r, fmt.Errorf("reload: -admin %q: want http://host:port", rs.admin)
	}
	listen, adminAddr := s.target.endpoint.Host, adminURL.Host
	config := func(round int) string { return reloadCaddyfile(round, listen, adminAddr, rs.handover) }
	if _, err := rs.loadConfig(ctx, config(0)); err != nil {
		return r, err
	}

	// The clients, each kind on its own target: protocol 3, and polling
	// with a new connection per request as socket.io-client does in Node
	// (the others keep their connections alive, as browsers do).
	fresh := *s.target
	fresh.http = &http.Client{Transport: &http.Transport{DialContext: s.target.http.Transport.(*http.Transport).DialContext, DisableKeepAlives: true}}
	v3 := fresh
	v3.proto = 3
	v3ws := *s.target
	v3ws.proto = 3
	clients := make([]*reloadClient, s.n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, max(s.dialSlots, 1))
	for i := range clients {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			kind := reloadKinds[i%len(reloadKinds)]
			var c client
			var err error
			switch kind {
			case "websocket", "polling":
				c, err = s.target.dial(ctx, kind, "")
			case "polling-fresh":
				c, err = fresh.dial(ctx, "polling", "")
			case "upgrade":
				c, err = dialUpgraded(ctx, s.target)
			case "polling-eio3":
				c, err = v3.dial(ctx, "polling", "")
			case "websocket-eio3":
				c, err = v3ws.dial(ctx, "websocket", "")
			}
			if err != nil {
				s.errs.add(fmt.Errorf("%s client: %v", kind, err))
				return
			}
			clients[i] = &reloadClient{kind: kind, c: c, done: make(chan struct{})}
		}()
	}
	wg.Wait()
	var closing atomic.Bool
	var delivered atomic.Int64
	for _, rc := range clients {
		if rc == nil {
			continue
		}
		go func() {
			defer close(rc.done)
			rc.ended = rc.c.serve(func(p sioPacket) {
				if p.Type != sioEvent || p.Namespace != "/" {
					return
				}
				seq, _, ok := parseStamp(p.Data)
				if !ok || seq < 1 {
					return
				}
				for int64(len(rc.counts)) < seq {
					rc.counts = append(rc.counts, 0)
				}
				if rc.counts[seq-1] < 255 {
					rc.counts[seq-1]++
				}
				delivered.Add(1)
				if seq > rc.highest.Load() {
					rc.highest.Store(seq)
				}
			})
		}()
	}
	defer func() {
		closing.Store(true)
		for _, rc := range clients {
			if rc != nil {
				rc.c.close()
			}
		}
	}()
	s.logf("reload: %d clients connected", countClients(clients))

	// The relay checkers: connected under config 0, kept through every reload.
	relayNS := *s.target
	relayNS.namespace = "/r"
	emitter, err := dialWebSocket(ctx, &relayNS, "")
	if err != nil {
		return r, fmt.Errorf("reload: the relay checker: %v", err)
	}
	defer emitter.close()
	watcher, err := dialWebSocket(ctx, &relayNS, "")
	if err != nil {
		return r, fmt.Errorf("reload: the relay checker: %v", err)
	}
	defer watcher.close()
	go func() { _ = emitter.serve(func(sioPacket) {}) }()
	var probes sync.Map // round -> true: its probe reached the watcher
	marks := make(chan int64, 4)
	watcherEnded := make(chan error, 1)
	go func() {
		watcherEnded <- watcher.serve(func(p sioPacket) {
			if p.Type != sioEvent {
				return
			}
			seq, _, ok := parseStamp(p.Data)
			switch {
			case !ok:
			case bytes.HasPrefix(p.Data, []byte(`["probe"`)):
				probes.Store(seq, true)
			case bytes.HasPrefix(p.Data, []byte(`["mark"`)):
				marks <- seq
			}
		})
	}()

	// The broadcast: a sender in / relays a numbered tick to every client.
	sender, err := dialWebSocket(ctx, s.target, "")
	if err != nil {
		return r, fmt.Errorf("reload: the sender: %v", err)
	}
	defer sender.close()
	go func() { _ = sender.serve(func(sioPacket) {}) }()
	var sent atomic.Int64
	ticking, stopTicking := context.WithCancel(ctx)
	defer stopTicking()
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		var msg []byte
		for t := time.NewTicker(rs.tick); ticking.Err() == nil; <-t.C {
			seq := sent.Load() + 1
			msg = appendSIO(msg[:0], sioEvent, "/", -1, appendStamp(nil, "tick", seq, s.micros(), s.pad))
			if err := sender.send(msg); err != nil {
				s.errs.add(fmt.Errorf("the sender: %v", err))
				return
			}
			sent.Store(seq)
		}
	}()

	st := &reloadResult{ByKind: map[string]*reloadKind{}}
	check := func(round int, what string, err error) {
		if err == nil {
			st.Checks++
			return
		}
		st.Failed = append(st.Failed, fmt.Sprintf("config %d, %s: %v", round, what, err))
	}
	runChecks := func(round int) {
		check(round, "cors", checkOrigins(ctx, s, round))
		check(round, "namespaces", checkNamespaces(ctx, s, round))
		check(round, "relay", checkRelay(emitter, round, marks, &probes))
		check(round, "limits", checkLimits(ctx, s, round))
	}
	before, err := s.sample()
	if err != nil {
		return r, err
	}
	start := time.Now()
	runChecks(0)
	for round := 1; round <= rs.reloads && ctx.Err() == nil; round++ {
		time.Sleep(rs.every)
		took, err := rs.loadConfig(ctx, config(round))
		if err != nil {
			st.Failed = append(st.Failed, fmt.Sprintf("reload %d: %v", round, err))
			continue
		}
		st.Reloads++
		st.ReloadMsMax = max(st.ReloadMsMax, took.Milliseconds())
		runChecks(round)
		s.logf("reload: %d of %d done (%v), %d broadcasts so far", round, rs.reloads, took.Round(time.Millisecond), sent.Load())
	}
	time.Sleep(rs.every) // the last config serves a while too
	stopTicking()
	<-tickerDone
	last := sent.Load()
	// Every client that is still connected gets the last tick in time.
	waitUntil(func() bool {
		for _, rc := range clients {
			if rc == nil {
				continue
			}
			select {
			case <-rc.done:
				continue
			default:
			}
			if rc.highest.Load() < last {
				return false
			}
		}
		return true
	}, 30*time.Second)
	elapsed := time.Since(start)
	after, err := s.sample()
	if err != nil {
		return r, err
	}
	select {
	case err := <-watcherEnded:
		st.Failed = append(st.Failed, fmt.Sprintf("the relay checker was disconnected: %v", err))
	default:
	}
	var ended []*reloadClient
	for _, rc := range clients {
		if rc == nil {
			continue
		}
		select {
		case <-rc.done:
			ended = append(ended, rc)
		default:
		}
	}
	closing.Store(true)
	for _, rc := range clients {
		if rc != nil {
			rc.c.close()
		}
	}
	var lost, dups int64
	for _, rc := range clients {
		if rc == nil {
			continue
		}
		<-rc.done
		k := st.ByKind[rc.kind]
		if k == nil {
			k = &reloadKind{}
			st.ByKind[rc.kind] = k
		}
		k.Clients++
		for seq := int64(1); seq <= last; seq++ {
			n := uint8(0)
			if seq <= int64(len(rc.counts)) {
				n = rc.counts[seq-1]
			}
			switch {
			case n == 0:
				k.Lost++
				lost++
			case n > 1:
				k.Duplicates += int64(n - 1)
				dups += int64(n - 1)
			}
		}
	}
	for _, rc := range ended {
		if k := st.ByKind[rc.kind]; k.Disconnects == 0 {
			k.FirstErr = fmt.Sprint(rc.ended)
		}
		st.ByKind[rc.kind].Disconnects++
		st.Disconnects++
		s.errs.add(fmt.Errorf("a %s client was disconnected: %v", rc.kind, rc.ended))
	}
	r.Sent = last
	r.Ops = delivered.Load()
	r.Lost = lost
	st.Duplicates = dups
	r.Up = countClients(clients) - len(ended)
	r.Stress = &stressResult{Reload: st}
	r.Errors += int64(len(st.Failed))
	if len(st.Failed) > 0 {
		r.FirstErr = st.Failed[0]
	}
	r.measure(before, after, elapsed)
	s.errs.report(&r)
	return r, nil
}

func countClients(clients []*reloadClient) int {
	n := 0
	for _, rc := range clients {
		if rc != nil {
			n++
		}
	}
	return n
}

// checkerTarget is a target whose connections come from ip alone, a new
// connection per request.
func checkerTarget(s *scenario, ip net.IP, namespace string) *target {
	t := newTarget(s.target.endpoint, 4, namespace, &sourceDialer{sources: []net.IP{ip}}, 4)
	t.http.Transport.(*http.Transport).DisableKeepAlives = true
	return t
}

// checkerIP is the source address of a check of config round: each check
// and config has its own, so that what one leaves open counts against no
// other's max_connections_per_ip.
func checkerIP(check, round int) net.IP {
	return net.IPv4(127, byte(10+check), byte(round/250), byte(1+round%250))
}

// handshake sends a polling handshake with the given Origin header ("" for
// none) and returns its status, its open packet when accepted, and the
// value of Access-Control-Allow-Origin.
func handshake(ctx context.Context, t *target, origin string) (int, openPacket, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url("polling", ""), nil)
	if err != nil {
		return 0, openPacket{}, "", err
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return 0, openPacket{}, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, openPacket{}, "", err
	}
	var open openPacket
	if resp.StatusCode == http.StatusOK {
		packets, err := splitPayload(body, t.proto)
		if err != nil || len(packets) == 0 {
			return resp.StatusCode, open, "", fmt.Errorf("handshake answer %q: %v", clip(body), err)
		}
		if open, err = parseOpen(packets[0]); err != nil {
			return resp.StatusCode, open, "", err
		}
	}
	return resp.StatusCode, open, resp.Header.Get("Access-Control-Allow-Origin"), nil
}

// endSession sends a polling session its close packet.
func endSession(ctx context.Context, t *target, sid string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url("polling", "")+"&sid="+sid, strings.NewReader("1"))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	if resp, err := t.http.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// checkOrigins: config round's origin is accepted, the one before refused.
func checkOrigins(ctx context.Context, s *scenario, round int) error {
	t := checkerTarget(s, checkerIP(0, round), "/")
	status, open, allowed, err := handshake(ctx, t, reloadOrigin(round))
	if err != nil {
		return err
	}
	if status != http.StatusOK || allowed != reloadOrigin(round) {
		return fmt.Errorf("a handshake from %s got %d with Access-Control-Allow-Origin %q; want 200 and the origin", reloadOrigin(round), status, allowed)
	}
	endSession(ctx, t, open.SID)
	if round == 0 {
		return nil
	}
	status, open, _, err = handshake(ctx, t, reloadOrigin(round-1))
	if err != nil {
		return err
	}
	if status != http.StatusForbidden {
		endSession(ctx, t, open.SID)
		return fmt.Errorf("a handshake from %s, allowed only before the reload, got %d; want 403", reloadOrigin(round-1), status)
	}
	return nil
}

// checkNamespaces: config round's namespace connects, the one before is
// refused.
func checkNamespaces(ctx context.Context, s *scenario, round int) error {
	c, err := checkerTarget(s, checkerIP(1, round), reloadNamespace(round)).dial(ctx, "polling", "")
	if err != nil {
		return fmt.Errorf("connecting to %s: %v", reloadNamespace(round), err)
	}
	c.close()
	if round == 0 {
		return nil
	}
	c, err = checkerTarget(s, checkerIP(3, round), reloadNamespace(round-1)).dial(ctx, "polling", "")
	if err == nil {
		c.close()
		return fmt.Errorf("%s, removed by the reload, still connects", reloadNamespace(round-1))
	}
	if refused, ok := err.(*refusedError); !ok || !strings.Contains(refused.data, "Invalid namespace") {
		return fmt.Errorf("connecting to %s, removed by the reload: %v; want Invalid namespace", reloadNamespace(round-1), err)
	}
	return nil
}

// checkRelay: a socket connected since config 0 emits a probe and then a
// mark; the other checker receives the probe before the mark exactly when
// config round relays probes (one session's events are relayed in order).
func checkRelay(emitter *wsClient, round int, marks <-chan int64, probes *sync.Map) error {
	seq := int64(round + 1)
	for _, event := range []string{"probe", "mark"} {
		if err := emitter.send(appendSIO(nil, sioEvent, "/r", -1, appendStamp(nil, event, seq, 0, 0))); err != nil {
			return err
		}
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-marks:
			if m != seq {
				continue // a late mark of an earlier round
			}
			_, got := probes.Load(seq)
			if got != reloadRelaysProbe(round) {
				return fmt.Errorf("probe relayed: %v; the config relays it: %v", got, reloadRelaysProbe(round))
			}
			return nil
		case <-timeout:
			return fmt.Errorf("the mark emitted on /r did not arrive within 10s")
		}
	}
}

// checkLimits: handshakes announce config round's max_payload; from one
// address, max_connections_per_ip handshakes are accepted and the next
// refused with 429.
func checkLimits(ctx context.Context, s *scenario, round int) error {
	t := checkerTarget(s, checkerIP(2, round), "/")
	limit := reloadPerIPLimit(round)
	var sids []string
	defer func() {
		for _, sid := range sids {
			endSession(ctx, t, sid)
		}
	}()
	for i := 0; i < max(limit, 1); i++ {
		status, open, _, err := handshake(ctx, t, "")
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("handshake %d of %d from one address got %d; want 200", i+1, limit, status)
		}
		sids = append(sids, open.SID)
		if open.MaxPayload != reloadMaxPayload(round) {
			return fmt.Errorf("the open packet says maxPayload %d; the config says %d", open.MaxPayload, reloadMaxPayload(round))
		}
	}
	if limit == 0 {
		return nil
	}
	status, open, _, err := handshake(ctx, t, "")
	if err != nil {
		return err
	}
	if status != http.StatusTooManyRequests {
		sids = append(sids, open.SID)
		return fmt.Errorf("handshake %d from one address with max_connections_per_ip %d got %d; want 429", limit+1, limit, status)
	}
	return nil
}
