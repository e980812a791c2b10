package redisstreams

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/rediscluster"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Config says how a server joins the cluster. Every server of a cluster
// must use the same StreamName, ChannelPrefix and SessionKeyPrefix.
type Config struct {
	// Client reaches Redis (redisadapter.ClientConfig.NewClient makes
	// one). It is shared by the Group's servers and closed by no one here.
	Client redis.UniversalClient
	// StreamName is the stream of the cluster messages ("socket.io").
	StreamName string
	// MaxLen trims the stream to about that many entries on each write
	// (XADD MAXLEN ~), 10000 by default: it bounds how far back a client
	// can recover.
	MaxLen int64
	// ChannelPrefix starts the pub/sub channels ("socket.io").
	ChannelPrefix string
	// SessionKeyPrefix starts the session keys ("sio:session:").
	SessionKeyPrefix string
	// ReadCount is how many entries one XREAD returns at most (100).
	ReadCount int64
	// BlockTime is how long one XREAD waits for entries (5s).
	BlockTime time.Duration
	// RequestsTimeout bounds the wait for other servers' answers (5s).
	RequestsTimeout time.Duration
	// SessionRefresh is how often the sessions of connected sockets are
	// written again (10s): their data, and their expiry, which is
	// max_disconnection_duration plus twice this.
	SessionRefresh time.Duration
	// Logger gets the outages (once each) and malformed messages (at most
	// every 10 s); nil: none.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.StreamName == "" {
		c.StreamName = "socket.io"
	}
	if c.MaxLen <= 0 {
		c.MaxLen = 10000
	}
	if c.ChannelPrefix == "" {
		c.ChannelPrefix = "socket.io"
	}
	if c.SessionKeyPrefix == "" {
		c.SessionKeyPrefix = "sio:session:"
	}
	if c.ReadCount <= 0 {
		c.ReadCount = 100
	}
	if c.BlockTime <= 0 {
		c.BlockTime = 5 * time.Second
	}
	if c.RequestsTimeout <= 0 {
		c.RequestsTimeout = 5 * time.Second
	}
	if c.SessionRefresh <= 0 {
		c.SessionRefresh = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Group makes one Node per socketio.Server, from one Config. Give
// Group.Adapter as socketio.Options.Adapter.
type Group struct {
	cfg   Config
	mu    sync.Mutex
	nodes map[*socketio.Server]*Node
}

// NewGroup checks cfg and makes a Group; nothing connects yet.
func NewGroup(cfg Config) (*Group, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisstreams: Config.Client is nil; make one with redisadapter.ClientConfig.NewClient")
	}
	return &Group{cfg: cfg.withDefaults(), nodes: make(map[*socketio.Server]*Node)}, nil
}

// Adapter makes the adapter of a namespace, in the Node of its server
// (started with the server's first namespace). It is a
// socketio.AdapterFactory.
func (g *Group) Adapter(nsp *socketio.Namespace) socketio.Adapter {
	g.mu.Lock()
	n := g.nodes[nsp.Server()]
	if n == nil {
		srv := nsp.Server()
		n = newNode(g.cfg, func(n *Node) {
			g.mu.Lock()
			if g.nodes[srv] == n {
				delete(g.nodes, srv)
			}
			g.mu.Unlock()
		})
		g.nodes[srv] = n
	}
	g.mu.Unlock()
	return n.adapter(nsp)
}

// NodeOf is the Node of a server, nil when it has none.
func (g *Group) NodeOf(srv *socketio.Server) *Node {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes[srv]
}

// Close stops every Node; their servers should be shut down first.
func (g *Group) Close() error {
	g.mu.Lock()
	nodes := make([]*Node, 0, len(g.nodes))
	for _, n := range g.nodes {
		nodes = append(nodes, n)
	}
	g.nodes = map[*socketio.Server]*Node{}
	g.mu.Unlock()
	for _, n := range nodes {
		n.close()
	}
	return nil
}

