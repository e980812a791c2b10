package socketio

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/caddy-socketio/caddy-socketio/internal/idset"
)

// Namespace is a communication channel multiplexed over the clients'
// connections, like a Node namespace: "/" always exists, others are
// created by Server.Of. Its methods are safe for concurrent use.
type Namespace struct {
	name    string
	server  *Server
	adapter Adapter
	ackIDs  atomic.Uint64 // ack ids of server emits, shared by all its sockets as in Node
	// recovery is the connection state recovery state; nil when off.
	recovery atomic.Pointer[recovery]
	// store is the adapter when it keeps recovery's sessions and log
	// itself (session_store.go); nil otherwise.
	store SessionStore

	// eventRate overrides the server's event rate limit; see
	// SetEventRateLimit.
	eventRate atomic.Pointer[EventRateLimit]

	stats namespaceStats

	// mu guards the fields below. Lock order: the adapter's lock, then
	// this one; the adapter is never called with mu held.
	mu                 sync.RWMutex
	sockets            idset.Set[Socket] // connected sockets by id
	middlewares        []func(*Socket) error
	connectionHandlers []func(*Socket)
	serverSideHandlers []func(*Event)
	relayAll           bool
	relayEvents        map[string]struct{}

	// asyncMiddlewares is set once UseAsync added a middleware: connects
	// then run the chain on a goroutine of their own.
	asyncMiddlewares atomic.Bool
	// The namespace-wide observers, read on every event, join, leave and
	// disconnect without a lock: each is nil (nothing to call, the common
	// case) or a slice replaced whole when a handler is added.
	eventHandlers      atomic.Pointer[[]func(*Event)]
	joinHandlers       atomic.Pointer[[]func(*Socket, string)]
	leaveHandlers      atomic.Pointer[[]func(*Socket, string)]
	disconnectHandlers atomic.Pointer[[]func(*Socket, string)]

	relayRoomsOnly bool // see RelayWithinRooms
}

func newNamespace(srv *Server, name string) *Namespace {
	n := &Namespace{name: name, server: srv, sockets: idset.New(socketID)}
	factory := srv.opts.Adapter
	if factory == nil {
		factory = NewMemoryAdapter
	}
	n.adapter = factory(n)
	n.store, _ = n.adapter.(SessionStore)
	if o := srv.recovery.options(); o != nil {
		n.recovery.Store(newRecovery(*o))
	}
	return n
}

// Name is the namespace's name, such as "/" or "/admin".
func (n *Namespace) Name() string { return n.name }

// Server is the server the namespace belongs to.
func (n *Namespace) Server() *Server { return n.server }

// Adapter is the namespace's adapter.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Use adds a middleware that runs, in order, for each socket connecting
// to the namespace, before OnConnection. It may join rooms and read the
// handshake. Returning an error refuses the connection: a *ConnectError
// sends its Message and Data to the client, any other error its text.
func (n *Namespace) Use(fn func(*Socket) error) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, fn)
	n.mu.Unlock()
}

// UseAsync adds a middleware, like Use, that may block: a call to a
// backend that decides whether the socket may connect, say. Once a
// namespace has one, each connection to it runs the whole middleware chain
// (Use and UseAsync, in the order added) on a goroutine of its own, so that
// a slow middleware delays only the socket it decides on: the client's
// read loop, its other namespaces and the other clients go on. Packets the
// client sends to the namespace before the answer are ignored, as Node
// ignores packets for a namespace not joined yet; a client whose
// connection closes meanwhile is not connected.
func (n *Namespace) UseAsync(fn func(*Socket) error) {
	n.Use(fn)
	n.asyncMiddlewares.Store(true)
}

// OnEvent adds a handler called for every event a client emits in the
// namespace, before the socket's own handlers (Socket.OnAny, Socket.On)
// and the relay. Unlike Socket.OnAny it costs a socket nothing: one
// handler serves every socket of the namespace. It runs on the client's
// read loop, like every event handler.
func (n *Namespace) OnEvent(fn func(*Event)) { addHandler(&n.eventHandlers, fn) }

// OnJoin adds a handler called when a connected socket of this server
// joins a room it was not in (Node's "join-room" adapter event, for the
// local sockets). Rooms joined before the socket is connected (by a
// middleware) and its own id room are not reported: they are the rooms it
// has when OnConnection handlers run.
func (n *Namespace) OnJoin(fn func(s *Socket, room string)) { addHandler(&n.joinHandlers, fn) }

