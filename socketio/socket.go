package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Socket is one client's connection to one namespace. Its methods are safe
// for concurrent use. Handlers (On, OnDisconnect) run on the connection's
// read loop, one at a time and in the order the packets came: a handler
// that blocks delays that client's next packets. In particular, call
// EmitWithAck for the same client from another goroutine, since its answer
// comes through that loop.
type Socket struct {
	id     string
	nsp    *Namespace
	client *client
	// auth and issued are the CONNECT's share of the handshake; the rest
	// is read from the session's request when Handshake is called.
	auth   json.RawMessage
	issued int64 // milliseconds since the epoch

	// mu guards the fields below but inAdapter, inOwnRoom and rare. Lock
	// order: the adapter's lock, the namespace's, then this one; nothing is
	// called with mu held.
	mu        sync.Mutex
	connected bool
	closing   bool // onClose has started
	closed    bool // disconnected, after having been connected or not
	// roomsRefused: a Join went over MaxRoomsPerSocket (logged once).
	roomsRefused bool
	// inAdapter and inOwnRoom are the MemoryAdapter's, guarded by its lock
	// instead: the adapter knows the connected socket (Node's adapter has
	// it in its sids, even with no room left), and the socket is in the
	// room named by its id. The adapter keeps them here rather than in
	// maps of its own per socket.
	inAdapter bool
	inOwnRoom bool
	app       *socketApp // nil until the application sets a handler or data, or awaits an ack

	// rare is what few sockets use (recovery, a rate limit), nil until one
	// does, read and set with no lock: see socketRare for who owns each
	// field. Apart, like app, so that a socket is 96 bytes, one of the
	// allocator's size classes (the next is 112).
	rare atomic.Pointer[socketRare]
}

// socketApp is what the application sets on a socket, apart so that a
// socket it sets nothing on (relayed, or only broadcast to) does not carry
// room for it. The socket's mu guards it.
type socketApp struct {
	handlers        map[string]func(*Event)
	anyHandlers     []func(*Event)
	onDisconnecting []func(reason string)
	onDisconnect    []func(reason string)
	data            any
	meta            json.RawMessage
	// acks are the callbacks of the socket's emits that wait for the
	// client's acknowledgement, by packet id.
	acks map[uint64]func(Args, error)
}

// socketRare is the part of a socket that recovery and rate limits use.
type socketRare struct {
	// rec is the socket's connection state recovery (recovery.go), set
	// before it is connected; nil when recovery is off or its client
	// cannot recover.
	rec *socketRecovery

	// bucket is the event rate limit's state, nil until the socket's first
	// event under a limit; the read loop owns it (not mu).
	bucket *eventBucket
}

// rareState returns s.rare, allocating it on first use, from any
// goroutine: the pointer is atomic, as the read loop may allocate it for
// the rate limit while others read it for recovery.
func (s *Socket) rareState() *socketRare {
	if r := s.rare.Load(); r != nil {
		return r
	}
	r := new(socketRare)
	if s.rare.CompareAndSwap(nil, r) {
		return r
	}
	return s.rare.Load()
}

// rec is the socket's connection state recovery, nil when recovery
// is off or its client cannot recover.
func (s *Socket) rec() *socketRecovery {
	if r := s.rare.Load(); r != nil {
		return r.rec
	}
	return nil
}

func newSocket(nsp *Namespace, c *client, auth json.RawMessage, issued int64) *Socket {
	return &Socket{id: newSocketID(), nsp: nsp, client: c, auth: auth, issued: issued}
}

// appLocked returns what the application set on the socket, allocating
// it on first use; s.mu is held.
func (s *Socket) appLocked() *socketApp {
	if s.app == nil {
		s.app = new(socketApp)
	}
	return s.app
}

// ID is the socket's public id (20 characters), also the name of a room
// holding only this socket. Note that socket.io-client 2.x computes its own
// socket.id from the Engine.IO session id, which this server keeps secret:
// for those clients the two ids differ.
func (s *Socket) ID() string { return s.id }

// Namespace is the namespace the socket is connected to.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake describes the connection. It is built on each call, from what
// the Engine.IO session keeps of its handshake request (see Handshake).
func (s *Socket) Handshake() Handshake {
	return newHandshake(s.client.session.Request(), s.auth, s.issued)
}

// Protocol is the Socket.IO protocol revision of the client: 5 for
// socket.io-client 3.x and 4.x, 4 for 2.x.
func (s *Socket) Protocol() int { return int(s.client.protocol) }

