package redisadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/internal/rediscluster"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Adapter is the socketio.Adapter of one namespace in a Cluster. The
// embedded MemoryAdapter keeps the local rooms and delivers locally; Adapter
// adds the messages to and from the other servers.
type Adapter struct {
	*socketio.MemoryAdapter
	nsp *socketio.Namespace
	// bound is the Cluster the adapter is in; a Group moves an adapter to
	// another Cluster when the server adopts new settings, keeping its
	// rooms.
	bound atomic.Pointer[binding]
	// ackIDs numbers the packets of broadcasts with acknowledgements that
	// other servers ask for. They count from ackIDBase, far from the
	// namespace's own ids, which count from 0 and share the sockets' ack
	// tables.
	ackIDs atomic.Uint64

	// mu guards the fields below. It is never held while calling into the
	// MemoryAdapter or a socket.
	mu          sync.Mutex
	requests    map[string]*pendingRequest         // our requests waiting for answers
	ackRequests map[string]*rediscluster.AckWaiter // our broadcasts with acks, by request id
	sseHandlers []func(*ServerSideEvent)
	closed      bool
}

// ackIDBase is 2^40: ids stay exact in a JavaScript number.
const ackIDBase = 1 << 40

func newAdapter(c *Cluster, nsp *socketio.Namespace) *Adapter {
	a := &Adapter{
		MemoryAdapter: socketio.NewLocalAdapter(nsp),
		nsp:           nsp,
		requests:      make(map[string]*pendingRequest),
		ackRequests:   make(map[string]*rediscluster.AckWaiter),
	}
	a.bound.Store(newBinding(c, nsp.Name()))
	return a
}

// binding is an adapter's place in a Cluster.
type binding struct {
	c  *Cluster
	ch channels
	// ownPrefix starts every broadcast this server publishes ([uid, ...]
	// in MessagePack), so that its own come back without being decoded.
	ownPrefix []byte
}

func newBinding(c *Cluster, nsp string) *binding {
	p := newToMsgpack(nil)
	_ = p.enc.EncodeArrayLen(3)
	_ = p.enc.EncodeString(c.uid)
	return &binding{c: c, ch: channelsOf(c.prefix, nsp, c.uid), ownPrefix: p.buf.Bytes()}
}

func (a *Adapter) b() *binding { return a.bound.Load() }

// pendingRequest is a request of ours waiting for the other servers.
type pendingRequest struct {
	rediscluster.Tally
	typ     int
	sockets []json.RawMessage
	rooms   []string
	answers []json.RawMessage // server-side emit acknowledgements
}

// Broadcast publishes p for the other servers, unless opts.Flags.Local is
// set, then delivers it to the local sockets.
func (a *Adapter) Broadcast(p *socketio.Packet, opts *socketio.BroadcastOptions) error {
	var err error
	if !opts.Flags.Local {
		var b []byte
		b, err = encodeBroadcast(&BroadcastMessage{UID: a.b().c.uid, Packet: wirePacket(a.nsp.Name(), p), Opts: wireOptions(opts)})
		if err == nil {
			a.b().c.publish(broadcastChannel(a.b().c.prefix, a.nsp.Name(), opts.Rooms), b)
		}
	}
	return errors.Join(a.MemoryAdapter.Broadcast(p, opts), err)
}

// BroadcastWithAck publishes p as a request that the other servers answer
// with their client count and their clients' acknowledgements, then
// delivers it locally.
func (a *Adapter) BroadcastWithAck(p *socketio.Packet, opts *socketio.BroadcastOptions, clientCount func(int), ack func(socketio.Args)) error {
	if opts.Flags.Local {
		return a.MemoryAdapter.BroadcastWithAck(p, opts, clientCount, ack)
	}
	id := newUID()
	wp := wirePacket(a.nsp.Name(), p)
	wp.ID = -1 // each server numbers the packet for its own clients
	wo := wireOptions(opts)
	b, err := encodeBroadcastRequest(a.b().c.uid, id, &wp, &wo)
	if err != nil {
		return err
	}
	wait := opts.Flags.Timeout
	if wait <= 0 {
		wait = a.b().c.timeout
	}
	r := rediscluster.NewAckWaiter(clientCount, ack)
	a.mu.Lock()
	if !a.closed {
		a.ackRequests[id] = r
		// Nothing tells when the last client has answered: forget the
		// request once the broadcast's timeout is over, as Node does.
		r.Timer = time.AfterFunc(wait, func() {
			a.mu.Lock()
			delete(a.ackRequests, id)
			a.mu.Unlock()
		})
	}
	a.mu.Unlock()
	a.b().c.publish(a.b().ch.request, b)
	return a.MemoryAdapter.BroadcastWithAck(p, opts, clientCount, ack)
}

