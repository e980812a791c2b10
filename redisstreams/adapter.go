package redisstreams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/rediscluster"
	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Adapter is the socketio.Adapter of one namespace in a Node. The embedded
// MemoryAdapter keeps the local rooms and delivers locally; Adapter adds
// the stream, the pub/sub requests and, when the server has connection
// state recovery on, the sessions in Redis (socketio.SessionStore).
type Adapter struct {
	*socketio.MemoryAdapter
	n               *Node
	nsp             *socketio.Namespace
	public, private string // socket.io#<nsp># and socket.io#<nsp>#<uid>#
	ackIDs          atomic.Uint64
	mu              sync.Mutex // guards the fields below
	requests        map[string]*request
	acks            map[string]*rediscluster.AckWaiter
	sseHandlers     []func(*redisadapter.ServerSideEvent)
	closed          bool
	sessMu          sync.Mutex          // guards tracked and dirty; see SaveSession
	tracked         map[string]string   // pid → sid of the connected sockets whose sessions are kept in Redis
	dirty           map[string]struct{} // sids whose rooms changed since their session was written
	flushScheduled  bool
}

// ackIDBase starts the ack ids of broadcasts from other servers, far from
// the namespace's own; 2^40 stays exact in a JavaScript number.
const ackIDBase = 1 << 40

type request struct {
	rediscluster.Tally
	typ     int
	sockets []socketio.RemoteSocket
	answers []json.RawMessage
}

var errClosed = errors.New("redisstreams: the adapter is closed")

func newAdapter(n *Node, nsp *socketio.Namespace) *Adapter {
	return &Adapter{
		MemoryAdapter: socketio.NewMemoryAdapter(nsp).(*socketio.MemoryAdapter),
		n:             n, nsp: nsp,
		public:   n.cfg.ChannelPrefix + "#" + nsp.Name() + "#",
		private:  n.cfg.ChannelPrefix + "#" + nsp.Name() + "#" + n.uid + "#",
		requests: make(map[string]*request), acks: make(map[string]*rediscluster.AckWaiter),
		tracked: make(map[string]string), dirty: make(map[string]struct{}),
	}
}

// publishEntry appends a message to the stream.
func (a *Adapter) publishEntry(typ int, d any, atts [][]byte, failed func()) error {
	js, err := json.Marshal(d)
	if err != nil {
		return err
	}
	v, err := entryValues(&message{UID: a.n.uid, Nsp: a.nsp.Name(), Type: typ, Data: js, Attachments: atts})
	if err != nil {
		return err
	}
	a.n.send(outgoing{entry: v, failed: failed})
	return nil
}

// publish sends an ephemeral message on channel.
func (a *Adapter) publish(channel string, typ int, d any, atts [][]byte) error {
	js, err := json.Marshal(d)
	if err != nil {
		return err
	}
	b, err := encodePubSub(&message{UID: a.n.uid, Nsp: a.nsp.Name(), Type: typ, Data: js, Attachments: atts})
	if err != nil {
		return err
	}
	a.n.send(outgoing{channel: channel, payload: b})
	return nil
}

// respond answers the server uid on its own channel.
func (a *Adapter) respond(uid string, typ int, d any, atts [][]byte) {
	if err := a.publish(a.n.cfg.ChannelPrefix+"#"+a.nsp.Name()+"#"+uid+"#", typ, d, atts); err != nil {
		a.n.malformed.Log("answer not sent", a.nsp.Name(), err)
	}
}

// Broadcast appends p to the stream, unless opts.Flags.Local is set. Every
// server delivers it when it reads it back, this one too: all the
// cluster's clients get the broadcasts in the stream's order, each with its
// entry id as offset. While Redis is unreachable it is delivered here only,
// without offset.
func (a *Adapter) Broadcast(p *socketio.Packet, opts *socketio.BroadcastOptions) error {
	if opts.Flags.Local {
		return a.MemoryAdapter.Broadcast(p, opts)
	}
	local := *opts
	local.Flags.Local = true
	fallback := func() { _ = a.MemoryAdapter.Broadcast(p, &local) }
	pkt, err := packetOf(a.nsp.Name(), p)
	if err == nil {
		err = a.publishEntry(typeBroadcast, data{Packet: pkt, Opts: optionsOf(opts)}, p.Args.Attachments, fallback)
	}
	if err != nil {
		fallback()
	}
	return err
}

