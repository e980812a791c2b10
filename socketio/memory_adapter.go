package socketio

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// MemoryAdapter is the in-memory Adapter: the rooms of one namespace on one
// server, and local delivery of broadcasts, each packet encoded once for
// all its receivers. Cluster adapters embed it for their local part.
type MemoryAdapter struct {
	nsp *Namespace

	// mu guards rooms, sids and the inAdapter and inOwnRoom flags of the
	// namespace's sockets. Lock order: mu, then the namespace's lock (never
	// the other way).
	mu sync.RWMutex
	// rooms and sids are the rooms sockets joined, both ways, each socket
	// id present only while it is in some room. A connected socket's own
	// id room, which every socket is in, is not there but in the socket's
	// inOwnRoom, and the socket's inAdapter stands for Node's sids entry
	// (which a socket keeps until it disconnects, rooms or not): two maps
	// per socket for a room of one would be most of an idle socket's
	// memory.
	rooms map[string]map[string]struct{} // room -> socket ids
	sids  map[string]map[string]struct{} // socket id -> rooms
}

// NewMemoryAdapter is the AdapterFactory of the default adapter.
func NewMemoryAdapter(nsp *Namespace) Adapter { return newMemoryAdapter(nsp) }

func newMemoryAdapter(nsp *Namespace) *MemoryAdapter {
	return &MemoryAdapter{
		nsp:   nsp,
		rooms: make(map[string]map[string]struct{}),
		sids:  make(map[string]map[string]struct{}),
	}
}

// NewLocalAdapter returns the in-memory adapter of nsp, for a cluster
// adapter to embed.
func NewLocalAdapter(nsp *Namespace) *MemoryAdapter { return newMemoryAdapter(nsp) }

// Namespace is the namespace the adapter serves.
func (a *MemoryAdapter) Namespace() *Namespace { return a.nsp }

// connected returns the connected socket with id, whose inOwnRoom holds
// its membership of its own room, or nil (not connected yet: a middleware
// joining the socket's own room goes to the maps like any other room).
func (a *MemoryAdapter) connected(id string) *Socket {
	a.nsp.mu.RLock()
	defer a.nsp.mu.RUnlock()
	return a.nsp.sockets.Get(id)
}

func (a *MemoryAdapter) AddAll(id string, rooms ...string) {
	var joined []string
	a.mu.Lock()
	s := a.connected(id)
	observed := s != nil && a.nsp.observesRooms()
	if s != nil {
		s.inAdapter = true
	}
	for _, room := range rooms {
		if room == id && s != nil {
			s.inOwnRoom = true
			a.delLocked(id, room) // joined before connecting: one record is enough
			continue
		}
		mine := a.sids[id]
		if mine == nil {
			mine = make(map[string]struct{}, len(rooms))
			a.sids[id] = mine
		}
		if observed {
			if _, in := mine[room]; !in {
				joined = append(joined, room)
			}
		}
		mine[room] = struct{}{}
		members := a.rooms[room]
		if members == nil {
			members = make(map[string]struct{}, 1)
			a.rooms[room] = members
		}
		members[id] = struct{}{}
	}
	a.mu.Unlock()
	if len(joined) > 0 {
		a.nsp.roomChanged(s, true, joined)
	}
}

func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	s := a.connected(id)
	if room == id && s != nil {
		s.inOwnRoom = false
	}
	left := false
	if s != nil && room != id && a.nsp.observesRooms() {
		_, left = a.sids[id][room]
	}
	a.delLocked(id, room)
	a.mu.Unlock()
	if left {
		a.nsp.roomChanged(s, false, []string{room})
	}
}

// delLocked takes id out of room in the maps; a.mu is held.
func (a *MemoryAdapter) delLocked(id, room string) {
	if mine := a.sids[id]; mine != nil {
		delete(mine, room)
		if len(mine) == 0 {
			delete(a.sids, id)
		}
	}
	if members := a.rooms[room]; members != nil {
		delete(members, id)
		if len(members) == 0 {
			delete(a.rooms, room)
		}
	}
}