// Data and SetData hold an application value, like socket.data in Node.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.app == nil {
		return nil
	}
	return s.app.data
}

// dataJSON is the socket's data as JSON for FetchSockets answers: nil when
// unset or when it cannot be encoded (a channel, say: Node would send {}).
func (s *Socket) dataJSON() json.RawMessage { return jsonOf(s.Data()) }

// SetData stores an application value on the socket.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.appLocked().data = v
	s.mu.Unlock()
}

// Meta and SetMeta hold private server-side state about the socket, as
// JSON: unlike Data, it is never sent anywhere by this package (not to the
// client, not in FetchSockets answers to other servers). The backend hooks
// keep there what a backend asked to be handed back on the socket's later
// hook calls; connection state recovery restores it with Data and the
// rooms.
func (s *Socket) Meta() json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.app == nil {
		return nil
	}
	return s.app.meta
}

// SetMeta stores private state on the socket (see Meta). The caller must
// not change m afterwards.
func (s *Socket) SetMeta(m json.RawMessage) {
	s.mu.Lock()
	s.appLocked().meta = m
	s.mu.Unlock()
}

// Transport is the Engine.IO transport the client uses now: "polling" or
// "websocket".
func (s *Socket) Transport() string { return s.client.session.Transport() }

// Connected tells whether the socket is still connected.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// On sets the handler of a client event, replacing any previous one.
func (s *Socket) On(event string, handler func(*Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.appLocked()
	if h.handlers == nil {
		h.handlers = make(map[string]func(*Event))
	}
	h.handlers[event] = handler
}

// OnAny adds a handler called for every client event, before the event's
// own handler.
func (s *Socket) OnAny(handler func(*Event)) {
	s.mu.Lock()
	h := s.appLocked()
	h.anyHandlers = append(h.anyHandlers, handler)
	s.mu.Unlock()
}

// OnDisconnecting adds a handler called when the socket is about to
// disconnect, while it is still in its rooms.
func (s *Socket) OnDisconnecting(handler func(reason string)) {
	s.mu.Lock()
	h := s.appLocked()
	h.onDisconnecting = append(h.onDisconnecting, handler)
	s.mu.Unlock()
}

// OnDisconnect adds a handler called once the socket has disconnected,
// with Node's reason: "client namespace disconnect", "server namespace
// disconnect", "transport close", "ping timeout", "forced close",
// "server shutting down", ...
func (s *Socket) OnDisconnect(handler func(reason string)) {
	s.mu.Lock()
	h := s.appLocked()
	h.onDisconnect = append(h.onDisconnect, handler)
	s.mu.Unlock()
}

// Emit sends an event to the client. Arguments are encoded as NewArgs does
// ([]byte as binary attachments, an Args spliced in as it is). When the
// last argument is a func(Args, error), it is the acknowledgement callback,
// as in Node: it runs with the client's answer, or with ErrDisconnected.
// Emitting on a disconnected socket returns ErrDisconnected.
func (s *Socket) Emit(event string, args ...any) error {
	var callback func(Args, error)
	if n := len(args); n > 0 {
		if cb, ok := args[n-1].(func(Args, error)); ok {
			callback, args = cb, args[:n-1]
		}
	}
	_, err := s.emit(event, args, callback, false)
	return err
}

// VolatileEmitter emits events that a client whose transport is not ready
// does not get, like Node's socket.volatile.emit.
type VolatileEmitter struct{ s *Socket }

// Volatile is Node's socket.volatile: s.Volatile().Emit("pos", x, y).
func (s *Socket) Volatile() VolatileEmitter { return VolatileEmitter{s} }

// Emit is Socket.Emit, except that the packet is dropped, not queued, when
// the client's transport cannot write it at once: over polling, unless the
// client has a GET waiting; over WebSocket, while an earlier write is
// under way. Dropping is not an error: Emit returns nil. An acknowledgement
// callback of a dropped packet runs only when the socket disconnects, with
// ErrDisconnected, as the ack never comes.
func (v VolatileEmitter) Emit(event string, args ...any) error {
	var callback func(Args, error)
	if n := len(args); n > 0 {
		if cb, ok := args[n-1].(func(Args, error)); ok {
			callback, args = cb, args[:n-1]
		}
	}
	_, err := v.s.emit(event, args, callback, true)
	return err
}

// emit sends an event, with an acknowledgement id when callback is set,
// and returns that id. A volatile event is dropped if the transport cannot
// write it at once.
func (s *Socket) emit(event string, args []any, callback func(Args, error), volatile bool) (uint64, error) {
	if reservedEvent(event) {
		return 0, fmt.Errorf("socketio: %q is a reserved event name; pick another", event)
	}
	if s.isClosed() {
		return 0, ErrDisconnected
	}
	a, err := NewArgs(args...)
	if err != nil {
		return 0, err
	}
	p := &Packet{Type: PacketEvent, EventName: event, Args: a}
	if callback != nil {
		p.ID, p.HasID = s.nsp.nextAckID(), true
		if !s.registerAck(p.ID, callback) {
			return 0, ErrDisconnected
		}
	}
	if volatile {
		p.Namespace = s.nsp.name
		s.client.writeVolatile(p)
		return p.ID, nil
	}
	if callback == nil {
		if stored, err := s.emitStored(p); stored {
			return 0, err
		}
	}
	return p.ID, s.packet(p)
}

// EmitWithAck sends an event and waits for the client's acknowledgement,
// until ctx ends (use context.WithTimeout for Node's socket.timeout()).
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	type answer struct {
		args Args
		err  error
	}
	ch := make(chan answer, 1)
	id, err := s.emit(event, args, func(a Args, err error) { ch <- answer{a, err} }, false)
	if err != nil {
		return Args{}, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		s.mu.Lock()
		if s.app != nil {
			delete(s.app.acks, id)
		}
		s.mu.Unlock()
		return Args{}, fmt.Errorf("socketio: no acknowledgement of %q from socket %s: %w", event, s.id, ctx.Err())
	}
}

