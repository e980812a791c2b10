package redisstreams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/internal/rediscluster"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// This file is the Adapter's socketio.SessionStore: the sessions under
// <session_key_prefix><pid>, the stream as the log of stored packets.

// roomsFlushDelay is how soon a socket's session is written again after
// its rooms changed: soon, so that a server that dies loses little, and
// not at once, so that a burst of joins costs one write.
const roomsFlushDelay = 100 * time.Millisecond

// replayPage is how many entries one XRANGE of a replay reads.
const replayPage = 1000

// takeScript deletes the session key only if it still holds the value that
// was read: of two servers restoring one session, one gets it.
var takeScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

func (a *Adapter) sessionKey(pid string) string { return a.n.cfg.SessionKeyPrefix + pid }

// ttl is how long a disconnected socket's session is kept.
func (a *Adapter) ttl() time.Duration {
	if o := a.nsp.Server().RecoveryOptions(); o != nil {
		return o.MaxDisconnectionDuration
	}
	return 0
}

// Position is the id of the last entry this server delivered.
func (a *Adapter) Position() string {
	id, ok := a.n.position()
	if !ok {
		return ""
	}
	return id.String()
}

// SaveSession writes a socket's session: while it is connected with this
// server's uid, marked connected, and an expiry that the refreshes push
// on; once disconnected, for max_disconnection_duration, as Node does.
func (a *Adapter) SaveSession(st *socketio.StoredSession, connected bool) {
	ttl := a.ttl()
	if ttl <= 0 {
		return
	}
	a.sessMu.Lock()
	defer a.sessMu.Unlock()
	if connected {
		// A socket that closed meanwhile is out of the namespace before its
		// disconnected session is saved: it must not be marked connected
		// after that.
		if a.nsp.Socket(st.ID) == nil {
			return
		}
		a.tracked[st.PID] = st.ID
	} else {
		delete(a.tracked, st.PID)
	}
	a.writeLocked(st, connected, ttl)
}

// writeLocked queues the write of a session; a.sessMu is held, so that the
// writes of one session are queued in the order of its states.
func (a *Adapter) writeLocked(st *socketio.StoredSession, connected bool, ttl time.Duration) {
	s := sessionOf(st)
	if connected {
		s.Node, s.Connected = a.n.uid, true
		ttl += 2 * a.n.cfg.SessionRefresh
	}
	v, err := encodeSession(s)
	if err != nil {
		a.n.malformed.Log("session not written", a.nsp.Name(), err)
		return
	}
	a.n.send(outgoing{key: a.sessionKey(st.PID), value: v, ttl: ttl})
}

// DropSession deletes the session of a socket that left for good.
func (a *Adapter) DropSession(pid string) {
	a.sessMu.Lock()
	defer a.sessMu.Unlock()
	if _, ok := a.tracked[pid]; !ok {
		return
	}
	delete(a.tracked, pid)
	a.n.send(outgoing{key: a.sessionKey(pid)})
}

// AddAll puts a local socket in rooms, and schedules the write of its
// session.
func (a *Adapter) AddAll(id string, rooms ...string) {
	a.MemoryAdapter.AddAll(id, rooms...)
	a.roomsChanged(id)
}

// Del takes a local socket out of room, and schedules the write of its
// session.
func (a *Adapter) Del(id, room string) {
	a.MemoryAdapter.Del(id, room)
	a.roomsChanged(id)
}

func (a *Adapter) roomsChanged(sid string) {
	a.sessMu.Lock()
	defer a.sessMu.Unlock()
	if len(a.tracked) == 0 {
		return
	}
	a.dirty[sid] = struct{}{}
	if !a.flushScheduled {
		a.flushScheduled = true
		time.AfterFunc(roomsFlushDelay, a.flushDirty)
	}
}

