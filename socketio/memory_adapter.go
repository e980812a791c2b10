package socketio

import (
	"context"
	"errors"
	"sync"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// MemoryAdapter is the in-memory Adapter: the rooms of one namespace on one
// server, and local delivery of broadcasts, each packet encoded once for
// all its receivers. Cluster adapters embed it for their local part.
type MemoryAdapter struct {
	nsp *Namespace

	// mu guards rooms and sids. Lock order: mu, then the namespace's lock
	// (never the other way).
	mu    sync.RWMutex
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

func (a *MemoryAdapter) AddAll(id string, rooms ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine := a.sids[id]
	if mine == nil {
		mine = make(map[string]struct{}, len(rooms))
		a.sids[id] = mine
	}
	for _, room := range rooms {
		mine[room] = struct{}{}
		members := a.rooms[room]
		if members == nil {
			members = make(map[string]struct{}, 1)
			a.rooms[room] = members
		}
		members[id] = struct{}{}
	}
}

func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if mine := a.sids[id]; mine != nil {
		delete(mine, room)
	}
	a.delLocked(room, id)
}

func (a *MemoryAdapter) delLocked(room, id string) {
	members := a.rooms[room]
	if members == nil {
		return
	}
	delete(members, id)
	if len(members) == 0 {
		delete(a.rooms, room)
	}
}

func (a *MemoryAdapter) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for room := range a.sids[id] {
		a.delLocked(room, id)
	}
	delete(a.sids, id)
}

func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	mine, ok := a.sids[id]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(mine))
	for room := range mine {
		out = append(out, room)
	}
	return out
}

// RoomSize is the number of local sockets in room.
func (a *MemoryAdapter) RoomSize(room string) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.rooms[room])
}

// Broadcast encodes p once and queues the same messages on every local
// socket opts selects.
func (a *MemoryAdapter) Broadcast(p *Packet, opts *BroadcastOptions) error {
	p.Namespace = a.nsp.name
	msgs := preparePacket(p)
	a.apply(opts, func(s *Socket) {
		s.client.writePrepared(msgs, opts.Flags.Volatile)
	})
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
	clientCount(count)
	return nil
}

// apply calls fn for each local socket opts selects, once per socket, with
// the adapter's read lock held: fn must not call back into the adapter.
func (a *MemoryAdapter) apply(opts *BroadcastOptions, fn func(*Socket)) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var except map[string]struct{}
	if len(opts.Except) > 0 {
		except = make(map[string]struct{})
		for _, room := range opts.Except {
			for id := range a.rooms[room] {
				except[id] = struct{}{}
			}
		}
	}
	a.nsp.mu.RLock()
	defer a.nsp.mu.RUnlock()
	visit := func(id string) {
		if _, skip := except[id]; skip {
			return
		}
		if s := a.nsp.sockets[id]; s != nil {
			fn(s)
		}
	}
	switch len(opts.Rooms) {
	case 0:
		for id := range a.sids {
			visit(id)
		}
	case 1:
		for id := range a.rooms[opts.Rooms[0]] {
			visit(id)
		}
	default:
		seen := make(map[string]struct{})
		for _, room := range opts.Rooms {
			for id := range a.rooms[room] {
				if _, dup := seen[id]; dup {
					continue
				}
				seen[id] = struct{}{}
				visit(id)
			}
		}
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
		out = append(out, RemoteSocket{ID: s.id, Handshake: s.handshake, Rooms: a.SocketRooms(s.id), Local: s})
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
