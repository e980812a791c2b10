package redisadapter

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-socketio/caddy-socketio/internal/rediscluster"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Config configures a Cluster.
type Config struct {
	// Client reaches Redis; the Cluster owns it from New on and closes it
	// in Close. Make one with ClientConfig.NewClient.
	Client redis.UniversalClient
	// KeyPrefix starts every channel name (Node's `key` option);
	// "socket.io" when empty.
	KeyPrefix string
	// RequestsTimeout bounds the wait for other servers' answers (Node's
	// `requestsTimeout`); 5 s when zero.
	RequestsTimeout time.Duration
	// MaxMessageSize refuses larger messages from Redis before decoding
	// them; 16 MiB when zero. Node sets no limit, but anyone who can
	// PUBLISH could otherwise make every node decode a huge value.
	MaxMessageSize int
	// PublishQueue is how many outgoing messages may wait for Redis; when
	// it is full (Redis is slow or down) new ones are dropped, so that an
	// emit never blocks. 8192 when zero.
	PublishQueue int
	// Logger receives the outage and malformed-message logs.
	Logger *zap.Logger

	// stats, when set, are the totals to go on counting in (a Group
	// moving a server to new settings); new ones when nil.
	stats *Stats
}

// Cluster is this server's membership in a cluster of Socket.IO servers that
// share one Redis: it owns the pub/sub connection and the publishing
// goroutine, and makes the Adapter of each namespace. Give Cluster.Adapter
// as socketio.Options.Adapter of one socketio.Server; servers must not share
// a Cluster (each is a node of its own, with its own subscriptions, so that
// the others count it), which a Group arranges.
type Cluster struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	maxSize int
	logger  *zap.Logger
	uid     string

	pubsub *redis.PubSub
	out    chan outgoing
	stop   chan struct{}
	wg     sync.WaitGroup // the receive and publish loops

	// outage tells whether Redis answered last, and logs the changes.
	outage rediscluster.Outage

	// mu guards the routing tables, which the receive loop reads.
	mu       sync.RWMutex
	patterns map[string]*Adapter // broadcast pattern -> namespace adapter
	direct   map[string]*Adapter // request and response channels -> adapter
	closed   bool

	stats     *Stats
	stopped   atomic.Bool   // Close has begun; nothing is published any more
	dropped   atomic.Uint64 // messages not published because the queue was full
	malformed rediscluster.ThrottledLog

	// onEmpty, when set, is called once the last namespace adapter has
	// closed or moved away (a Group closes the Cluster then); group is the
	// Group that made the Cluster, if any.
	onEmpty func()
	group   *Group
}

// outgoing is one PUBLISH waiting in the queue.
type outgoing struct {
	channel string
	payload []byte
	at      time.Time // when it was queued
}

// New starts a Cluster: it connects in the background, so that a server
// starts and serves its own clients while Redis is down.
func New(cfg Config) (*Cluster, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisadapter: Config.Client is nil; make one with ClientConfig.NewClient")
	}
	c := &Cluster{
		client:   cfg.Client,
		prefix:   cfg.KeyPrefix,
		timeout:  cfg.RequestsTimeout,
		maxSize:  cfg.MaxMessageSize,
		logger:   cfg.Logger,
		uid:      newUID(),
		stop:     make(chan struct{}),
		patterns: make(map[string]*Adapter),
		direct:   make(map[string]*Adapter),
		stats:    cfg.stats,
	}
	if c.stats == nil {
		c.stats = new(Stats)
	}
	if c.prefix == "" {
		c.prefix = "socket.io"
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	if c.maxSize <= 0 {
		c.maxSize = 16 << 20
	}
	if c.logger == nil {
		c.logger = zap.NewNop()
	}
	queue := cfg.PublishQueue
	if queue <= 0 {
		queue = 8192
	}
	c.out = make(chan outgoing, queue)
	c.outage.Logger = c.logger
	c.outage.DownMsg = "Redis unreachable: messages to and from other Socket.IO servers are lost until it is back; local clients are still served"
	c.outage.UpMsg, c.outage.UpLevel, c.outage.Round = "Redis reachable again; subscriptions restored", zapcore.InfoLevel, time.Millisecond
	c.malformed.Logger, c.malformed.Field, c.malformed.CountSkipped = c.logger, "channel", true
	// A PubSub without channels does not connect until the first
	// subscription.
	c.pubsub = c.client.Subscribe(context.Background())
	c.wg.Add(2)
	go c.receiveLoop()
	go c.publishLoop()
	return c, nil
}