// flushDirty writes the sessions whose rooms changed.
func (a *Adapter) flushDirty() {
	ttl := a.ttl()
	a.sessMu.Lock()
	defer a.sessMu.Unlock()
	a.flushScheduled = false
	dirty := a.dirty
	a.dirty = make(map[string]struct{})
	if ttl <= 0 {
		return
	}
	for sid := range dirty {
		if s := a.nsp.Socket(sid); s != nil {
			if st := s.RecoveryState(); st != nil && a.tracked[st.PID] == sid {
				a.writeLocked(st, true, ttl)
			}
		}
	}
}

// refreshSessions writes the session of every connected socket again: its
// data may have changed, and its expiry moves on.
func (a *Adapter) refreshSessions() {
	ttl := a.ttl()
	if ttl <= 0 {
		return
	}
	a.sessMu.Lock()
	defer a.sessMu.Unlock()
	for pid, sid := range a.tracked {
		if s := a.nsp.Socket(sid); s != nil {
			if st := s.RecoveryState(); st != nil && st.PID == pid {
				a.writeLocked(st, true, ttl)
			}
		}
	}
}

// errNoSession is why RestoreSession found nothing to give; logged at
// debug level only (a client's guess is no event).
var errNoSession = errors.New("no session")

// RestoreSession takes the session pid from Redis for a client that saw
// offset last. It gives nothing (and leaves the session in place) when
// the offset is not an entry id still in the stream, or when the socket is
// connected right now to a live server (Node would hand it over); it
// deletes the session only once everything checked out, and only if no
// one changed it meanwhile.
func (a *Adapter) RestoreSession(ctx context.Context, pid, offset string, hasOffset bool) *socketio.StoredSession {
	st, err := a.restore(ctx, pid, offset, hasOffset)
	if err != nil {
		if ce := a.logger().Check(zap.DebugLevel, "redis_streams: connection state not recovered"); ce != nil {
			ce.Write(zap.String("namespace", a.nsp.Name()), zap.Error(err))
		}
		return nil
	}
	return st
}

func (a *Adapter) restore(ctx context.Context, pid, offset string, hasOffset bool) (*socketio.StoredSession, error) {
	var from streamID
	if hasOffset {
		var ok bool
		if from, ok = parseID(offset); !ok {
			return nil, fmt.Errorf("offset %q is not a stream entry id", offset)
		}
	}
	if a.n.outage.IsDown() {
		return nil, errors.New("redis is unreachable")
	}
	c := a.n.cfg.Client
	raw, err := c.Get(ctx, a.sessionKey(pid)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, errNoSession
	}
	if err != nil {
		a.n.outage.Down(err)
		return nil, err
	}
	s, err := decodeSession(raw)
	if err != nil {
		return nil, err
	}
	if s.Pid != pid {
		return nil, fmt.Errorf("session under %q is of pid %q", pid, s.Pid)
	}
	if s.Connected {
		if live, err := a.nodeAlive(ctx, s.Node); err != nil || live {
			return nil, fmt.Errorf("the socket of this session is connected to live server %q", s.Node)
		}
	}
	since, hasSince := parseID(s.Since)
	switch {
	case hasOffset && hasSince && from.less(since):
		// The client's offset is from before this socket existed (one it
		// kept from an earlier session): nothing before since was meant
		// for this socket.
		from = since
	case !hasOffset && hasSince:
		from = since
	case !hasOffset:
		return nil, errors.New("no offset, and the session does not say where its socket started")
	}
	if from != (streamID{}) {
		// As Node: the offset must be an entry still in the stream, else
		// what followed it may be trimmed already.
		got, err := c.XRangeN(ctx, a.n.cfg.StreamName, from.String(), from.String(), 1).Result()
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			return nil, fmt.Errorf("offset %s is no longer in the stream", from)
		}
	}
	taken, err := takeScript.Run(ctx, c, []string{a.sessionKey(pid)}, raw).Int()
	if err != nil {
		return nil, err
	}
	if taken != 1 {
		return nil, errors.New("the session was taken or changed meanwhile")
	}
	return &socketio.StoredSession{ID: s.Sid, PID: s.Pid, Rooms: s.Rooms, Data: s.Data, Meta: s.Meta, Since: s.Since, From: from.String()}, nil
}