// ServerCount is the number of servers subscribed to this namespace, this
// one included. While Redis is unreachable it is 1, so that local
// broadcasts with acknowledgements still complete.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	n, err := a.b().c.serverCount(ctx, a.b().ch.request)
	if err != nil || n < 1 {
		return 1, nil
	}
	return n, nil
}

// Sockets lists the ids of the sockets in rooms on every server.
func (a *Adapter) Sockets(ctx context.Context, rooms []string) ([]string, error) {
	ids, _ := a.MemoryAdapter.Sockets(ctx, rooms)
	if rooms == nil {
		rooms = []string{}
	}
	r, err := a.ask(ctx, typeSockets, func(id string) any {
		return socketsRequest{UID: a.b().c.uid, RequestID: id, Type: typeSockets, Rooms: rooms}
	})
	if r == nil {
		return ids, err
	}
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		seen[id] = struct{}{}
	}
	for _, raw := range r.sockets {
		var id string
		if json.Unmarshal(raw, &id) == nil {
			if _, dup := seen[id]; !dup {
				seen[id] = struct{}{}
				ids = append(ids, id)
			}
		}
	}
	return ids, err
}

// AllRooms lists the rooms of every server.
func (a *Adapter) AllRooms(ctx context.Context) ([]string, error) {
	rooms := a.localRooms()
	r, err := a.ask(ctx, typeAllRooms, func(id string) any {
		return allRoomsRequest{UID: a.b().c.uid, RequestID: id, Type: typeAllRooms}
	})
	if r == nil {
		return rooms, err
	}
	seen := make(map[string]struct{}, len(rooms))
	for _, room := range rooms {
		seen[room] = struct{}{}
	}
	for _, room := range r.rooms {
		if _, dup := seen[room]; !dup {
			seen[room] = struct{}{}
			rooms = append(rooms, room)
		}
	}
	return rooms, err
}

// localRooms lists the rooms of the local sockets. The MemoryAdapter does
// not list its rooms, but every room has a member.
func (a *Adapter) localRooms() []string {
	seen := make(map[string]struct{})
	var rooms []string
	for _, s := range a.nsp.Sockets() {
		for _, room := range a.SocketRooms(s.ID()) {
			if _, dup := seen[room]; !dup {
				seen[room] = struct{}{}
				rooms = append(rooms, room)
			}
		}
	}
	return rooms
}

// FetchSockets describes the sockets opts selects on every server.
func (a *Adapter) FetchSockets(ctx context.Context, opts *socketio.BroadcastOptions) ([]socketio.RemoteSocket, error) {
	local, _ := a.MemoryAdapter.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	r, err := a.ask(ctx, typeRemoteFetch, func(id string) any {
		return fetchRequest{UID: a.b().c.uid, RequestID: id, Type: typeRemoteFetch, Opts: filterOf(wireOptionsPtr(opts))}
	})
	if r == nil {
		return local, err
	}
	for _, raw := range r.sockets {
		var s RemoteSocket
		if json.Unmarshal(raw, &s) != nil || s.ID == "" {
			continue
		}
		local = append(local, socketio.RemoteSocket{ID: s.ID, Handshake: handshakeFromNode(s.Handshake), Rooms: s.Rooms, Data: s.Data})
	}
	return local, err
}

// AddSockets makes the sockets opts selects join rooms, on every server.
// The request comes back to this server too, which applies it then, as
// Node's adapter does; while Redis is unreachable it applies locally.
func (a *Adapter) AddSockets(ctx context.Context, opts *socketio.BroadcastOptions, rooms []string) error {
	return a.tell(opts, roomsRequest{UID: a.b().c.uid, Type: typeRemoteJoin, Opts: filterOf(wireOptionsPtr(opts)), Rooms: nonNilStrings(rooms)},
		func() error { return a.MemoryAdapter.AddSockets(ctx, opts, rooms) })
}

