package engine

import (
	"sync"
	"sync/atomic"
)

// Stats are a server's running totals, for metrics: plain atomic counters
// that the session code bumps where the event happens anyway (a handshake,
// a write of a whole batch, the end of a session), so that keeping them
// costs an atomic add, never a lock or a map. A metrics collector reads
// them when it is scraped; see Server.Stats.
//
// The traffic counters, bumped by every reader and flusher goroutine, are
// sharded by session, each shard on a cache line of its own: goroutines of
// different sessions running on different cores then rarely write to the
// same line (a broadcast wakes one flusher per receiver at once). Each
// packs a count of packets and their bytes into one word, so that a read
// or a written batch costs one atomic add, not two: the word is folded
// into the wide totals whenever either part passes half its range, and
// at every snapshot.
type Stats struct {
	// sessions open now, by protocol (3, 4) and current transport.
	sessions [2][2]atomic.Int64

	handshakes [numHandshakeOutcomes]atomic.Uint64
	upgrades   atomic.Uint64
	closes     [numCloseReasons]atomic.Uint64

	volatileDropped atomic.Uint64 // volatile sends not queued (the transport was busy): one per call, whatever its number of messages
	slowClosed      atomic.Uint64 // sessions closed because their client stopped reading

	traffic [trafficShards]trafficShard

	// folding guards the totals the shards' words are folded into.
	folding sync.Mutex
	totals  trafficTotals
}

// trafficTotals are the folded traffic counts, by transport.
type trafficTotals struct {
	packetsIn, bytesIn, packetsOut, bytesOut [2]uint64
}

// A traffic word: bytes in the low trafficByteBits bits, packets above.
const (
	trafficByteBits = 40
	trafficByteMask = 1<<trafficByteBits - 1
	trafficPacket   = 1 << trafficByteBits
)

// trafficWord is packets and bytes as one addend. Neither part of a word
// may overflow between folds: count folds once a part passes half its
// range, and one addend is far below the other half (a message is at
// most MaxPayload, a batch of packets far fewer than 2^23).
func trafficWord(packets, bytes int) uint64 {
	return uint64(packets)<<trafficByteBits | uint64(bytes)&trafficByteMask
}

// count adds a word to *w and folds it when a part passed half its range.
func (st *Stats) count(w *atomic.Uint64, in bool, transport int, word uint64) {
	if v := w.Add(word); v&trafficByteMask >= 1<<(trafficByteBits-1) || v>>trafficByteBits >= 1<<(63-trafficByteBits) {
		st.folding.Lock()
		st.foldLocked(w, in, transport)
		st.folding.Unlock()
	}
}

// foldLocked moves a word's counts into the totals; st.folding held.
func (st *Stats) foldLocked(w *atomic.Uint64, in bool, transport int) {
	v := w.Swap(0)
	packets, bytes := v>>trafficByteBits, v&trafficByteMask
	if in {
		st.totals.packetsIn[transport] += packets
		st.totals.bytesIn[transport] += bytes
	} else {
		st.totals.packetsOut[transport] += packets
		st.totals.bytesOut[transport] += bytes
	}
}

const trafficShards = 8 // a power of two

// trafficShard is one share of the traffic counters, by transport: a
// cache line of counters and a line of padding, so that no two shards
// share a line however the array is aligned (1 KiB per server).
type trafficShard struct {
	in, out [2]atomic.Uint64 // traffic words by transport
	_       [64]byte
}

// shard is s's share, picked by trafficShardOf at its handshake.
func (st *Stats) shard(s *Session) *trafficShard {
	return &st.traffic[s.statsShard&(trafficShards-1)]
}

// trafficShardOf is the shard of a session with this id: ids are random,
// so sessions spread evenly. It is worked out once: reading the id's
// bytes on every write is a load from another allocation, which the
// fanout's CPU profile showed as all of the counting's cost there.
func trafficShardOf(id string) uint8 {
	return id[0] & (trafficShards - 1)
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
	st.folding.Lock()
	for i := range st.traffic {
		sh := &st.traffic[i]
		for t := range 2 {
			st.foldLocked(&sh.in[t], true, t)
			st.foldLocked(&sh.out[t], false, t)
		}
	}
	tt := st.totals
	st.folding.Unlock()
	s.PacketsIn, s.BytesIn, s.PacketsOut, s.BytesOut = tt.packetsIn, tt.bytesIn, tt.packetsOut, tt.bytesOut
	return s
}

func (st *Stats) handshake(o HandshakeOutcome) {
	if !counting {
		return
	}
	st.handshakes[o].Add(1)
}

// opened counts a new session on its handshake transport.
func (st *Stats) opened(s *Session) {
	if !counting {
		return
	}
	st.sessions[s.protocol-3][transportIndex(s.transportName())].Add(1)
	st.handshakes[HandshakeAccepted].Add(1)
}

// upgraded moves a session from polling to WebSocket; called with s.mu
// held, as end reads the transport under it.
func (st *Stats) upgraded(s *Session) {
	if !counting {
		return
	}
	p := s.protocol - 3
	st.sessions[p][0].Add(-1)
	st.sessions[p][1].Add(1)
	st.upgrades.Add(1)
}

// closed counts the end of a session that was counted by opened, on the
// transport it had when it ended.
func (st *Stats) closed(protocol uint8, transport, reason string) {
	if !counting {
		return
	}
	st.sessions[protocol-3][transportIndex(transport)].Add(-1)
	st.closes[closeReasonIndex(reason)].Add(1)
}

// received counts packets read from s's client in one message or body.
func (st *Stats) received(s *Session, transport int, packets, bytes int) {
	if !counting {
		return
	}
	st.count(&st.shard(s).in[transport], true, transport, trafficWord(packets, bytes))
}

// sent counts packets written to s's client in one batch or response.
func (st *Stats) sent(s *Session, transport int, packets, bytes int) {
	if !counting {
		return
	}
	st.count(&st.shard(s).out[transport], false, transport, trafficWord(packets, bytes))
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