// UID is this server's id in the cluster, in every message it publishes;
// random for each Cluster, 6 characters as in Node.
func (c *Cluster) UID() string { return c.uid }

// newUID makes a uid like Node's uid2(6).
func newUID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [6]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// Adapter makes the adapter of a namespace, subscribing to its channels.
// It is a socketio.AdapterFactory.
func (c *Cluster) Adapter(nsp *socketio.Namespace) socketio.Adapter {
	a := newAdapter(c, nsp)
	if !c.register(a) {
		a.closed = true
	}
	return a
}

// register routes the channels of a's namespace to a and subscribes them;
// false when the Cluster is closed.
func (c *Cluster) register(a *Adapter) bool {
	ch := a.b().ch
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.patterns[ch.pattern] = a
	for _, name := range []string{ch.request, ch.response, ch.specificResponse} {
		c.direct[name] = a
	}
	c.mu.Unlock()
	// Subscribing records the channels in the PubSub even when Redis is
	// down; they are subscribed on every (re)connection.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	err := errors.Join(c.pubsub.PSubscribe(ctx, ch.pattern),
		c.pubsub.Subscribe(ctx, ch.request, ch.response, ch.specificResponse))
	if err != nil {
		c.outage.Down(err)
	}
	return true
}

// remove forgets a closed namespace adapter and unsubscribes its channels.
func (c *Cluster) remove(a *Adapter, ch channels) {
	c.mu.Lock()
	if c.patterns[ch.pattern] == a {
		delete(c.patterns, ch.pattern)
		for _, name := range []string{ch.request, ch.response, ch.specificResponse} {
			delete(c.direct, name)
		}
	}
	closed, empty := c.closed, len(c.patterns) == 0
	c.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	_ = c.pubsub.PUnsubscribe(ctx, ch.pattern)
	_ = c.pubsub.Unsubscribe(ctx, ch.request, ch.response, ch.specificResponse)
	if empty && c.onEmpty != nil {
		c.onEmpty()
	}
}

// Close unsubscribes (closing the pub/sub connection, so that other servers
// count one server less at once), stops the loops, and closes the client.
// Messages still queued are published first, for at most a second.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.stopped.Store(true)
	adapters := make([]*Adapter, 0, len(c.patterns))
	for _, a := range c.patterns {
		adapters = append(adapters, a)
	}
	c.mu.Unlock()
	for _, a := range adapters {
		a.cancelPending()
	}
	err := c.pubsub.Close()
	close(c.stop)
	c.wg.Wait()
	return errors.Join(err, c.client.Close())
}

// publish queues a message; it never blocks. It reports false when the
// message was dropped because the queue is full.
func (c *Cluster) publish(channel string, payload []byte) bool {
	if c.stopped.Load() {
		return false // closed: the server works alone
	}
	select {
	case c.out <- outgoing{channel, payload, time.Now()}:
		return true
	default:
		c.stats.dropped.Add(1)
		if c.dropped.Add(1) == 1 {
			c.outage.Down(errQueueFull)
		}
		return false
	}
}

var errQueueFull = errors.New("publish queue full; messages to other servers are being dropped")