// DelSockets makes the sockets opts selects leave rooms, on every server.
func (a *Adapter) DelSockets(ctx context.Context, opts *socketio.BroadcastOptions, rooms []string) error {
	return a.tell(opts, roomsRequest{UID: a.b().c.uid, Type: typeRemoteLeave, Opts: filterOf(wireOptionsPtr(opts)), Rooms: nonNilStrings(rooms)},
		func() error { return a.MemoryAdapter.DelSockets(ctx, opts, rooms) })
}

// DisconnectSockets disconnects the sockets opts selects, on every server.
func (a *Adapter) DisconnectSockets(ctx context.Context, opts *socketio.BroadcastOptions, close bool) error {
	return a.tell(opts, disconnectRequest{UID: a.b().c.uid, Type: typeRemoteDisconnect, Opts: filterOf(wireOptionsPtr(opts)), Close: close},
		func() error { return a.MemoryAdapter.DisconnectSockets(ctx, opts, close) })
}

func (a *Adapter) tell(opts *socketio.BroadcastOptions, req any, local func() error) error {
	if opts.Flags.Local || a.b().c.outage.IsDown() {
		return local()
	}
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if !a.b().c.publish(a.b().ch.request, b) {
		return local()
	}
	return nil
}

// ServerSideEmit sends an event to the namespace of the same name on the
// other servers.
func (a *Adapter) ServerSideEmit(ctx context.Context, p *socketio.Packet) error {
	data, err := eventArray(p.EventName, p.Args)
	if err != nil {
		return err
	}
	b, err := json.Marshal(serverSideEmitRequest{UID: a.b().c.uid, Type: typeServerSideEmit, Data: data})
	if err != nil {
		return err
	}
	a.b().c.publish(a.b().ch.request, b)
	return nil
}

// ServerSideEmitWithAck sends an event to the other servers and returns the
// acknowledgement of each (one argument each, as in Node), once all have
// answered. When the requests timeout or ctx ends first, it returns the
// answers so far and an error.
func (a *Adapter) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	sargs, err := socketio.NewArgs(args...)
	if err != nil {
		return nil, err
	}
	data, err := eventArray(event, sargs)
	if err != nil {
		return nil, err
	}
	r, err := a.ask(ctx, typeServerSideEmit, func(id string) any {
		return serverSideEmitRequest{UID: a.b().c.uid, RequestID: id, Type: typeServerSideEmit, Data: data}
	})
	if r == nil {
		return []json.RawMessage{}, err
	}
	return r.answers, err
}

// eventArray is [event, ...args] as JSON; binary arguments cannot travel in
// the JSON requests Node uses for server-side emits.
func eventArray(event string, args socketio.Args) (json.RawMessage, error) {
	if len(args.Attachments) > 0 {
		return nil, errors.New("redisadapter: a server-side emit cannot carry binary arguments (Node's adapter sends it as JSON); encode them, as base64 for instance")
	}
	buf := append([]byte{'['}, appendJSString(nil, []byte(event))...)
	for _, a := range args.JSON {
		buf = append(buf, ',')
		buf = append(buf, a...)
	}
	return append(buf, ']'), nil
}

// ask publishes a request and waits for an answer from each other server,
// for at most the requests timeout. It returns nil without error when this
// server is alone (or Redis is unreachable), and the answers so far with
// an error on timeout.
func (a *Adapter) ask(ctx context.Context, typ int, build func(id string) any) (*pendingRequest, error) {
	n, err := a.b().c.serverCount(ctx, a.b().ch.request)
	if err != nil || n <= 1 {
		return nil, nil
	}
	id := newUID()
	b, err := json.Marshal(build(id))
	if err != nil {
		return nil, err
	}
	r := &pendingRequest{Tally: rediscluster.NewTally(n - 1), typ: typ}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, errClosed
	}
	a.requests[id] = r
	a.mu.Unlock()
	a.b().c.publish(a.b().ch.request, b)
	start := time.Now()
	timer := time.NewTimer(a.b().c.timeout)
	defer timer.Stop()
	var waitErr error
	select {
	case <-r.Done:
		a.b().c.stats.request(time.Since(start), false)
	case <-timer.C:
		a.b().c.stats.request(time.Since(start), true)
		waitErr = fmt.Errorf("redisadapter: timeout reached while waiting for %s responses: %d of %d servers answered in %v",
			requestName(typ), r.answered(&a.mu), r.Want, a.b().c.timeout)
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	a.mu.Lock()
	delete(a.requests, id)
	a.mu.Unlock()
	return r, waitErr
}