// Node is one server's membership in the cluster: its uid, the goroutine
// that reads the stream, the one that writes to Redis, the pub/sub
// subscription and the adapters of its namespaces.
type Node struct {
	cfg     Config
	uid     string
	onClose func(*Node)

	mu       sync.Mutex
	adapters map[string]*Adapter // by namespace
	channels map[string]*Adapter // by pub/sub channel
	closed   bool

	// deliverMu is held while an entry read from the stream is delivered,
	// and while a recovering socket catches up and joins: so a socket
	// gets each entry once, from the replay or live.
	deliverMu sync.Mutex
	last      streamID      // the last entry delivered; guarded by deliverMu
	known     bool          // last is known: the read loop has started
	advanced  chan struct{} // closed when last moves (or becomes known), then replaced

	out    chan outgoing
	pubsub *redis.PubSub
	ctx    context.Context // writes; cancelled once the queue is drained at close
	cancel context.CancelFunc
	// readCtx is the stream reader's, cancelled at once at close (an XREAD
	// blocks for BlockTime).
	readCtx    context.Context
	readCancel context.CancelFunc
	stop       chan struct{}
	wg         sync.WaitGroup

	outage    rediscluster.Outage
	malformed rediscluster.ThrottledLog
}

// outgoing is one write to Redis, in the order it was asked for.
type outgoing struct {
	entry   []string // XADD values
	channel string   // PUBLISH
	payload []byte
	key     string // SET key value PX ttl, or DEL key when value is ""
	value   string
	ttl     time.Duration
	failed  func() // when it could not be written
}

func newNode(cfg Config, onClose func(*Node)) *Node {
	n := &Node{
		cfg: cfg, uid: newUID(), onClose: onClose,
		adapters: make(map[string]*Adapter), channels: make(map[string]*Adapter),
		out: make(chan outgoing, 8192), stop: make(chan struct{}), advanced: make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.readCtx, n.readCancel = context.WithCancel(n.ctx)
	n.outage.Logger = cfg.Logger
	n.outage.DownMsg = "redis_streams: Redis unreachable; broadcasts stay on this server and reconnecting clients get fresh sockets until it is back"
	n.outage.UpMsg, n.outage.UpLevel = "redis_streams: Redis reachable again", zapcore.WarnLevel
	n.malformed.Logger, n.malformed.Prefix, n.malformed.Field = cfg.Logger, "redis_streams: ", "where"
	n.pubsub = cfg.Client.Subscribe(n.ctx)
	n.wg.Add(4)
	go n.readLoop()
	go n.writeLoop()
	go n.receiveLoop()
	go n.refreshLoop()
	return n
}

// UID is the server's id in the cluster messages.
func (n *Node) UID() string { return n.uid }

// newUID is a random id like Node's randomBytes(8).toString("hex").
func newUID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	const hex = "0123456789abcdef"
	out := make([]byte, 16)
	for i, c := range b {
		out[2*i], out[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(out)
}

func (n *Node) adapter(nsp *socketio.Namespace) *Adapter {
	a := newAdapter(n, nsp)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		a.closed = true
		return a
	}
	n.adapters[nsp.Name()] = a
	n.channels[a.public] = a
	n.channels[a.private] = a
	n.mu.Unlock()
	// go-redis keeps the channels and subscribes again after a
	// reconnection, so an error now (Redis down) is not final.
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	if err := n.pubsub.Subscribe(ctx, a.public, a.private); err != nil {
		n.outage.Down(err)
	}
	return a
}

// release forgets a closed adapter; the last one closes the node.
func (n *Node) release(a *Adapter) {
	n.mu.Lock()
	if n.adapters[a.nsp.Name()] == a {
		delete(n.adapters, a.nsp.Name())
		delete(n.channels, a.public)
		delete(n.channels, a.private)
	}
	last := len(n.adapters) == 0
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, time.Second)
	_ = n.pubsub.Unsubscribe(ctx, a.public, a.private)
	cancel()
	if last {
		n.close()
	}
}

func (n *Node) adapterOf(nsp string) *Adapter {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.adapters[nsp]
}

func (n *Node) allAdapters() []*Adapter {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Adapter, 0, len(n.adapters))
	for _, a := range n.adapters {
		out = append(out, a)
	}
	return out
}

