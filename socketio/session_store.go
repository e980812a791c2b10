package socketio

import (
	"context"
	"encoding/json"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// SessionStore is implemented by a cluster Adapter that keeps connection
// state recovery's sessions and stored packets itself, where the other
// servers find them (Node's persistSession and restoreSession, as
// @socket.io/redis-streams-adapter has them): a client that lost its
// connection to one server recovers on another. A namespace whose adapter
// is a SessionStore keeps no log of its own (RecoveryOptions.MaxLogBytes
// does not apply): the adapter gives each stored packet its offset, delivers
// it with MemoryAdapter.BroadcastOffset, and replays the missed ones.
//
// Socket.Emit of a stored packet goes through the adapter's Broadcast to the
// socket's own room, as in Node, so that it gets an offset too.
type SessionStore interface {
	// RestoreSession takes back the session pid for a client whose last
	// offset is offset (hasOffset false: it received none), so that nobody
	// else can take it; nil when there is none it may have (unknown,
	// expired, its socket connected right now, an offset not in the log,
	// the store unreachable). It may wait on the network; ctx bounds it.
	RestoreSession(ctx context.Context, pid, offset string, hasOffset bool) *StoredSession
	// ConnectRecovered sends the packets sess missed through send, in
	// order, each with its offset, then calls join, which makes the socket
	// one of the receivers of the adapter's deliveries. The adapter holds
	// its deliveries back meanwhile, so that each stored packet reaches
	// the socket once. An error (send's, or the log's) and the socket is
	// not connected; its client then comes back to a fresh socket.
	ConnectRecovered(sess *StoredSession, send func(p *Packet, offset string) error, join func()) error
	// SaveSession records the state of a socket: connected, or
	// disconnected for a reason its client comes back from (connected
	// false), or given back because it did not connect after all. It must
	// not block.
	SaveSession(sess *StoredSession, connected bool)
	// DropSession forgets the session of a socket that left for good.
	DropSession(pid string)
	// Position is where the adapter's log stands: a socket connecting now
	// may miss only the packets stored after it.
	Position() string
}

// StoredSession is the state of a socket a SessionStore keeps.
type StoredSession struct {
	// ID is the socket id and PID the session id of its CONNECT answer.
	ID, PID string
	// Rooms are the socket's rooms, its own id room included, as in Node.
	Rooms []string
	// Data is Socket.Data as JSON; nil when unset.
	Data json.RawMessage
	// Meta is Socket.Meta.
	Meta json.RawMessage
	// Since is the store's Position when the socket first connected:
	// nothing before was meant for it.
	Since string
	// From is, in a session RestoreSession returned, the position after
	// which the socket missed packets: the client's offset, or Since when
	// later or when the client sent none.
	From string
}

// restoreTimeout bounds a SessionStore's RestoreSession when the client's
// CONNECT waits on it.
const restoreTimeout = 5 * time.Second

// BroadcastOffset delivers a stored packet p, given its offset by a
// SessionStore adapter, to the local sockets opts selects: with the offset
// appended to its arguments for revision 5 clients, without for revision 4
// ones (they cannot recover, and would see it as an argument). Each form is
// encoded once. The adapter calls it in the order of the offsets.
func (a *MemoryAdapter) BroadcastOffset(p *Packet, opts *BroadcastOptions, offset string) error {
	return a.BroadcastOffsetIn(nil, p, opts, offset)
}

// BroadcastOffsetIn is BroadcastOffset as part of batch b (see
// BroadcastIn): a store that reads several stored packets at once queues
// them all, in offset order, then calls b.Flush. A nil b is
// BroadcastOffset.
func (a *MemoryAdapter) BroadcastOffsetIn(b *engine.Batch, p *Packet, opts *BroadcastOptions, offset string) error {
	p.Namespace = a.nsp.name
	a.nsp.stats.broadcast(a.deliverStored(b, p, opts, prepareParts(withOffset(p, offset), p.Args.Attachments)))
	return nil
}

// deliverStored queues a stored packet on the local sockets opts selects:
// msgs, its form with offset, to revision 5 clients, and p encoded without
// to revision 4 ones (made when one is met). It returns the number of
// receivers. Their writes start at b.Flush when b is not nil.
func (a *MemoryAdapter) deliverStored(b *engine.Batch, p *Packet, opts *BroadcastOptions, msgs []*engine.PreparedMessage) int {
	var plain []*engine.PreparedMessage
	receivers := 0
	a.apply(opts, func(s *Socket) {
		receivers++
		if s.client.protocol >= 5 {
			s.client.writePreparedIn(b, msgs, false)
			return
		}
		if plain == nil {
			plain = preparePacket(p)
		}
		s.client.writePreparedIn(b, plain, false)
	})
	return receivers
}

// withOffset is the text part of p with offset appended to its arguments
// (the encoding ends with the "]" of its array). The offset is written as
// is: a store gives only offsets that need no JSON escaping.
func withOffset(p *Packet, offset string) []byte {
	text := appendPacket(nil, p)
	text = append(text[:len(text)-1], ',', '"')
	text = append(text, offset...)
	return append(text, '"', ']')
}

// store is the namespace's SessionStore, nil when its adapter is none or
// recovery is off.
func (n *Namespace) sessionStore() SessionStore {
	if n.store == nil || n.recovery.Load() == nil {
		return nil
	}
	return n.store
}

// RecoveryState is the socket's state as a SessionStore keeps it while it
// is connected, for an adapter that refreshes it; nil when the socket
// cannot recover (recovery off, a revision 4 client).
func (s *Socket) RecoveryState() *StoredSession {
	rec := s.rec()
	if rec == nil || s.nsp.sessionStore() == nil {
		return nil
	}
	st := &StoredSession{ID: s.id, PID: rec.pid, Rooms: s.Rooms(), Since: rec.position}
	s.mu.Lock()
	if s.app != nil {
		st.Data, st.Meta = jsonOf(s.app.data), s.app.meta
	}
	s.mu.Unlock()
	return st
}

// jsonOf is an application value as JSON; nil when unset or when it cannot
// be encoded.
func jsonOf(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// storedOf is a disconnected socket's session as its store keeps it.
func (s *Socket) storedOf(sess *recoverySession) *StoredSession {
	return &StoredSession{ID: sess.sid, PID: sess.pid, Rooms: sess.rooms, Data: jsonOf(sess.data), Meta: sess.meta, Since: s.rec().position}
}

// restoreStored asks the namespace's store for the session a client
// reconnects for.
func (c *client) restoreStored(st SessionStore, pid, offset string, hasOffset bool) *recoverySession {
	ctx, cancel := context.WithTimeout(context.Background(), restoreTimeout)
	defer cancel()
	stored := st.RestoreSession(ctx, pid, offset, hasOffset)
	if stored == nil {
		return nil
	}
	sess := &recoverySession{sid: stored.ID, pid: stored.PID, rooms: stored.Rooms, meta: stored.Meta, stored: stored}
	if len(stored.Data) > 0 && string(stored.Data) != "null" {
		sess.data = stored.Data
	}
	return sess
}

// connectStored connects a recovering socket through its store.
func (s *Socket) connectStored(st SessionStore, sess *recoverySession) error {
	return st.ConnectRecovered(sess.stored,
		func(p *Packet, offset string) error {
			p.Namespace = s.nsp.name
			return s.client.writeParts(withOffset(p, offset), p.Args.Attachments)
		},
		func() {
			s.nsp.add(s)
			s.onConnect()
		})
}

// saveConnected records a socket that just connected in its store, so that
// its client can recover on another server should this one die.
func (s *Socket) saveConnected() {
	if st := s.nsp.sessionStore(); st != nil {
		if state := s.RecoveryState(); state != nil {
			st.SaveSession(state, true)
		}
	}
}

// RecoveryOptions is the server's connection state recovery setting, with
// its defaults filled in; nil when recovery is off.
func (srv *Server) RecoveryOptions() *RecoveryOptions {
	o := srv.recovery.options()
	if o == nil {
		return nil
	}
	c := *o
	return &c
}