func (r *pendingRequest) answered(mu *sync.Mutex) int {
	mu.Lock()
	defer mu.Unlock()
	return r.Got
}

func requestName(typ int) string {
	switch typ {
	case typeSockets:
		return "sockets"
	case typeAllRooms:
		return "allRooms"
	case typeRemoteFetch:
		return "fetchSockets"
	case typeServerSideEmit:
		return "serverSideEmit"
	}
	return fmt.Sprint("request type ", typ)
}

// OnServerSideEmit adds a handler for server-side emits from other servers
// that can answer them: Node's serverSideEmit with a callback waits for an
// answer from every server. Events without a callback reach these handlers
// too (WantsAck is false), as well as Namespace.OnServerSideEmit handlers.
func (a *Adapter) OnServerSideEmit(fn func(*ServerSideEvent)) {
	a.mu.Lock()
	a.sseHandlers = append(a.sseHandlers, fn)
	a.mu.Unlock()
}

// ServerSideEvent is an event another server sent with serverSideEmit.
type ServerSideEvent struct {
	Name  string
	Args  socketio.Args
	reply func(json.RawMessage)
	acked atomic.Bool
}

// WantsAck tells whether the sender waits for an answer.
func (e *ServerSideEvent) WantsAck() bool { return e.reply != nil }

// Ack answers the sender with v (encoded as encoding/json does; binary is
// not allowed, the answer travels as JSON). Only the first call sends
// anything, as in Node.
func (e *ServerSideEvent) Ack(v any) error {
	if e.reply == nil || e.acked.Swap(true) {
		return errors.New("redisadapter: the sender asked for no acknowledgement, or it was sent already")
	}
	args, err := socketio.NewArgs(v)
	if err != nil {
		return err
	}
	if len(args.Attachments) > 0 {
		return errors.New("redisadapter: a server-side emit acknowledgement cannot carry binary (Node sends it as JSON)")
	}
	e.reply(args.JSON[0])
	return nil
}

// Close unsubscribes the namespace's channels and fails the requests still
// waiting.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.mu.Unlock()
	a.cancelPending()
	b := a.b()
	b.c.remove(a, b.ch)
	return nil
}

// moveTo takes the adapter, with its local rooms, from its Cluster to c:
// the requests waiting for answers end, the old channels are unsubscribed
// and the new ones subscribed.
func (a *Adapter) moveTo(c *Cluster) {
	old := a.b()
	if old.c == c {
		return
	}
	a.mu.Lock()
	a.endWaits()
	a.mu.Unlock()
	a.bound.Store(newBinding(c, a.nsp.Name()))
	if !c.register(a) {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
	}
	old.c.remove(a, old.ch)
}

// cancelPending marks the adapter closed, ends the waits of its requests
// and stops their timers.
func (a *Adapter) cancelPending() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	a.endWaits()
}

// endWaits ends the waits of our requests and stops their timers; a.mu is
// held.
func (a *Adapter) endWaits() {
	for id, r := range a.ackRequests {
		if r.Timer != nil {
			r.Timer.Stop()
		}
		delete(a.ackRequests, id)
	}
	for id, r := range a.requests {
		r.End()
		delete(a.requests, id)
	}
}

// wirePacket is the packet as the other servers see it.
func wirePacket(nsp string, p *socketio.Packet) Packet {
	wp := Packet{Type: packetEvent, Nsp: nsp, Event: p.EventName, Args: p.Args.JSON, Attachments: p.Args.Attachments, ID: -1}
	if p.HasID {
		wp.ID = int64(p.ID)
	}
	return wp
}

func wireOptions(o *socketio.BroadcastOptions) Options {
	return Options{
		Rooms:  o.Rooms,
		Except: o.Except,
		Flags:  Flags{Volatile: o.Flags.Volatile, Local: o.Flags.Local, Timeout: o.Flags.Timeout.Milliseconds()},
	}
}