// close stops the goroutines; what is queued for Redis is written first
// (the sessions of the sockets a shutdown closed, among others), for at
// most two seconds.
func (n *Node) close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.mu.Unlock()
	close(n.stop)
	n.readCancel()
	_ = n.pubsub.Close()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	n.cancel()
	<-done
	if n.onClose != nil {
		n.onClose(n)
	}
}

// send queues a write; when the queue is full or Redis is known to be
// down, failed runs at once instead.
func (n *Node) send(o outgoing) {
	if !n.outage.IsDown() {
		select {
		case n.out <- o:
			return
		default:
			n.malformed.Log("write queue to Redis full; message not sent", n.cfg.StreamName, nil)
		}
	}
	if o.failed != nil {
		o.failed()
	}
}

// writeLoop writes the queued messages in order, many per round trip.
func (n *Node) writeLoop() {
	defer n.wg.Done()
	batch := make([]outgoing, 0, 128)
	for {
		var o outgoing
		select {
		case o = <-n.out:
		case <-n.stop:
			// Drain what is left, then stop.
			for {
				select {
				case o = <-n.out:
					n.write(append(batch[:0], o))
				default:
					return
				}
			}
		}
		batch = append(batch[:0], o)
	fill:
		for len(batch) < cap(batch) {
			select {
			case o = <-n.out:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		n.write(batch)
	}
}

func (n *Node) write(batch []outgoing) {
	pipe := n.cfg.Client.Pipeline()
	cmds := make([]redis.Cmder, len(batch))
	for i, o := range batch {
		switch {
		case o.entry != nil:
			cmds[i] = pipe.XAdd(n.ctx, &redis.XAddArgs{Stream: n.cfg.StreamName, MaxLen: n.cfg.MaxLen, Approx: true, Values: o.entry})
		case o.channel != "":
			cmds[i] = pipe.Publish(n.ctx, o.channel, o.payload)
		case o.value != "":
			cmds[i] = pipe.Set(n.ctx, o.key, o.value, o.ttl)
		default:
			cmds[i] = pipe.Del(n.ctx, o.key)
		}
	}
	_, err := pipe.Exec(n.ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		failedAll := true
		for _, c := range cmds {
			if c.Err() == nil {
				failedAll = false
			}
		}
		if failedAll {
			n.outage.Down(err)
		}
	} else {
		n.outage.Up()
	}
	for i, c := range cmds {
		if c.Err() != nil && batch[i].failed != nil {
			batch[i].failed()
		}
	}
}

// readLoop reads the stream from where it stood when the node started,
// and delivers each entry in order.
//
// The broadcasts it reads are queued on their receivers in one
// engine.Batch and written after, one write per receiver for all of them
// instead of one per entry. After a read that returned entries comes one
// that does not block, whose entries join the batch; the batch is written
// at the first read that finds nothing new, or once it holds ReadCount
// entries. This is for a pipeline of XADDs (another node's, or this node's
// own writeLoop's), which wakes a blocked XREAD with its first entry
// alone: the rest would otherwise go out in a second write to every
// receiver. A batch thus holds back no more entries than one full read
// can return, and each look costs one round trip to Redis.
func (n *Node) readLoop() {
	defer n.wg.Done()
	var (
		b     rediscluster.Backoff
		batch engine.Batch
		held  int64 // entries queued in batch, not yet flushed
	)
	defer batch.Flush()
	flush := func() {
		batch.Flush()
		held = 0
	}
	for {
		select {
		case <-n.stop:
			return
		default:
		}
		if !n.isKnown() {
			last, err := n.streamEnd()
			if err != nil {
				n.outage.Down(err)
				if !b.Wait(n.stop) {
					return
				}
				continue
			}
			n.deliverMu.Lock()
			n.last, n.known = last, true
			n.advanceLocked()
			n.deliverMu.Unlock()
		}
		n.deliverMu.Lock()
		from := n.last
		n.deliverMu.Unlock()
		block := n.cfg.BlockTime
		if held > 0 {
			block = -1 // no BLOCK: answered at once
		}
		res, err := n.cfg.Client.XRead(n.readCtx, &redis.XReadArgs{
			Streams: []string{n.cfg.StreamName, from.String()}, Count: n.cfg.ReadCount - held, Block: block,
		}).Result()
		if errors.Is(err, redis.Nil) {
			n.outage.Up()
			flush()
			continue
		}
		if err != nil {
			flush()
			if n.readCtx.Err() != nil {
				return
			}
			n.outage.Down(err)
			if !b.Wait(n.stop) {
				return
			}
			continue
		}
		n.outage.Up()
		b.Reset()
		before := held
		for _, s := range res {
			for _, x := range s.Messages {
				n.deliver(&batch, x)
				held++
			}
		}
		if held == before || held >= n.cfg.ReadCount {
			flush()
		}
	}
}

func (n *Node) isKnown() bool {
	n.deliverMu.Lock()
	defer n.deliverMu.Unlock()
	return n.known
}

// streamEnd is the id of the stream's last entry, 0-0 when it has none.
func (n *Node) streamEnd() (streamID, error) {
	msgs, err := n.cfg.Client.XRevRangeN(n.readCtx, n.cfg.StreamName, "+", "-", 1).Result()
	if err != nil {
		return streamID{}, err
	}
	if len(msgs) == 0 {
		return streamID{}, nil
	}
	id, ok := parseID(msgs[0].ID)
	if !ok {
		return streamID{}, errors.New("stream entry id " + msgs[0].ID + " is not <ms>-<seq>")
	}
	return id, nil
}

// deliver hands one entry to the adapter of its namespace; the writes of
// a broadcast start at batch's Flush.
func (n *Node) deliver(batch *engine.Batch, x redis.XMessage) {
	id, ok := parseID(x.ID)
	m, err := decodeEntry(x.Values)
	n.deliverMu.Lock()
	defer n.deliverMu.Unlock()
	if ok && n.last.less(id) {
		n.last = id
		n.advanceLocked()
	}
	if err != nil {
		n.malformed.Log("malformed stream entry dropped", x.ID, err)
		return
	}
	if a := n.adapterOf(m.Nsp); a != nil {
		a.onEntry(batch, m, x.ID)
	}
}

// advanceLocked wakes those waiting for the reader to move on; deliverMu
// is held.
func (n *Node) advanceLocked() {
	close(n.advanced)
	n.advanced = make(chan struct{})
}

// waitPast waits until the reader has delivered entry id, or ctx ends.
func (n *Node) waitPast(ctx context.Context, id streamID) error {
	for {
		n.deliverMu.Lock()
		pos, known, advanced := n.last, n.known, n.advanced
		n.deliverMu.Unlock()
		if known && !pos.less(id) {
			return nil
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return fmt.Errorf("this server's reading of the stream is behind entry %s: %w", id, ctx.Err())
		}
	}
}

// position is where the stream stands for this node; "" until known.
func (n *Node) position() (streamID, bool) {
	n.deliverMu.Lock()
	defer n.deliverMu.Unlock()
	return n.last, n.known
}

// receiveLoop takes the pub/sub messages: requests, answers, broadcasts
// with acknowledgements.
func (n *Node) receiveLoop() {
	defer n.wg.Done()
	ch := n.pubsub.Channel(redis.WithChannelSize(1024))
	for {
		select {
		case <-n.stop:
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			n.mu.Lock()
			a := n.channels[msg.Channel]
			n.mu.Unlock()
			if a == nil {
				continue
			}
			m, err := decodePubSub([]byte(msg.Payload))
			if err != nil {
				n.malformed.Log("malformed message from Redis dropped", msg.Channel, err)
				continue
			}
			a.onMessage(m)
		}
	}
}

// refreshLoop writes the sessions of connected sockets again, so that
// they outlive the server only by max_disconnection_duration should it die.
func (n *Node) refreshLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.SessionRefresh)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			for _, a := range n.allAdapters() {
				a.refreshSessions()
			}
		}
	}
}
