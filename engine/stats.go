package engine

import "sync/atomic"

// Stats are a server's running totals, for metrics: plain atomic counters
// that the session code bumps where the event happens anyway (a handshake,
// a write of a whole batch, the end of a session), so that keeping them
// costs an atomic add, never a lock or a map. A metrics collector reads
// them when it is scraped; see Server.Stats.
//
// The traffic counters, bumped by every reader and flusher goroutine, are
// sharded by session, each shard on a cache line of its own: goroutines of
// different sessions running on different cores then rarely write to the
// same line (a broadcast wakes one flusher per receiver at once).
type Stats struct {
	// sessions open now, by protocol (3, 4) and current transport.
	sessions [2][2]atomic.Int64

	handshakes [numHandshakeOutcomes]atomic.Uint64
	upgrades   atomic.Uint64
	closes     [numCloseReasons]atomic.Uint64

	volatileDropped atomic.Uint64 // volatile sends not queued (the transport was busy): one per call, whatever its number of messages
	slowClosed      atomic.Uint64 // sessions closed because their client stopped reading

	traffic [trafficShards]trafficShard
}

const trafficShards = 8 // a power of two

// trafficShard is one share of the traffic counters, by transport: a
// cache line of counters and a line of padding, so that no two shards
// share a line however the array is aligned (1 KiB per server).
type trafficShard struct {
	packetsIn, bytesIn, packetsOut, bytesOut [2]atomic.Uint64
	_                                        [64]byte
}

// shard is s's share: its id is random, so sessions spread evenly.
func (st *Stats) shard(s *Session) *trafficShard {
	return &st.traffic[s.id[0]&(trafficShards-1)]
}

// Stats returns the server's running totals. The pointer stays valid for
// the server's lifetime; read it with Snapshot.
func (srv *Server) Stats() *Stats { return &srv.stats }

// HandshakeOutcome is what the engine answered to a handshake.
type HandshakeOutcome int

const (
	// HandshakeAccepted: a session was opened.
	HandshakeAccepted HandshakeOutcome = iota
	// HandshakeRefusedAllowRequest: Options.AllowRequest refused it.
	HandshakeRefusedAllowRequest
	// HandshakeBadRequest: a malformed handshake (unknown transport,
	// method other than GET, unsupported protocol, a bad Origin header).
	HandshakeBadRequest
	numHandshakeOutcomes
)

// String is the outcome's metric label value.
func (o HandshakeOutcome) String() string {
	switch o {
	case HandshakeAccepted:
		return "accepted"
	case HandshakeRefusedAllowRequest:
		return "refused_allow_request"
	case HandshakeBadRequest:
		return "bad_request"
	}
	return "unknown"
}

// CloseReasons are the reasons a session ends with (Session.OnClose), in
// the order of StatsSnapshot.Closes.
var CloseReasons = [...]string{"transport close", "transport error", "ping timeout", "parse error", "forced close"}

const numCloseReasons = len(CloseReasons)

func closeReasonIndex(reason string) int {
	for i, r := range CloseReasons {
		if r == reason {
			return i
		}
	}
	return len(CloseReasons) - 1 // not reached: end is only called with these
}

// Transports are the transport names, in the order of the per-transport
// arrays of StatsSnapshot.
var Transports = [2]string{transportPolling, transportWebSocket}

func transportIndex(t string) int {
	if t == transportWebSocket {
		return 1
	}
	return 0
}

// StatsSnapshot is a copy of Stats at one moment. Arrays by transport are
// indexed as Transports, by protocol as [0] = 3, [1] = 4.
type StatsSnapshot struct {
	Sessions        [2][2]int64 // [protocol][transport], open now
	Handshakes      [numHandshakeOutcomes]uint64
	Upgrades        uint64
	Closes          [numCloseReasons]uint64 // indexed as CloseReasons
	VolatileDropped uint64
	SlowClosed      uint64
	PacketsIn       [2]uint64
	BytesIn         [2]uint64
	PacketsOut      [2]uint64
	BytesOut        [2]uint64
}

// Snapshot reads every counter. Counters are read one by one, so a
// snapshot taken while sessions change may be off by those changes.
func (st *Stats) Snapshot() StatsSnapshot {
	var s StatsSnapshot
	for p := range st.sessions {
		for t := range st.sessions[p] {
			s.Sessions[p][t] = st.sessions[p][t].Load()
		}
	}
	for i := range st.handshakes {
		s.Handshakes[i] = st.handshakes[i].Load()
	}
	s.Upgrades = st.upgrades.Load()
	for i := range st.closes {
		s.Closes[i] = st.closes[i].Load()
	}
	s.VolatileDropped = st.volatileDropped.Load()
	s.SlowClosed = st.slowClosed.Load()
	for i := range st.traffic {
		sh := &st.traffic[i]
		for t := range 2 {
			s.PacketsIn[t] += sh.packetsIn[t].Load()
			s.BytesIn[t] += sh.bytesIn[t].Load()
			s.PacketsOut[t] += sh.packetsOut[t].Load()
			s.BytesOut[t] += sh.bytesOut[t].Load()
		}
	}
	return s
}

func (st *Stats) handshake(o HandshakeOutcome) { st.handshakes[o].Add(1) }

// opened counts a new session on its handshake transport.
func (st *Stats) opened(s *Session) {
	st.sessions[s.protocol-3][transportIndex(s.transport)].Add(1)
	st.handshakes[HandshakeAccepted].Add(1)
}

// upgraded moves a session from polling to WebSocket; called with s.mu
// held, as end reads the transport under it.
func (st *Stats) upgraded(s *Session) {
	p := s.protocol - 3
	st.sessions[p][0].Add(-1)
	st.sessions[p][1].Add(1)
	st.upgrades.Add(1)
}

// closed counts the end of a session that was counted by opened, on the
// transport it had when it ended.
func (st *Stats) closed(protocol uint8, transport, reason string) {
	st.sessions[protocol-3][transportIndex(transport)].Add(-1)
	st.closes[closeReasonIndex(reason)].Add(1)
}

// received counts packets read from s's client in one message or body.
func (st *Stats) received(s *Session, transport int, packets, bytes int) {
	sh := st.shard(s)
	sh.packetsIn[transport].Add(uint64(packets))
	sh.bytesIn[transport].Add(uint64(bytes))
}

// sent counts packets written to s's client in one batch or response.
func (st *Stats) sent(s *Session, transport int, packets, bytes int) {
	sh := st.shard(s)
	sh.packetsOut[transport].Add(uint64(packets))
	sh.bytesOut[transport].Add(uint64(bytes))
}

// wsPacketBytes is the size of pkts as WebSocket message payloads: a type
// byte and the data (binary data goes as it is on protocol 4, with a type
// byte on protocol 3; base64 framing for b64 clients is not counted).
func wsPacketBytes(pkts []packet, protocol uint8) int {
	n := 0
	for _, p := range pkts {
		n += len(p.data)
		if !p.binary || protocol == 3 {
			n++
		}
	}
	return n
}

// handshakeOutcome classifies a refused handshake by its error code.
func handshakeOutcome(code int) HandshakeOutcome {
	if code == codeForbidden {
		return HandshakeRefusedAllowRequest
	}
	return HandshakeBadRequest
}