// BroadcastWithAck publishes p as an ephemeral message the other servers
// answer with their client count and their clients' acknowledgements,
// then delivers it locally.
func (a *Adapter) BroadcastWithAck(p *socketio.Packet, opts *socketio.BroadcastOptions, clientCount func(int), ack func(socketio.Args)) error {
	if opts.Flags.Local || a.n.outage.IsDown() {
		return a.MemoryAdapter.BroadcastWithAck(p, opts, clientCount, ack)
	}
	pkt, err := packetOf(a.nsp.Name(), p)
	if err != nil {
		return err
	}
	id := newUID()
	wait := opts.Flags.Timeout
	if wait <= 0 {
		wait = a.n.cfg.RequestsTimeout
	}
	a.mu.Lock()
	if !a.closed {
		a.acks[id] = rediscluster.NewAckWaiter(clientCount, ack)
		// Nothing tells when the last client has answered: forget the
		// request once the broadcast's timeout is over, as Node does.
		time.AfterFunc(wait, func() {
			a.mu.Lock()
			delete(a.acks, id)
			a.mu.Unlock()
		})
	}
	a.mu.Unlock()
	if err := a.publish(a.public, typeBroadcast, data{Packet: pkt, RequestID: &id, Opts: optionsOf(opts)}, p.Args.Attachments); err != nil {
		return err
	}
	return a.MemoryAdapter.BroadcastWithAck(p, opts, clientCount, ack)
}

// ServerCount is PUBSUB NUMSUB of the namespace's public channel, as in
// Node (added up over the masters of a Redis Cluster); 1 while Redis is
// unreachable, so that local broadcasts with acknowledgements still
// complete.
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	if a.n.outage.IsDown() {
		return 1, nil
	}
	n, err := rediscluster.NumSub(ctx, a.n.cfg.Client, a.public)
	if err != nil || n < 1 {
		return 1, nil
	}
	return n, nil
}

// Reachable returns nil while Redis is reachable, and otherwise an error.
func (a *Adapter) Reachable() error {
	if a.n.outage.IsDown() {
		return errors.New("redisstreams: Redis is unreachable; operations reach this server only")
	}
	return nil
}

// Sockets lists the ids of the sockets in rooms on every server (the
// cluster adapter has no message of its own for it: a fetch).
func (a *Adapter) Sockets(ctx context.Context, rooms []string) ([]string, error) {
	all, err := a.FetchSockets(ctx, &socketio.BroadcastOptions{Rooms: rooms})
	ids := make([]string, 0, len(all))
	for _, s := range all {
		ids = append(ids, s.ID)
	}
	return ids, err
}

// FetchSockets describes the sockets opts selects on every server.
func (a *Adapter) FetchSockets(ctx context.Context, opts *socketio.BroadcastOptions) ([]socketio.RemoteSocket, error) {
	local, _ := a.MemoryAdapter.FetchSockets(ctx, opts)
	if opts.Flags.Local {
		return local, nil
	}
	r, err := a.ask(ctx, typeFetchSockets, func(id string) data { return data{Opts: optionsOf(opts), RequestID: &id} })
	if r != nil {
		local = append(local, r.sockets...)
	}
	return local, err
}

// ask publishes a request and waits for the answers of the other servers.
func (a *Adapter) ask(ctx context.Context, typ int, build func(id string) data) (*request, error) {
	count, _ := a.ServerCount(ctx)
	if count <= 1 {
		return nil, nil
	}
	id := newUID()
	r := &request{Tally: rediscluster.NewTally(count - 1), typ: typ}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, errClosed
	}
	a.requests[id] = r
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.requests, id)
		a.mu.Unlock()
	}()
	if err := a.publish(a.public, typ, build(id), nil); err != nil {
		return nil, err
	}
	timer := time.NewTimer(a.n.cfg.RequestsTimeout)
	defer timer.Stop()
	select {
	case <-r.Done:
		return r, nil
	case <-timer.C:
		a.mu.Lock()
		got := r.Got
		a.mu.Unlock()
		return r, fmt.Errorf("redisstreams: timeout reached: only %d responses received out of %d in %v", got, r.Want, a.n.cfg.RequestsTimeout)
	case <-ctx.Done():
		return r, ctx.Err()
	}
}

// AddSockets makes the sockets opts selects join rooms, on every server.
func (a *Adapter) AddSockets(ctx context.Context, opts *socketio.BroadcastOptions, rooms []string) error {
	if !opts.Flags.Local {
		_ = a.publishEntry(typeSocketsJoin, data{Opts: optionsOf(opts), Rooms: nonNil(rooms)}, nil, nil)
	}
	return a.MemoryAdapter.AddSockets(ctx, opts, rooms)
}

// DelSockets makes the sockets opts selects leave rooms, on every server.
func (a *Adapter) DelSockets(ctx context.Context, opts *socketio.BroadcastOptions, rooms []string) error {
	if !opts.Flags.Local {
		_ = a.publishEntry(typeSocketsLeave, data{Opts: optionsOf(opts), Rooms: nonNil(rooms)}, nil, nil)
	}
	return a.MemoryAdapter.DelSockets(ctx, opts, rooms)
}

