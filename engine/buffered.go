package engine

import (
	"cmp"
	"net"
	"slices"
	"time"

	"go.uber.org/zap"
)

// The server-wide budget of queued outbound bytes (Options.MaxBufferedBytes).
//
// Server.buffered counts the bytes of the message packets that
// sessions hold and have not finished writing: queued, or taken by a
// writer (the WebSocket flusher, a polling GET) until its write returns,
// since a write stuck on a client that stopped reading still holds them.
// A prepared message (a broadcast) is counted once (with its encodings,
// see preparedCopies), however many sessions hold it: its refs count the
// holders, and its bytes are charged when the
// first one takes it and released when the last one lets go. Control
// packets (ping, pong, open, noop) are not counted.
//
// When an enqueue takes the total over the budget, one goroutine (evict)
// closes the sessions whose backlog is oldest, then largest, until the
// total is under 7/8 of the budget. A client that keeps reading has a
// backlog only while a write is under way, a few milliseconds old, and is
// closed only if closing every older backlog did not make room.

// preparedCopies is how many copies of its data a prepared message holds
// once WebSocket receivers wrote it: the message itself, the frame built
// from it (header and payload), and the payload while that frame is built
// (or a second protocol's or a compressed frame). Counting them makes the
// budget a bound on memory, not only on payload.
const preparedCopies = 3

// chargeBytes counts pkts, which a session starts to hold, in the
// server's total. It returns the new total.
func (srv *Server) chargeBytes(pkts []packet) int64 {
	var n int64
	for i := range pkts {
		p := &pkts[i]
		if p.typ != packetMessage {
			continue
		}
		if pm := p.prepared; pm != nil {
			if pm.refs.Add(1) != 1 {
				continue // already counted for another session
			}
			n += preparedCopies * int64(len(p.data))
			continue
		}
		n += int64(len(p.data))
	}
	if n == 0 {
		return srv.buffered.Load()
	}
	return srv.buffered.Add(n)
}

// releaseBytes takes pkts, which a session no longer holds (written, or
// dropped when it ended), out of the server's total.
func (srv *Server) releaseBytes(pkts []packet) {
	var n int64
	for i := range pkts {
		p := &pkts[i]
		if p.typ != packetMessage {
			continue
		}
		if pm := p.prepared; pm != nil {
			if pm.refs.Add(-1) != 0 {
				continue // still held by another session
			}
			n += preparedCopies * int64(len(p.data))
			continue
		}
		n += int64(len(p.data))
	}
	if n != 0 {
		srv.buffered.Add(-n)
	}
}

// BufferedBytes is the payload bytes queued for the server's sessions and
// not yet written, each broadcast counted once: what max_buffered_bytes
// bounds.
func (srv *Server) BufferedBytes() int64 { return srv.buffered.Load() }

// overBudget starts an eviction round if total is over the budget and no
// round is under way.
func (srv *Server) overBudget(total int64) {
	budget := srv.opts.Load().MaxBufferedBytes
	if budget <= 0 || total <= budget || !srv.evicting.CompareAndSwap(false, true) {
		return
	}
	go srv.evict(budget)
}

// evictYoungBacklog is the age under which a backlog may belong to a
// client that reads: before closing one that young, evict lets the writes
// of the sessions it already closed return (their bytes are released when
// the write fails) and looks at the total again.
const evictYoungBacklog = time.Second

// evict closes the sessions with the oldest and largest backlogs until
// the buffered total is under 7/8 of budget.
func (srv *Server) evict(budget int64) {
	defer srv.evicting.Store(false)
	target := budget - budget/8
	start := srv.buffered.Load()

	type candidate struct {
		s     *Session
		bytes int64
		age   time.Duration
	}
	now := sinceStart()
	srv.mu.Lock()
	sessions := make([]*Session, 0, srv.sessions.Len())
	for s := range srv.sessions.All() {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()
	var cands []candidate
	for _, s := range sessions {
		s.mu.Lock()
		if s.state != stateClosed && s.queuedBytes > 0 {
			cands = append(cands, candidate{s, s.queuedBytes, now - s.backlogSince})
		}
		s.mu.Unlock()
	}
	// Oldest first, to a tenth of a second (backlogs that started
	// together are one stall), then largest.
	slices.SortFunc(cands, func(a, b candidate) int {
		if c := cmp.Compare(b.age/(100*time.Millisecond), a.age/(100*time.Millisecond)); c != 0 {
			return c
		}
		return cmp.Compare(b.bytes, a.bytes)
	})

	var closed []string
	var closedBytes int64
	waited := false
	for _, c := range cands {
		if srv.buffered.Load() <= target {
			break
		}
		if c.age < evictYoungBacklog && !waited && len(closed) > 0 {
			waited = true
			time.Sleep(50 * time.Millisecond)
			if srv.buffered.Load() <= target {
				break
			}
		}
		if ce := c.s.opts.Logger.Check(zap.DebugLevel, "engine: closing a session over max_buffered_bytes"); ce != nil {
			ce.Write(zap.String("sid", c.s.id), zap.String("remote_addr", c.s.handshake.remoteAddr()),
				zap.Int64("backlog_bytes", c.bytes), zap.Duration("backlog_age", c.age))
		}
		// No close frame, and a reset rather than a FIN: a client that
		// does not read would get neither, and the kernel would keep the
		// closed socket's unsent megabytes until it gave up on it.
		c.s.mu.Lock()
		ws := c.s.ws
		c.s.mu.Unlock()
		if ws != nil {
			resetOnClose(ws)
		}
		c.s.end("transport error", false)
		closed = append(closed, c.s.handshake.remoteAddr())
		closedBytes += c.bytes
	}
	if len(closed) == 0 {
		return
	}
	const listed = 10
	addrs := closed[:min(len(closed), listed)]
	srv.opts.Load().Logger.Warn("engine: closed the clients with the oldest, largest backlogs of unsent data, to keep the server's queued outbound bytes under max_buffered_bytes (raise it if these clients were only slow)",
		zap.Int("closed", len(closed)), zap.Strings("remote_addrs", addrs),
		zap.Int64("max_buffered_bytes", budget), zap.Int64("buffered_bytes_before", start),
		zap.Int64("buffered_bytes_after", srv.buffered.Load()), zap.Int64("their_backlog_bytes", closedBytes))
}

// resetOnClose makes closing conn reset the TCP connection, dropping what
// the kernel still holds to send.
func resetOnClose(conn *wsConn) {
	if tc, ok := socketUnder(conn.Conn).(*net.TCPConn); ok { // under crypto/tls and a listener wrapper's
		_ = tc.SetLinger(0)
	}
}