func wireOptionsPtr(o *socketio.BroadcastOptions) *Options {
	w := wireOptions(o)
	return &w
}

func localOptions(o *Options) *socketio.BroadcastOptions {
	return &socketio.BroadcastOptions{
		Rooms:  o.Rooms,
		Except: o.Except,
		Flags:  socketio.BroadcastFlags{Volatile: o.Flags.Volatile, Timeout: time.Duration(o.Flags.Timeout) * time.Millisecond},
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// onBroadcast delivers a broadcast from another server to the local
// sockets. Called by the Cluster's receive loop.
func (a *Adapter) onBroadcast(channel string, payload []byte) {
	if bytes.HasPrefix(payload, a.b().ownPrefix) {
		return // our own, delivered locally already
	}
	// A room channel for a room without local members needs no decoding.
	if room := channelRoom(a.b().ch.broadcast, channel); room != "" && a.RoomSize(room) == 0 {
		return
	}
	m, err := decodeBroadcast(payload)
	if err != nil {
		a.b().c.malformed.Log("malformed broadcast from Redis dropped", channel, err)
		return
	}
	if m.UID == a.b().c.uid || m.Packet.Nsp != a.nsp.Name() {
		return
	}
	p := &socketio.Packet{Type: socketio.PacketEvent, Namespace: a.nsp.Name(), EventName: m.Packet.Event,
		Args: socketio.Args{JSON: m.Packet.Args, Attachments: m.Packet.Attachments}}
	opts := localOptions(&m.Opts)
	opts.Flags.Local = true
	_ = a.MemoryAdapter.Broadcast(p, opts)
}

// onRequest answers a request from another server, or applies it. Called
// by the Cluster's receive loop.
func (a *Adapter) onRequest(payload []byte) {
	r, err := decodeRequest(payload)
	if err != nil {
		a.b().c.malformed.Log("malformed request from Redis dropped", a.b().ch.request, err)
		return
	}
	if ce := a.b().c.logger.Check(zap.DebugLevel, "request from another server"); ce != nil {
		ce.Write(zap.String("namespace", a.nsp.Name()), zap.Int("type", r.Type), zap.String("uid", r.UID))
	}
	ctx := context.Background()
	switch r.Type {
	case typeSockets:
		if a.isOwnRequest(r.RequestID) {
			return
		}
		ids, _ := a.MemoryAdapter.Sockets(ctx, r.Rooms)
		a.respond(socketsResponse{RequestID: r.RequestID, Sockets: nonNilStrings(ids)})
	case typeAllRooms:
		if a.isOwnRequest(r.RequestID) {
			return
		}
		a.respond(roomsResponse{RequestID: r.RequestID, Rooms: nonNilStrings(a.localRooms())})
	case typeRemoteJoin, typeRemoteLeave, typeRemoteDisconnect:
		a.applyRemote(ctx, r)
	case typeRemoteFetch:
		if a.isOwnRequest(r.RequestID) {
			return
		}
		local, _ := a.MemoryAdapter.FetchSockets(ctx, localOptions(r.Opts))
		sockets := make([]RemoteSocket, 0, len(local))
		for _, s := range local {
			sockets = append(sockets, describeSocket(s))
		}
		a.respond(fetchResponse{RequestID: r.RequestID, Sockets: sockets})
	case typeServerSideEmit:
		if r.UID == a.b().c.uid {
			return
		}
		a.onServerSideEmit(r)
	case typeBroadcast:
		a.mu.Lock()
		_, own := a.ackRequests[r.RequestID]
		a.mu.Unlock()
		if own || r.UID == a.b().c.uid {
			return
		}
		a.onBroadcastWithAck(r)
	}
}

func (a *Adapter) isOwnRequest(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.requests[id]
	return ok
}

// respond publishes an answer on the namespace's response channel, where
// every server listens (Node's default; it also reads its own channel).
func (a *Adapter) respond(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.b().c.logger.Error("encoding an answer for another server", zap.Error(err))
		return
	}
	a.b().c.publish(a.b().ch.response, b)
}

// applyRemote applies a join, leave or disconnect: to the sockets opts
// selects, or to one socket by id (the form older adapters send, answered
// with the request id).
func (a *Adapter) applyRemote(ctx context.Context, r *request) {
	if r.Opts != nil {
		opts := localOptions(r.Opts)
		switch r.Type {
		case typeRemoteJoin:
			_ = a.MemoryAdapter.AddSockets(ctx, opts, r.Rooms)
		case typeRemoteLeave:
			_ = a.MemoryAdapter.DelSockets(ctx, opts, r.Rooms)
		default:
			_ = a.MemoryAdapter.DisconnectSockets(ctx, opts, r.Close)
		}
		return
	}
	s := a.nsp.Socket(r.Sid)
	if s == nil {
		return
	}
	switch r.Type {
	case typeRemoteJoin:
		s.Join(r.Room)
	case typeRemoteLeave:
		s.Leave(r.Room)
	default:
		s.Disconnect(r.Close)
	}
	a.respond(emptyResponse{RequestID: r.RequestID})
}

// onServerSideEmit hands an event from another server to the handlers.
func (a *Adapter) onServerSideEmit(r *request) {
	var event string
	_ = json.Unmarshal(r.Data[0], &event)
	args := socketio.Args{JSON: r.Data[1:]}
	e := &ServerSideEvent{Name: event, Args: args}
	if r.HasRequestID {
		id := r.RequestID
		e.reply = func(v json.RawMessage) {
			b, err := json.Marshal(serverSideEmitResponse{Type: typeServerSideEmit, RequestID: id, Data: v})
			if err == nil {
				a.b().c.publish(a.b().ch.response, b)
			}
		}
	}
	a.mu.Lock()
	handlers := a.sseHandlers
	a.mu.Unlock()
	for _, h := range handlers {
		h(e)
	}
	a.nsp.DeliverServerSideEmit(event, args)
}

// onBroadcastWithAck delivers another server's broadcast with
// acknowledgements and reports the client count, then each client's ack.
func (a *Adapter) onBroadcastWithAck(r *request) {
	if r.Packet.Nsp != a.nsp.Name() {
		return
	}
	id := r.RequestID
	p := &socketio.Packet{Type: socketio.PacketEvent, Namespace: a.nsp.Name(), EventName: r.Packet.Event,
		Args: socketio.Args{JSON: r.Packet.Args, Attachments: r.Packet.Attachments},
		ID:   ackIDBase + a.ackIDs.Add(1), HasID: true}
	opts := localOptions(r.Opts)
	opts.Flags.Local = true
	_ = a.MemoryAdapter.BroadcastWithAck(p, opts,
		func(n int) {
			a.respond(clientCountResponse{Type: typeBroadcastClientCount, RequestID: id, ClientCount: n})
		},
		func(args socketio.Args) {
			// Node passes the first argument of the client's answer on.
			var first json.RawMessage
			if len(args.JSON) > 0 {
				first = args.JSON[0]
			}
			b, err := encodeBroadcastAck(id, first, args.Attachments)
			if err != nil {
				a.b().c.malformed.Log("client acknowledgement not forwarded", a.b().ch.response, err)
				return
			}
			a.b().c.publish(a.b().ch.response, b)
		})
}

// onResponse takes an answer to one of our requests. Called by the
// Cluster's receive loop.
func (a *Adapter) onResponse(payload []byte) {
	r, err := decodeResponse(payload)
	if err != nil {
		a.b().c.malformed.Log("malformed response from Redis dropped", a.b().ch.response, err)
		return
	}
	a.mu.Lock()
	if ar, ok := a.ackRequests[r.RequestID]; ok {
		a.mu.Unlock()
		switch r.Type {
		case typeBroadcastClientCount:
			ar.ClientCount(r.ClientCount)
		case typeBroadcastAck:
			ar.Ack(r.Ack, r.AckAttachments)
		}
		return
	}
	defer a.mu.Unlock()
	p := a.requests[r.RequestID]
	if p == nil || p.Full() {
		return
	}
	switch p.typ {
	case typeSockets, typeRemoteFetch:
		p.sockets = append(p.sockets, r.Sockets...)
	case typeAllRooms:
		p.rooms = append(p.rooms, r.Rooms...)
	case typeServerSideEmit:
		p.answers = append(p.answers, rediscluster.OrNull(r.Data))
	}
	p.Count()
}

type socketsRequest struct {
	UID       string   `json:"uid"`
	RequestID string   `json:"requestId"`
	Type      int      `json:"type"`
	Rooms     []string `json:"rooms"`
}