// DisconnectSockets disconnects the sockets opts selects, on every server.
func (a *Adapter) DisconnectSockets(ctx context.Context, opts *socketio.BroadcastOptions, close bool) error {
	if !opts.Flags.Local {
		_ = a.publishEntry(typeDisconnectSockets, data{Opts: optionsOf(opts), Close: close}, nil, nil)
	}
	return a.MemoryAdapter.DisconnectSockets(ctx, opts, close)
}

// ServerSideEmit sends an event to the namespace of the same name on the
// other servers.
func (a *Adapter) ServerSideEmit(ctx context.Context, p *socketio.Packet) error {
	arr, err := eventData(p.EventName, p.Args)
	if err != nil {
		return err
	}
	return a.publish(a.public, typeServerSideEmit, data{Packet: arr}, p.Args.Attachments)
}

// ServerSideEmitWithAck sends an event to the other servers and returns
// the acknowledgement of each (one argument each, as in Node), once all
// have answered; on timeout, the answers so far and an error.
func (a *Adapter) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	sargs, err := socketio.NewArgs(args...)
	if err != nil {
		return nil, err
	}
	arr, err := eventData(event, sargs)
	if err != nil {
		return nil, err
	}
	r, err := a.ask(ctx, typeServerSideEmit, func(id string) data { return data{Packet: arr, RequestID: &id} })
	if r == nil {
		return []json.RawMessage{}, err
	}
	a.mu.Lock()
	answers := append([]json.RawMessage{}, r.answers...)
	a.mu.Unlock()
	return answers, err
}

func eventData(event string, args socketio.Args) (json.RawMessage, error) {
	name, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	return json.Marshal(append([]json.RawMessage{name}, args.JSON...))
}

// OnServerSideEmit adds a handler for server-side emits from other servers
// that can answer them (Node's serverSideEmit with a callback), as the
// classic adapter's. Events reach Namespace.OnServerSideEmit handlers too.
func (a *Adapter) OnServerSideEmit(fn func(*redisadapter.ServerSideEvent)) {
	a.mu.Lock()
	a.sseHandlers = append(a.sseHandlers, fn)
	a.mu.Unlock()
}

// Close leaves the cluster for this namespace.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	for id, r := range a.requests {
		delete(a.requests, id)
		r.End()
	}
	a.mu.Unlock()
	a.n.release(a)
	return nil
}

// onEntry applies a stream entry; the node's deliverMu is held. A
// broadcast's writes start at batch's Flush.
func (a *Adapter) onEntry(batch *engine.Batch, m *message, id string) {
	var d data
	if len(m.Data) > 0 && json.Unmarshal(m.Data, &d) != nil {
		a.n.malformed.Log("malformed stream entry data dropped", id, nil)
		return
	}
	ctx := context.Background()
	switch m.Type {
	case typeBroadcast:
		if d.RequestID != nil {
			if m.UID != a.n.uid {
				a.onBroadcastWithAck(m, &d)
			}
			return
		}
		p, err := eventOf(d.Packet, m.Attachments)
		if err != nil {
			a.n.malformed.Log("malformed broadcast dropped", id, err)
			return
		}
		opts := d.Opts.local()
		if _, valid := parseID(id); valid && a.nsp.Server().RecoveryOptions() != nil && !opts.Flags.Volatile {
			_ = a.MemoryAdapter.BroadcastOffsetIn(batch, p, opts, id)
			return
		}
		_ = a.MemoryAdapter.BroadcastIn(batch, p, opts)
	case typeSocketsJoin, typeSocketsLeave, typeDisconnectSockets:
		if m.UID != a.n.uid {
			a.applyRemote(ctx, m.Type, &d)
		}
	default:
		if m.UID != a.n.uid {
			a.onMessage(m)
		}
	}
}

func (a *Adapter) applyRemote(ctx context.Context, typ int, d *data) {
	opts := d.Opts.local()
	switch typ {
	case typeSocketsJoin:
		_ = a.MemoryAdapter.AddSockets(ctx, opts, d.Rooms)
	case typeSocketsLeave:
		_ = a.MemoryAdapter.DelSockets(ctx, opts, d.Rooms)
	default:
		_ = a.MemoryAdapter.DisconnectSockets(ctx, opts, d.Close)
	}
}

