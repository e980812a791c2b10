package caddysocketio

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/redisstreams"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func init() {
	caddy.RegisterModule(RedisStreamsAdapter{})
}

// RedisStreamsAdapter is the Caddy module socketio.adapters.redis_streams:
// it joins the Socket.IO server to a cluster of servers (Caddy, or Node
// socket.io with @socket.io/redis-streams-adapter 0.3.1) that share one
// Redis stream, and keeps connection state recovery's sessions in Redis,
// so that a client recovers on any of them.
//
// The connection lives in a pool keyed by every setting: a reload with the
// same settings keeps it and the live server; other settings start a new
// server (its clients reconnect, and recover when the Redis is the same).
type RedisStreamsAdapter struct {
	// The connection options of `adapter redis` (address, username,
	// password, db, tls), and its key_prefix (Node's channelPrefix) and
	// requests_timeout.
	RedisAdapter
	// StreamName is the stream (Node's streamName), "socket.io" by default.
	StreamName string `json:"stream_name,omitempty"`
	// MaxLen trims the stream to about that many entries (Node's maxLen),
	// 10000 by default.
	MaxLen int64 `json:"max_len,omitempty"`
	// SessionKeyPrefix starts the session keys (Node's sessionKeyPrefix),
	// "sio:session:" by default.
	SessionKeyPrefix string `json:"session_key_prefix,omitempty"`

	streams *redisstreams.Group
}

// streamGroups holds the live connections by settings, across reloads.
var streamGroups = caddy.NewUsagePool()

// pooledStreams lets the pool close a Group, then its client, when its last
// user goes.
type pooledStreams struct {
	group  *redisstreams.Group
	client redis.UniversalClient
}

func (p pooledStreams) Destruct() error {
	_ = p.group.Close()
	return p.client.Close()
}

// CaddyModule returns the Caddy module information.
func (RedisStreamsAdapter) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "socketio.adapters.redis_streams",
		New: func() caddy.Module { return new(RedisStreamsAdapter) },
	}
}

// Provision resolves placeholders, checks the settings and takes the
// connection of these settings from the pool, or starts one; it does not
// wait for Redis.
func (r *RedisStreamsAdapter) Provision(ctx caddy.Context) error {
	r.logger = ctx.Logger()
	if err := r.resolveClient(); err != nil {
		return r.named(err)
	}
	if err := r.Validate(); err != nil {
		return err
	}
	r.key = r.poolKey()
	val, _, err := streamGroups.LoadOrNew(r.key, func() (caddy.Destructor, error) {
		client, err := r.client.NewClient()
		if err != nil {
			return nil, err
		}
		g, err := redisstreams.NewGroup(redisstreams.Config{
			Client: client, StreamName: r.StreamName, MaxLen: r.MaxLen, ChannelPrefix: r.KeyPrefix,
			SessionKeyPrefix: r.SessionKeyPrefix, RequestsTimeout: time.Duration(r.RequestsTimeout), Logger: r.logger,
		})
		if err != nil {
			_ = client.Close()
			return nil, err
		}
		return pooledStreams{group: g, client: client}, nil
	})
	if err != nil {
		return r.named(err)
	}
	r.streams = val.(pooledStreams).group
	return nil
}

// named says which adapter an error of the shared connection options is
// of.
func (r *RedisStreamsAdapter) named(err error) error {
	return fmt.Errorf("redis_streams adapter (%w)", err)
}

// poolKey digests every setting, the resolved password included (hashed).
func (r *RedisStreamsAdapter) poolKey() string {
	return r.settingsKey("redis_streams", r.StreamName, r.MaxLen, r.SessionKeyPrefix)
}

// Validate checks the settings without contacting Redis.
func (r *RedisStreamsAdapter) Validate() error {
	if r.MaxLen < 0 {
		return fmt.Errorf("redis_streams adapter: max_len %d must be positive", r.MaxLen)
	}
	if err := r.RedisAdapter.Validate(); err != nil {
		return r.named(err)
	}
	return nil
}