// registerAck keeps fn for the client's ACK of id; false when the socket
// is already disconnected.
func (s *Socket) registerAck(id uint64, fn func(Args, error)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	app := s.appLocked()
	if app.acks == nil {
		app.acks = make(map[uint64]func(Args, error))
	}
	app.acks[id] = fn
	return true
}

// packet sends p in the socket's namespace.
func (s *Socket) packet(p *Packet) error {
	p.Namespace = s.nsp.name
	return s.client.write(p)
}

// Join puts the socket in rooms. It does nothing once the socket is
// disconnected. Under Options.MaxRoomsPerSocket, rooms beyond the limit
// are not joined (logged once per socket).
func (s *Socket) Join(rooms ...string) {
	if s.isClosed() || len(rooms) == 0 {
		return
	}
	if max := s.nsp.server.maxRooms.Load(); max > 0 {
		if rooms = s.withinRoomLimit(rooms, int(max)); len(rooms) == 0 {
			return
		}
	}
	s.nsp.adapter.AddAll(s.id, rooms...)
	if s.isClosed() {
		// onClose ran meanwhile and may have cleaned up before AddAll.
		s.nsp.adapter.DelAll(s.id)
	}
}

// isClosed tells whether the socket is disconnecting or disconnected.
// Before it is connected (in a middleware) it is not closed: it can join
// rooms already.
func (s *Socket) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.closing
}

// Leave takes the socket out of room.
func (s *Socket) Leave(room string) {
	s.nsp.adapter.Del(s.id, room)
}

// Rooms lists the rooms the socket is in, its own id room included.
func (s *Socket) Rooms() []string {
	return s.nsp.adapter.SocketRooms(s.id)
}

// To starts a broadcast from this socket: to rooms, never to itself.
func (s *Socket) To(rooms ...string) *BroadcastOperator {
	return s.Broadcast().To(rooms...)
}

// Except starts a broadcast from this socket to every socket of the
// namespace except itself and those in rooms.
func (s *Socket) Except(rooms ...string) *BroadcastOperator {
	return s.Broadcast().Except(rooms...)
}

// Broadcast starts a broadcast to every other socket of the namespace.
func (s *Socket) Broadcast() *BroadcastOperator {
	return &BroadcastOperator{nsp: s.nsp, except: []string{s.id}}
}

// Disconnect disconnects the socket from its namespace; with close, it
// closes the whole connection, disconnecting the client's other namespaces
// too.
func (s *Socket) Disconnect(close bool) {
	if !s.Connected() {
		return
	}
	if close {
		s.client.disconnectAll()
		return
	}
	_ = s.packet(&Packet{Type: PacketDisconnect})
	s.onClose("server namespace disconnect")
}

// onConnect finishes the connection: own room, CONNECT packet.
func (s *Socket) onConnect() {
	s.mu.Lock()
	s.connected = true
	s.mu.Unlock()
	s.nsp.adapter.AddAll(s.id, s.id)
	p := &Packet{Type: PacketConnect}
	if s.client.protocol >= 5 {
		p.Data = append(append([]byte(`{"sid":"`), s.id...), '"')
		if rec := s.rec(); rec != nil {
			p.Data = append(append(append(p.Data, `,"pid":"`...), rec.pid...), '"')
		}
		p.Data = append(p.Data, '}')
	}
	_ = s.packet(p)
}