// publishLoop sends queued messages, pipelining whatever has accumulated.
// While Redis is down it drops them, and checks once a second whether Redis
// is back: messages between servers published during an outage are lost
// (as with Node), rather than delivered late in a burst once Redis is back.
// Owned by the Cluster: Close stops it after a last flush.
func (c *Cluster) publishLoop() {
	defer c.wg.Done()
	batch := make([]outgoing, 0, 64)
	var lastProbe time.Time
	drop := func() {
		c.dropped.Add(uint64(len(batch)))
		c.stats.dropped.Add(uint64(len(batch)))
		clear(batch)
		batch = batch[:0]
	}
	flush := func(ctx context.Context) {
		if len(batch) == 0 {
			return
		}
		if c.outage.IsDown() && time.Since(lastProbe) >= time.Second {
			lastProbe = time.Now()
			if c.client.Ping(ctx).Err() == nil {
				c.outage.Up()
			}
		}
		upSince, down := c.outage.State()
		if down {
			drop()
			return
		}
		pipe := c.client.Pipeline()
		n := 0
		for _, m := range batch {
			if m.at.Before(upSince) {
				continue // queued during the outage
			}
			pipe.Publish(ctx, m.channel, m.payload)
			n++
		}
		if n == 0 {
			drop()
			return
		}
		c.stats.dropped.Add(uint64(len(batch) - n))
		_, err := pipe.Exec(ctx)
		if err != nil && !errors.Is(err, redis.ErrClosed) {
			c.outage.Down(err)
		}
		if err == nil {
			c.stats.published.Add(uint64(n))
		} else {
			c.stats.dropped.Add(uint64(n))
		}
		clear(batch)
		batch = batch[:0]
	}
	for {
		select {
		case m := <-c.out:
			batch = append(batch, m)
		more:
			for len(batch) < cap(batch) {
				select {
				case m := <-c.out:
					batch = append(batch, m)
				default:
					break more
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			flush(ctx)
			cancel()
		case <-c.stop:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			for {
				select {
				case m := <-c.out:
					batch = append(batch, m)
					if len(batch) == cap(batch) {
						flush(ctx)
					}
				default:
					flush(ctx)
					return
				}
			}
		}
	}
}

// receiveLoop reads the pub/sub connection and hands each message to its
// namespace adapter. go-redis reconnects and resubscribes by itself; this
// loop waits between attempts while Redis is down, and pings when idle so
// that a dead connection is noticed. Owned by the Cluster: Close ends it by
// closing the PubSub.
func (c *Cluster) receiveLoop() {
	defer c.wg.Done()
	ctx := context.Background()
	var backoff rediscluster.Backoff
	for {
		msg, err := c.pubsub.ReceiveTimeout(ctx, 15*time.Second)
		if err != nil {
			if c.isClosed() {
				return
			}
			var netErr interface{ Timeout() bool }
			if errors.As(err, &netErr) && netErr.Timeout() {
				// Idle: a ping answered proves the connection alive; one
				// that fails makes go-redis reconnect on the next read.
				_ = c.pubsub.Ping(ctx)
				continue
			}
			if errors.Is(err, redis.ErrClosed) {
				return
			}
			c.outage.Down(err)
			select {
			case <-time.After(backoff.Next()):
			case <-c.stop:
				return
			}
			continue
		}
		backoff.Reset()
		switch m := msg.(type) {
		case *redis.Message:
			c.outage.Up()
			c.dispatch(m)
		case *redis.Subscription, *redis.Pong:
			c.outage.Up()
		}
	}
}

// adapters lists the namespace adapters in the Cluster.
func (c *Cluster) adapters() []*Adapter {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Adapter, 0, len(c.patterns))
	for _, a := range c.patterns {
		out = append(out, a)
	}
	return out
}

func (c *Cluster) isClosed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.closed
}

// dispatch routes one message to the adapter of its namespace.
func (c *Cluster) dispatch(m *redis.Message) {
	if len(m.Payload) > c.maxSize {
		c.malformed.Log("message from Redis refused: too large", m.Channel,
			fmt.Errorf("%d bytes; the limit is %d", len(m.Payload), c.maxSize))
		return
	}
	c.mu.RLock()
	var a *Adapter
	if m.Pattern != "" {
		a = c.patterns[m.Pattern]
	} else {
		a = c.direct[m.Channel]
	}
	c.mu.RUnlock()
	if a == nil {
		return
	}
	payload := []byte(m.Payload)
	switch {
	case m.Pattern != "":
		a.onBroadcast(m.Channel, payload)
	case m.Channel == a.b().ch.request:
		a.onRequest(payload)
	default:
		a.onResponse(payload)
	}
}

// serverCount is PUBSUB NUMSUB of a request channel: the servers that
// subscribed to it, this one included. On a Redis Cluster each node counts
// its own subscribers, so the counts of the masters are added up, as Node's
// adapter does.
func (c *Cluster) serverCount(ctx context.Context, channel string) (int, error) {
	n, err := rediscluster.NumSub(ctx, c.client, channel)
	if _, cluster := c.client.(*redis.ClusterClient); err != nil && !cluster {
		c.outage.Down(err)
		return 0, fmt.Errorf("redisadapter: counting the servers: %w", err)
	}
	return n, err
}

// channelRoom extracts the room of a broadcast channel: "" for the
// namespace channel.
func channelRoom(base, channel string) string {
	room, ok := strings.CutPrefix(channel, base)
	if !ok || room == "" {
		return ""
	}
	return strings.TrimSuffix(room, "#")
}