// OnLeave adds a handler called when a connected socket of this server
// leaves a room it was in (Node's "leave-room"), except when it leaves
// them all by disconnecting: OnDisconnect reports that, and the socket's
// rooms are still listed by Socket.Rooms in OnDisconnecting handlers.
func (n *Namespace) OnLeave(fn func(s *Socket, room string)) { addHandler(&n.leaveHandlers, fn) }

// OnDisconnect adds a handler called once a socket of the namespace has
// disconnected, after the socket's own OnDisconnect handlers, with the same
// reason.
func (n *Namespace) OnDisconnect(fn func(s *Socket, reason string)) {
	addHandler(&n.disconnectHandlers, fn)
}

// addHandler appends fn to the slice p points at, replacing it whole so
// that readers need no lock.
func addHandler[F any](p *atomic.Pointer[[]F], fn F) {
	for {
		old := p.Load()
		var next []F
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, fn)
		if p.CompareAndSwap(old, &next) {
			return
		}
	}
}

// handlers returns the handlers p holds, nil when none.
func handlers[F any](p *atomic.Pointer[[]F]) []F {
	if h := p.Load(); h != nil {
		return *h
	}
	return nil
}

// roomChanged calls the join or leave handlers for s; no lock is held.
func (n *Namespace) roomChanged(s *Socket, joined bool, rooms []string) {
	fns := handlers(&n.leaveHandlers)
	if joined {
		fns = handlers(&n.joinHandlers)
	}
	for _, room := range rooms {
		for _, fn := range fns {
			fn(s, room)
		}
	}
}

// observesRooms tells whether anyone listens to joins or leaves, so that
// the adapter collects the changed rooms only then.
func (n *Namespace) observesRooms() bool {
	return n.joinHandlers.Load() != nil || n.leaveHandlers.Load() != nil
}

// OnConnection adds a handler called with each socket once it is connected
// (the client has its CONNECT answer).
func (n *Namespace) OnConnection(fn func(*Socket)) {
	n.mu.Lock()
	n.connectionHandlers = append(n.connectionHandlers, fn)
	n.mu.Unlock()
}

// OnServerSideEmit adds a handler for events another server emitted with
// ServerSideEmit (through a cluster adapter). Its Socket is nil.
func (n *Namespace) OnServerSideEmit(fn func(*Event)) {
	n.mu.Lock()
	n.serverSideHandlers = append(n.serverSideHandlers, fn)
	n.mu.Unlock()
}

// ServerSideEmit sends an event to the same namespace on the other servers
// of the cluster.
func (n *Namespace) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	a, err := NewArgs(args...)
	if err != nil {
		return err
	}
	return n.adapter.ServerSideEmit(ctx, &Packet{Type: PacketEvent, Namespace: n.name, EventName: event, Args: a})
}

// DeliverServerSideEmit hands an event received from another server to the
// OnServerSideEmit handlers. Cluster adapters call it.
func (n *Namespace) DeliverServerSideEmit(event string, args Args) {
	n.mu.RLock()
	handlers := n.serverSideHandlers
	n.mu.RUnlock()
	e := &Event{Name: event, Args: args}
	for _, h := range handlers {
		h(e)
	}
}

// Relay makes the namespace forward events from clients, for use without
// code: an event is emitted to the other sockets sharing a room with the
// sender (its own id room aside), or to the whole namespace when the sender
// joined no other room (to nobody then, with RelayWithinRooms); a client that asked for an acknowledgement gets
// one, without arguments, once the event is relayed. With no events named,
// every event is relayed; calls add up.
func (n *Namespace) Relay(events ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(events) == 0 {
		n.relayAll = true
		return
	}
	if n.relayEvents == nil {
		n.relayEvents = make(map[string]struct{})
	}
	for _, e := range events {
		n.relayEvents[e] = struct{}{}
	}
}

// SetRelay replaces the relay setting at once (Relay only adds to it), for
// configuration reloads: off when on is false; with on and no events named,
// every event is relayed.
func (n *Namespace) SetRelay(on bool, events ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.relayAll = on && len(events) == 0
	n.relayEvents = nil
	if on && len(events) > 0 {
		n.relayEvents = make(map[string]struct{}, len(events))
		for _, e := range events {
			n.relayEvents[e] = struct{}{}
		}
	}
}