// onPacket handles a packet of the client for this namespace, on the read
// loop.
func (s *Socket) onPacket(p *Packet) {
	switch p.Type {
	case PacketEvent:
		if !s.allowEvent() {
			return
		}
		s.onEvent(&Event{Name: p.EventName, Args: p.Args, socket: s, id: p.ID, hasID: p.HasID})
	case PacketAck:
		var fn func(Args, error)
		s.mu.Lock()
		if s.app != nil {
			fn = s.app.acks[p.ID]
			delete(s.app.acks, p.ID)
		}
		s.mu.Unlock()
		if fn != nil {
			fn(p.Args, nil)
		} else if ce := s.client.server.logger.Check(zap.DebugLevel, "acknowledgement with an unknown id ignored"); ce != nil {
			ce.Write(zap.String("socket", s.id), zap.Uint64("id", p.ID))
		}
	case PacketDisconnect:
		s.onClose("client namespace disconnect")
	}
}

func (s *Socket) onEvent(e *Event) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	var handler func(*Event)
	var anyHandlers []func(*Event)
	if h := s.app; h != nil {
		handler, anyHandlers = h.handlers[e.Name], h.anyHandlers
	}
	s.mu.Unlock()
	for _, h := range handlers(&s.nsp.eventHandlers) {
		h(e)
	}
	for _, h := range anyHandlers {
		h(e)
	}
	if handler != nil {
		handler(e)
	}
	if r := s.nsp.relayFor(e.Name); r {
		s.nsp.relay(e)
	}
}

// onClose disconnects the socket for reason, once: the disconnecting
// handlers run while it is still in its rooms, then it leaves them and the
// disconnect handlers run. Pending acknowledgements fail with
// ErrDisconnected.
func (s *Socket) onClose(reason string) {
	s.mu.Lock()
	if s.closing || s.closed {
		s.mu.Unlock()
		return
	}
	if !s.connected {
		// Refused by a middleware: forget the rooms it may have joined.
		s.closed = true
		s.mu.Unlock()
		s.nsp.adapter.DelAll(s.id)
		return
	}
	s.closing = true
	var disconnecting []func(string)
	if s.app != nil {
		disconnecting = s.app.onDisconnecting
	}
	s.mu.Unlock()
	for _, h := range disconnecting {
		s.guarded(func() { h(reason) })
	}
	kept := s.session(reason)
	s.nsp.adapter.DelAll(s.id)
	s.nsp.remove(s)
	s.nsp.stats.disconnected(reason)
	s.client.remove(s)
	switch st, rec := s.nsp.sessionStore(), s.rec(); {
	case st != nil && kept != nil:
		st.SaveSession(s.storedOf(kept), false)
	case st != nil && rec != nil:
		st.DropSession(rec.pid) // kept up to date while connected, gone now
	case kept != nil:
		// Only now, so that a client taking it back quickly cannot meet
		// this socket still holding its id.
		s.nsp.recovery.Load().persist(kept)
	}
	s.mu.Lock()
	s.connected = false
	s.closed = true
	var acks map[uint64]func(Args, error)
	var disconnect []func(string)
	if s.app != nil {
		acks, s.app.acks = s.app.acks, nil
		disconnect = s.app.onDisconnect
	}
	s.mu.Unlock()
	for _, fn := range acks {
		fn(Args{}, ErrDisconnected)
	}
	if ce := s.client.server.logger.Check(zap.DebugLevel, "socket disconnected"); ce != nil {
		ce.Write(zap.String("namespace", s.nsp.name), zap.String("socket", s.id), zap.String("reason", reason))
	}
	for _, h := range disconnect {
		s.guarded(func() { h(reason) })
	}
	for _, h := range handlers(&s.nsp.disconnectHandlers) {
		s.guarded(func() { h(s, reason) })
	}
}

// guarded runs a disconnect handler so that a panic in it cannot skip the
// socket's cleanup or the other sockets' handlers: it is logged.
func (s *Socket) guarded(fn func()) {
	defer func() {
		if v := recover(); v != nil {
			s.client.server.logger.Error("socketio: a disconnect handler panicked",
				zap.String("namespace", s.nsp.name), zap.Any("panic", v), zap.Stack("stack"))
		}
	}()
	fn()
}