// Cleanup releases the connection; the last user closes it.
func (r *RedisStreamsAdapter) Cleanup() error {
	if r.key == "" {
		return nil
	}
	_, err := streamGroups.Delete(r.key)
	return err
}

// AdapterFactory is what the socketio handler gives its server as
// socketio.Options.Adapter.
func (r *RedisStreamsAdapter) AdapterFactory() socketio.AdapterFactory { return r.streams.Adapter }

// PoolKey holds every setting: a live server cannot move to another
// stream in place (its clients' offsets are of this one), so a reload
// that changes a setting starts a new server.
func (r *RedisStreamsAdapter) PoolKey() string { return r.key }

// Attach holds the connection of these settings for srv, a server started
// with them, until detach: a reload cleans this config up while srv lives
// on.
func (r *RedisStreamsAdapter) Attach(*socketio.Server) (detach func()) {
	if _, _, err := streamGroups.LoadOrNew(r.key, func() (caddy.Destructor, error) { return nil, errGroupGone }); err != nil {
		r.logger.Error("redis_streams adapter: the connection of these settings was closed", zap.Error(err))
		return func() {}
	}
	var once sync.Once
	return func() { once.Do(func() { _, _ = streamGroups.Delete(r.key) }) }
}

// UnmarshalCaddyfile reads the adapter's block. Syntax:
//
//	adapter redis_streams [<address>...] {
//	    address <address>...          # as in adapter redis; repeatable
//	    username <user>
//	    password <password>
//	    db <number>
//	    tls
//	    key_prefix <prefix>           # (channelPrefix) default socket.io
//	    requests_timeout <duration>   # default 5s
//	    stream_name <name>            # (streamName) default socket.io
//	    max_len <entries>             # (maxLen) default 10000
//	    session_key_prefix <prefix>   # (sessionKeyPrefix) default sio:session:
//	}
//
// Unknown subdirectives, and any but address given twice, are errors.
func (r *RedisStreamsAdapter) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	const kind = "redis_streams adapter"
	d.Next() // the module's name
	r.Addresses = append(r.Addresses, d.RemainingArgs()...)
	seen := map[string]bool{}
	for d.NextBlock(0) {
		known, err := r.unmarshalOption(d, kind, seen)
		if err != nil {
			return err
		}
		if known {
			continue
		}
		name := d.Val()
		switch name {
		case "stream_name", "max_len", "session_key_prefix":
		default:
			return d.Errf("%s: unknown option %q; known: %s, stream_name, max_len, session_key_prefix", kind, name, redisOptionNames)
		}
		if err := firstTime(d, kind, seen); err != nil {
			return err
		}
		v, err := oneValue(d, kind)
		if err != nil {
			return err
		}
		switch name {
		case "stream_name":
			if v == "" {
				return d.Errf("%s: stream_name must not be empty", kind)
			}
			r.StreamName = v
		case "session_key_prefix":
			if v == "" {
				return d.Errf("%s: session_key_prefix must not be empty (sessions would be keyed by the bare pid)", kind)
			}
			r.SessionKeyPrefix = v
		case "max_len":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return d.Errf("%s: max_len %q is not a positive number of entries such as 10000", kind, v)
			}
			r.MaxLen = n
		}
	}
	return nil
}

// Interface guards
var (
	_ caddy.Module          = (*RedisStreamsAdapter)(nil)
	_ caddy.Provisioner     = (*RedisStreamsAdapter)(nil)
	_ caddy.Validator       = (*RedisStreamsAdapter)(nil)
	_ caddy.CleanerUpper    = (*RedisStreamsAdapter)(nil)
	_ caddyfile.Unmarshaler = (*RedisStreamsAdapter)(nil)
	_ Adapter               = (*RedisStreamsAdapter)(nil)
)