// RelayWithinRooms makes a relay reach only the sender's rooms: a sender
// that joined no room (its own id room aside) then relays to nobody,
// instead of to the whole namespace. For namespaces whose rooms are what
// separates the clients, where a client that joined none must not reach
// every room.
func (n *Namespace) RelayWithinRooms(on bool) {
	n.mu.Lock()
	n.relayRoomsOnly = on
	n.mu.Unlock()
}

func (n *Namespace) relayFor(event string) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.relayAll {
		return true
	}
	_, ok := n.relayEvents[event]
	return ok
}

// relay forwards e as Relay describes; the arguments go on as they came,
// without being decoded.
func (n *Namespace) relay(e *Event) {
	s := e.socket
	rooms := s.Rooms()
	targets := rooms[:0:0]
	for _, r := range rooms {
		if r != s.id {
			targets = append(targets, r)
		}
	}
	n.mu.RLock()
	roomsOnly := n.relayRoomsOnly
	n.mu.RUnlock()
	if len(targets) == 0 && roomsOnly {
		if e.WantsAck() {
			_ = e.Ack() // the relay is done: to nobody
		}
		return
	}
	_ = n.adapter.Broadcast(&Packet{Type: PacketEvent, Namespace: n.name, EventName: e.Name, Args: e.Args},
		&BroadcastOptions{Rooms: targets, Except: []string{s.id}})
	if e.WantsAck() {
		_ = e.Ack()
	}
}

// To starts a broadcast to the sockets in rooms.
func (n *Namespace) To(rooms ...string) *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).To(rooms...)
}

// In is To.
func (n *Namespace) In(rooms ...string) *BroadcastOperator { return n.To(rooms...) }

// Except starts a broadcast to the sockets in none of rooms.
func (n *Namespace) Except(rooms ...string) *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).Except(rooms...)
}

// Volatile starts a broadcast dropped for each client whose transport
// cannot write it at once (Node's io.volatile; see BroadcastFlags.Volatile).
func (n *Namespace) Volatile() *BroadcastOperator { return (&BroadcastOperator{nsp: n}).Volatile() }

// Local starts a broadcast to this server's sockets only.
func (n *Namespace) Local() *BroadcastOperator { return (&BroadcastOperator{nsp: n}).Local() }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error {
	return (&BroadcastOperator{nsp: n}).Emit(event, args...)
}

// EmitWithAck sends an event to every socket of the namespace and collects
// their acknowledgements until all have answered or ctx ends.
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return (&BroadcastOperator{nsp: n}).EmitWithAck(ctx, event, args...)
}

// FetchSockets describes every socket of the namespace.
func (n *Namespace) FetchSockets(ctx context.Context) ([]RemoteSocket, error) {
	return (&BroadcastOperator{nsp: n}).FetchSockets(ctx)
}

// DisconnectSockets disconnects every socket of the namespace.
func (n *Namespace) DisconnectSockets(ctx context.Context, close bool) error {
	return (&BroadcastOperator{nsp: n}).DisconnectSockets(ctx, close)
}

// Sockets lists the sockets connected to this namespace on this server.
func (n *Namespace) Sockets() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, n.sockets.Len())
	for s := range n.sockets.All() {
		out = append(out, s)
	}
	return out
}

// Socket returns the local socket with id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets.Get(id)
}

func (n *Namespace) nextAckID() uint64 { return n.ackIDs.Add(1) - 1 }

// runMiddlewares runs the middlewares in order, stopping at the first
// error.
func (n *Namespace) runMiddlewares(s *Socket) error {
	n.mu.RLock()
	fns := n.middlewares
	n.mu.RUnlock()
	for _, fn := range fns {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets.Put(s)
	n.mu.Unlock()
	n.stats.connected()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	n.sockets.Delete(s.id)
	n.mu.Unlock()
}

func (n *Namespace) connected(s *Socket) {
	n.mu.RLock()
	handlers := n.connectionHandlers
	n.mu.RUnlock()
	for _, h := range handlers {
		h(s)
	}
}

// socketID is the id of s, by which a namespace keeps it.
func socketID(s *Socket) string { return s.id }