func (a *MemoryAdapter) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.connected(id); s != nil {
		s.inAdapter, s.inOwnRoom = false, false
	}
	for room := range a.sids[id] {
		if members := a.rooms[room]; members != nil {
			delete(members, id)
			if len(members) == 0 {
				delete(a.rooms, room)
			}
		}
	}
	delete(a.sids, id)
}

func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	mine := a.sids[id]
	s := a.connected(id)
	if mine == nil && (s == nil || !s.inAdapter) {
		return nil
	}
	out := make([]string, 0, len(mine)+1)
	if s != nil && s.inOwnRoom {
		out = append(out, id)
	}
	for room := range mine {
		out = append(out, room)
	}
	return out
}

// RoomSize is the number of local sockets in room.
func (a *MemoryAdapter) RoomSize(room string) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	n := len(a.rooms[room])
	if s := a.connected(room); s != nil && s.inOwnRoom {
		n++
	}
	return n
}

// Broadcast encodes p once and queues the same messages on every local
// socket opts selects.
func (a *MemoryAdapter) Broadcast(p *Packet, opts *BroadcastOptions) error {
	return a.BroadcastIn(nil, p, opts)
}

// BroadcastIn is Broadcast as part of batch b: the receivers' writes start
// at b.Flush (see engine.Batch), so that the broadcasts a caller has in
// hand at once (a cluster adapter's batch of remote ones) reach each
// receiver in one write rather than one each. A nil b is Broadcast. A
// volatile packet is written as Broadcast writes it: it is dropped unless
// the receiver's transport can write it now.
func (a *MemoryAdapter) BroadcastIn(b *engine.Batch, p *Packet, opts *BroadcastOptions) error {
	p.Namespace = a.nsp.name
	if r := a.nsp.recovery.Load(); r != nil && a.nsp.store == nil && storable(p, opts) {
		r.broadcast(a, b, p, opts) // stored, with its offset
		return nil
	}
	// Encoded for the first receiver: a relay to a room with no one else
	// in it (each socket alone in its own) costs no encoding.
	var msgs []*engine.PreparedMessage
	receivers := 0
	a.apply(opts, func(s *Socket) {
		if msgs == nil {
			msgs = preparePacket(p)
		}
		s.client.writePreparedIn(b, msgs, opts.Flags.Volatile)
		receivers++
	})
	a.nsp.stats.broadcast(receivers)
	return nil
}

// BroadcastWithAck is Broadcast, with ack registered on every receiver for
// p.ID; clientCount gets the number of receivers.
func (a *MemoryAdapter) BroadcastWithAck(p *Packet, opts *BroadcastOptions, clientCount func(int), ack func(Args)) error {
	p.Namespace = a.nsp.name
	msgs := preparePacket(p)
	count := 0
	a.apply(opts, func(s *Socket) {
		if !s.registerAck(p.ID, func(args Args, err error) {
			if err == nil {
				ack(args)
			}
		}) {
			return
		}
		count++
		s.client.writePrepared(msgs, opts.Flags.Volatile)
	})
	a.nsp.stats.broadcast(count)
	clientCount(count)
	return nil
}