// onMessage handles an ephemeral message or an answer.
func (a *Adapter) onMessage(m *message) {
	if m.UID == a.n.uid || m.Nsp != a.nsp.Name() {
		return
	}
	var d data
	if len(m.Data) > 0 && json.Unmarshal(m.Data, &d) != nil {
		a.n.malformed.Log("malformed message data dropped", a.public, nil)
		return
	}
	ctx := context.Background()
	switch m.Type {
	case typeBroadcast:
		if d.RequestID != nil {
			a.onBroadcastWithAck(m, &d)
		}
	case typeSocketsJoin, typeSocketsLeave, typeDisconnectSockets:
		a.applyRemote(ctx, m.Type, &d)
	case typeFetchSockets:
		if d.RequestID == nil {
			return
		}
		local, _ := a.MemoryAdapter.FetchSockets(ctx, d.Opts.local())
		sockets := make([]redisadapter.RemoteSocket, 0, len(local))
		for _, s := range local {
			sockets = append(sockets, redisadapter.DescribeSocket(s))
		}
		a.respond(m.UID, typeFetchSocketsResponse, struct {
			RequestID string                      `json:"requestId"`
			Sockets   []redisadapter.RemoteSocket `json:"sockets"`
		}{*d.RequestID, sockets}, nil)
	case typeServerSideEmit:
		a.onServerSideEmit(m, &d)
	case typeFetchSocketsResponse, typeServerSideEmitResp, typeBroadcastClientCount, typeBroadcastAck:
		a.onResponse(m, &d)
	}
}

func (a *Adapter) onServerSideEmit(m *message, d *data) {
	var arr []json.RawMessage
	if json.Unmarshal(d.Packet, &arr) != nil {
		return
	}
	name, args, err := eventArray(arr)
	if err != nil {
		return
	}
	sargs := socketio.Args{JSON: args, Attachments: m.Attachments}
	var reply func(json.RawMessage)
	if d.RequestID != nil {
		id, uid := *d.RequestID, m.UID
		reply = func(v json.RawMessage) {
			a.respond(uid, typeServerSideEmitResp, struct {
				RequestID string          `json:"requestId"`
				Packet    json.RawMessage `json:"packet"`
			}{id, v}, nil)
		}
	}
	e := redisadapter.NewServerSideEvent(name, sargs, reply)
	a.mu.Lock()
	handlers := a.sseHandlers
	a.mu.Unlock()
	for _, h := range handlers {
		h(e)
	}
	a.nsp.DeliverServerSideEmit(name, sargs)
}

// onBroadcastWithAck delivers another server's broadcast with
// acknowledgements and answers with the client count, then each ack.
func (a *Adapter) onBroadcastWithAck(m *message, d *data) {
	p, err := eventOf(d.Packet, m.Attachments)
	if err != nil {
		a.n.malformed.Log("malformed broadcast dropped", a.public, err)
		return
	}
	p.ID, p.HasID = ackIDBase+a.ackIDs.Add(1), true
	id, uid := *d.RequestID, m.UID
	_ = a.MemoryAdapter.BroadcastWithAck(p, d.Opts.local(),
		func(n int) {
			a.respond(uid, typeBroadcastClientCount, struct {
				RequestID   string `json:"requestId"`
				ClientCount int    `json:"clientCount"`
			}{id, n}, nil)
		},
		func(args socketio.Args) {
			// Node passes the first argument of the client's answer on.
			first := json.RawMessage("null")
			if len(args.JSON) > 0 {
				first = args.JSON[0]
			}
			a.respond(uid, typeBroadcastAck, struct {
				RequestID string          `json:"requestId"`
				Packet    json.RawMessage `json:"packet"`
			}{id, first}, args.Attachments)
		})
}

func (a *Adapter) onResponse(m *message, d *data) {
	if d.RequestID == nil {
		return
	}
	a.mu.Lock()
	if ar := a.acks[*d.RequestID]; ar != nil {
		a.mu.Unlock()
		switch m.Type {
		case typeBroadcastClientCount:
			ar.ClientCount(d.ClientCount)
		case typeBroadcastAck:
			ar.Ack(d.Packet, m.Attachments)
		}
		return
	}
	defer a.mu.Unlock()
	r := a.requests[*d.RequestID]
	if r == nil || r.Full() {
		return
	}
	switch {
	case m.Type == typeFetchSocketsResponse && r.typ == typeFetchSockets:
		for _, raw := range d.Sockets {
			var s redisadapter.RemoteSocket
			if json.Unmarshal(raw, &s) != nil || s.ID == "" {
				continue
			}
			r.sockets = append(r.sockets, s.Socket())
		}
	case m.Type == typeServerSideEmitResp && r.typ == typeServerSideEmit:
		r.answers = append(r.answers, rediscluster.OrNull(d.Packet))
	default:
		return
	}
	r.Count()
}

func (a *Adapter) logger() *zap.Logger { return a.n.cfg.Logger }
