package socketio

import (
	"time"

	"go.uber.org/zap"
)

// EventRateLimit bounds the events one socket may send (Node has no such
// option; the flood-prevention recipes of its docs do this by hand): a
// token bucket per socket that refills at PerSecond tokens a second and
// holds Burst, one token per EVENT packet. Acknowledgements the client
// sends for the server's emits are not counted.
type EventRateLimit struct {
	// PerSecond is the sustained rate; a limit with PerSecond ≤ 0 is no
	// limit (Namespace.SetEventRateLimit uses that to lift the server's
	// limit for one namespace).
	PerSecond float64
	// Burst is how many events may come at once after a quiet spell;
	// PerSecond, rounded up, when zero.
	Burst int
	// Disconnect disconnects the socket from the namespace (the client
	// gets a DISCONNECT, and socket.io-client does not reconnect it on its
	// own) at its first event over the rate. Otherwise the event is
	// dropped: no handler sees it, it is not relayed, and an
	// acknowledgement it asked for never comes.
	Disconnect bool
}

// burst is the bucket's capacity.
func (l *EventRateLimit) burst() float64 {
	if l.Burst > 0 {
		return float64(l.Burst)
	}
	b := float64(int(l.PerSecond))
	if b < l.PerSecond {
		b++
	}
	return b
}

// eventBucket is a socket's token bucket, allocated at its first event
// under a limit, so that a socket costs one pointer while no limit applies
// or it sends nothing. Only the client's read loop touches it (events of
// one connection are handled one at a time), so it needs no lock.
type eventBucket struct {
	tokens float64
	last   int64 // the clock's reading when tokens was computed
	logged bool  // the socket's first excess event was logged
}

// allow takes a token for an event at now (nanoseconds on the server's
// clock), refilling the bucket first.
func (b *eventBucket) allow(l *EventRateLimit, now int64) bool {
	capacity := l.burst()
	b.tokens += float64(now-b.last) / float64(time.Second) * l.PerSecond
	b.last = now
	if b.tokens > capacity {
		b.tokens = capacity
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// SetEventRateLimit sets the limit on the events each socket of the
// namespace may send, replacing the server's (Options.EventRateLimit,
// Server.SetEventRateLimit) for this namespace: nil goes back to the
// server's, a limit with PerSecond ≤ 0 lifts it here. It applies to
// connected sockets from their next event.
func (n *Namespace) SetEventRateLimit(l *EventRateLimit) { n.eventRate.Store(l) }

// SetEventRateLimit replaces the server's limit on the events of each
// socket (Options.EventRateLimit), for the namespaces that set none of
// their own; nil for none.
func (srv *Server) SetEventRateLimit(l *EventRateLimit) { srv.eventRate.Store(l) }

// RateLimitedEvents is how many events over a rate limit the server has
// dropped or disconnected a socket for, since it started.
func (srv *Server) RateLimitedEvents() uint64 { return srv.rateLimited.Load() }

// eventRateLimit is the limit that applies to the namespace's sockets, or
// nil.
func (n *Namespace) eventRateLimit() *EventRateLimit {
	l := n.eventRate.Load()
	if l == nil {
		l = n.server.eventRate.Load()
	}
	if l == nil || l.PerSecond <= 0 {
		return nil
	}
	return l
}

// allowEvent applies the namespace's rate limit to an event of s, on the
// read loop. An event over the limit is counted, logged once per socket,
// and dropped, or the socket is disconnected.
func (s *Socket) allowEvent() bool {
	l := s.nsp.eventRateLimit()
	if l == nil {
		return true
	}
	srv := s.nsp.server
	now := srv.nanotime()
	r := s.rareState()
	b := r.bucket
	if b == nil {
		b = &eventBucket{tokens: l.burst(), last: now}
		r.bucket = b
	}
	if b.allow(l, now) {
		return true
	}
	srv.rateLimited.Add(1)
	if !b.logged {
		b.logged = true
		action := "dropping the events over it (logged once per socket)"
		if l.Disconnect {
			action = "disconnecting the socket"
		}
		srv.logger.Info("socketio: a socket sent events faster than max_events_per_second; "+action,
			zap.String("namespace", s.nsp.name), zap.String("socket", s.id), zap.String("remote", s.client.address()),
			zap.Float64("per_second", l.PerSecond), zap.Float64("burst", l.burst()))
	}
	if l.Disconnect {
		s.Disconnect(false)
	}
	return false
}

// monotonicNanos reads the monotonic clock, for the rate limits.
func monotonicNanos() int64 { return int64(time.Since(clockStart)) }

var clockStart = time.Now()

// SetMaxRoomsPerSocket replaces Options.MaxRoomsPerSocket (for reloads):
// later joins obey it; a socket already in more rooms keeps them.
func (srv *Server) SetMaxRoomsPerSocket(n int) { srv.maxRooms.Store(int64(max(n, 0))) }

// withinRoomLimit returns the rooms of a Join that the socket may still
// enter under max (its own id room and rooms it is in already do not
// count), logging the first refusal of each socket. Two Joins of one
// socket racing each other may together overshoot by what the other adds.
func (s *Socket) withinRoomLimit(rooms []string, max int) []string {
	current := s.nsp.adapter.SocketRooms(s.id)
	in := make(map[string]bool, len(current))
	count := 0
	for _, r := range current {
		in[r] = true
		if r != s.id {
			count++
		}
	}
	var ok []string
	refused := 0
	for _, r := range rooms {
		switch {
		case in[r] || r == s.id:
			ok = append(ok, r) // no new room
		case count < max:
			in[r] = true
			count++
			ok = append(ok, r)
		default:
			refused++
		}
	}
	if refused > 0 {
		s.mu.Lock()
		first := !s.roomsRefused
		s.roomsRefused = true
		s.mu.Unlock()
		if first {
			s.nsp.server.logger.Info("socketio: a socket tried to join more rooms than max_rooms_per_socket; the rooms beyond it are not joined (logged once per socket)",
				zap.String("namespace", s.nsp.name), zap.String("socket", s.id), zap.String("remote", s.client.address()),
				zap.Int("max_rooms_per_socket", max), zap.Int("refused", refused))
		}
	}
	return ok
}