// nodeAlive tells whether the server uid still listens to its channel.
func (a *Adapter) nodeAlive(ctx context.Context, uid string) (bool, error) {
	if uid == "" {
		return false, nil
	}
	if uid == a.n.uid {
		return true, nil
	}
	ch := a.n.cfg.ChannelPrefix + "#" + a.nsp.Name() + "#" + uid + "#"
	n, err := rediscluster.NumSub(ctx, a.n.cfg.Client, ch)
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// ConnectRecovered replays the broadcasts sess missed from the stream,
// then joins the socket, under the node's deliverMu so that no entry is
// missed or sent twice. The pages before the last are read without the
// lock, so that other clients do not wait on a long replay.
func (a *Adapter) ConnectRecovered(sess *socketio.StoredSession, send func(*socketio.Packet, string) error, join func()) error {
	from, ok := parseID(sess.From)
	if !ok {
		return fmt.Errorf("recovery position %q is not a stream entry id", sess.From)
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.n.cfg.RequestsTimeout)
	defer cancel()
	if from != (streamID{}) {
		got, err := a.n.cfg.Client.XRangeN(ctx, a.n.cfg.StreamName, from.String(), from.String(), 1).Result()
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return fmt.Errorf("entry %s was trimmed from the stream before the socket caught up", from)
		}
	}
	// The client may have seen entries (on another server) that this one
	// has not read yet: they must not reach it live a second time.
	if err := a.n.waitPast(ctx, from); err != nil {
		return err
	}
	for range 20 {
		pos, _ := a.n.position()
		if err := a.replay(ctx, from, pos, sess.Rooms, send); err != nil {
			return err
		}
		from = pos
		a.n.deliverMu.Lock()
		if a.n.last == pos {
			join()
			a.n.deliverMu.Unlock()
			return nil
		}
		a.n.deliverMu.Unlock()
	}
	a.n.deliverMu.Lock()
	defer a.n.deliverMu.Unlock()
	if err := a.replay(ctx, from, a.n.last, sess.Rooms, send); err != nil {
		return err
	}
	join()
	return nil
}

// replay sends the stored broadcasts in (from, to] that a socket in rooms
// was a receiver of.
func (a *Adapter) replay(ctx context.Context, from, to streamID, rooms []string, send func(*socketio.Packet, string) error) error {
	for from.less(to) {
		entries, err := a.n.cfg.Client.XRangeN(ctx, a.n.cfg.StreamName, from.next().String(), to.String(), replayPage).Result()
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		for _, x := range entries {
			id, ok := parseID(x.ID)
			if !ok || !from.less(id) {
				return fmt.Errorf("stream entry id %q out of order", x.ID)
			}
			from = id
			if err := a.replayEntry(x, rooms, send); err != nil {
				return err
			}
		}
	}
	return nil
}

// replayEntry sends one entry if it is a stored broadcast for the
// session.
func (a *Adapter) replayEntry(x redis.XMessage, rooms []string, send func(*socketio.Packet, string) error) error {
	m, err := decodeEntry(x.Values)
	if err != nil {
		return nil
	}
	if p := storedBroadcast(m, a.nsp.Name(), rooms); p != nil {
		return send(p, x.ID)
	}
	return nil
}

// storedBroadcast is the packet of an entry that a socket of namespace nsp
// in rooms missed: a broadcast without acknowledgement of that namespace
// it was a receiver of (Node's shouldIncludePacket); nil for any other.
// Volatile broadcasts are not replayed, as they get no offset live.
func storedBroadcast(m *message, nsp string, rooms []string) *socketio.Packet {
	if m.Nsp != nsp || m.Type != typeBroadcast {
		return nil
	}
	var d data
	if json.Unmarshal(m.Data, &d) != nil || d.RequestID != nil || (d.Opts != nil && d.Opts.Flags.Volatile) || !includes(rooms, d.Opts) {
		return nil
	}
	p, err := eventOf(d.Packet, m.Attachments)
	if err != nil {
		return nil
	}
	return p
}