// apply calls fn for each local socket opts selects, once per socket, with
// the adapter's read lock held: fn must not call back into the adapter.
func (a *MemoryAdapter) apply(opts *BroadcastOptions, fn func(*Socket)) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	a.nsp.mu.RLock()
	defer a.nsp.mu.RUnlock()
	// The excluded ids: a few (a relay excludes its sender) are looked up
	// in a slice, more in a map.
	var (
		few    [8]string
		except = few[:0]
		many   map[string]struct{}
	)
	for _, room := range opts.Except {
		a.membersLocked(room, func(id string) {
			if many == nil && len(except) < len(few) {
				except = append(except, id)
				return
			}
			if many == nil {
				many = make(map[string]struct{}, 2*len(few))
				for _, e := range except {
					many[e] = struct{}{}
				}
			}
			many[id] = struct{}{}
		})
	}
	visit := func(id string) {
		if many != nil {
			if _, skip := many[id]; skip {
				return
			}
		} else if slices.Contains(except, id) {
			return
		}
		if s := a.nsp.sockets.Get(id); s != nil {
			fn(s)
		}
	}
	switch len(opts.Rooms) {
	case 0:
		// Every socket the adapter knows, as Node's iterates its sids.
		for s := range a.nsp.sockets.All() {
			if s.inAdapter {
				visit(s.id)
			}
		}
	case 1:
		a.membersLocked(opts.Rooms[0], visit)
	default:
		seen := make(map[string]struct{})
		for _, room := range opts.Rooms {
			a.membersLocked(room, func(id string) {
				if _, dup := seen[id]; !dup {
					seen[id] = struct{}{}
					visit(id)
				}
			})
		}
	}
}

// membersLocked calls fn with the id of each socket in room, once: those
// the maps list, and the socket whose own room it is. a.mu and the
// namespace's lock are held.
func (a *MemoryAdapter) membersLocked(room string, fn func(id string)) {
	for id := range a.rooms[room] {
		fn(id)
	}
	if s := a.nsp.sockets.Get(room); s != nil && s.inOwnRoom {
		fn(room)
	}
}

// sockets collects the selected sockets, so that they can be acted upon
// without the locks held.
func (a *MemoryAdapter) sockets(opts *BroadcastOptions) []*Socket {
	var out []*Socket
	a.apply(opts, func(s *Socket) { out = append(out, s) })
	return out
}

func (a *MemoryAdapter) Sockets(_ context.Context, rooms []string) ([]string, error) {
	var ids []string
	a.apply(&BroadcastOptions{Rooms: rooms}, func(s *Socket) { ids = append(ids, s.id) })
	return ids, nil
}

func (a *MemoryAdapter) FetchSockets(_ context.Context, opts *BroadcastOptions) ([]RemoteSocket, error) {
	var out []RemoteSocket
	for _, s := range a.sockets(opts) {
		out = append(out, RemoteSocket{ID: s.id, Handshake: s.Handshake(), Rooms: a.SocketRooms(s.id), Data: s.dataJSON(), Local: s})
	}
	return out, nil
}

func (a *MemoryAdapter) AddSockets(_ context.Context, opts *BroadcastOptions, rooms []string) error {
	for _, s := range a.sockets(opts) {
		s.Join(rooms...)
	}
	return nil
}

func (a *MemoryAdapter) DelSockets(_ context.Context, opts *BroadcastOptions, rooms []string) error {
	for _, s := range a.sockets(opts) {
		for _, room := range rooms {
			s.Leave(room)
		}
	}
	return nil
}

func (a *MemoryAdapter) DisconnectSockets(_ context.Context, opts *BroadcastOptions, close bool) error {
	for _, s := range a.sockets(opts) {
		s.Disconnect(close)
	}
	return nil
}

// ErrSingleServer is what the in-memory adapter answers to ServerSideEmit:
// there is no other server to talk to.
var ErrSingleServer = errors.New("socketio: the in-memory adapter has no other server; ServerSideEmit needs a cluster adapter")

func (a *MemoryAdapter) ServerSideEmit(context.Context, *Packet) error { return ErrSingleServer }

func (a *MemoryAdapter) ServerCount(context.Context) (int, error) { return 1, nil }

func (a *MemoryAdapter) Close() error { return nil }

// preparePacket encodes p once, as the messages every receiver gets: the
// text part, then each attachment.
func preparePacket(p *Packet) []*engine.PreparedMessage {
	msgs := make([]*engine.PreparedMessage, 1+len(p.Args.Attachments))
	msgs[0] = engine.NewPreparedMessage(engine.Message{Data: encodePacket(p)})
	for i, att := range p.Args.Attachments {
		msgs[i+1] = engine.NewPreparedMessage(engine.Message{Data: att, Binary: true})
	}
	return msgs
}

var _ Adapter = (*MemoryAdapter)(nil)
