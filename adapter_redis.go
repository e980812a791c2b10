package caddysocketio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func init() {
	caddy.RegisterModule(RedisAdapter{})
}

// RedisAdapter is the Caddy module socketio.adapters.redis: it joins the
// Socket.IO server to a cluster of servers (Caddy or Node socket.io with
// @socket.io/redis-adapter) that share one Redis.
//
// The connection to Redis lives in a pool keyed by the settings, used by the
// configs that name them and by the live servers attached to them, so that
// a reload with the same settings keeps the subscriptions, and one with
// other settings moves the live servers over (Attach); the last user closes
// it, which unsubscribes at once.
type RedisAdapter struct {
	// Addresses of Redis: host:port, redis:// or rediss:// URLs. Several
	// addresses are the nodes of a Redis Cluster. 127.0.0.1:6379 when
	// empty. Placeholders such as {env.REDIS_URL} are resolved.
	Addresses []string `json:"addresses,omitempty"`
	// Username and Password authenticate; placeholders such as
	// {env.REDIS_PASSWORD} are resolved.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// DB is the database number (Redis Cluster: 0 only).
	DB int `json:"db,omitempty"`
	// TLS connects with TLS, as a rediss:// address does.
	TLS bool `json:"tls,omitempty"`
	// KeyPrefix starts the channel names (Node's `key`), "socket.io" by
	// default; every server of the cluster must use the same.
	KeyPrefix string `json:"key_prefix,omitempty"`
	// RequestsTimeout bounds the wait for the other servers' answers
	// (Node's `requestsTimeout`), 5s by default.
	RequestsTimeout caddy.Duration `json:"requests_timeout,omitempty"`

	client   redisadapter.ClientConfig // with placeholders resolved
	resolved bool                      // client is set
	key      string                    // pool key: a digest of the settings
	group    *redisadapter.Group       // owned by clusters
	logger   *zap.Logger
}

// redisLog sends go-redis's own messages (each failed dial, for one) to
// Caddy's log at debug level: the adapter logs outages itself, once.
type redisLog struct{ l *zap.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	if ce := r.l.Check(zap.DebugLevel, "go-redis"); ce != nil {
		ce.Write(zap.String("message", fmt.Sprintf(format, v...)))
	}
}

var redisLogOnce sync.Once

// clusters holds the live Redis connections by configuration, across
// reloads: a Group, which gives each Socket.IO server a connection (and a
// node id) of its own.
var clusters = caddy.NewUsagePool()

// pooledGroup lets the pool close a Group when its last user goes.
type pooledGroup struct{ *redisadapter.Group }

func (p pooledGroup) Destruct() error { return p.Close() }

// CaddyModule returns the Caddy module information.
func (RedisAdapter) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "socketio.adapters.redis",
		New: func() caddy.Module { return new(RedisAdapter) },
	}
}

// Provision resolves placeholders, checks the settings, and takes the
// cluster connection of these settings from the pool, or starts one. It
// does not wait for Redis: a server starts and serves its own clients while
// Redis is down.
func (r *RedisAdapter) Provision(ctx caddy.Context) error {
	r.logger = ctx.Logger()
	if err := r.resolveClient(); err != nil {
		return err
	}
	r.key = r.poolKey()
	return r.provisionGroup()
}

// resolveClient resolves the placeholders of the connection options and
// checks them.
func (r *RedisAdapter) resolveClient() error {
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{caddy.Log().Named("redis")}) })
	repl := caddy.NewReplacer()
	r.client = redisadapter.ClientConfig{
		Username: repl.ReplaceKnown(r.Username, ""),
		Password: repl.ReplaceKnown(r.Password, ""),
		DB:       r.DB,
		TLS:      r.TLS,
	}
	for _, a := range r.Addresses {
		r.client.Addresses = append(r.client.Addresses, repl.ReplaceKnown(a, ""))
	}
	r.resolved = true
	return r.Validate()
}

// provisionGroup takes the Group of these settings from the pool, or
// starts one.
func (r *RedisAdapter) provisionGroup() error {
	val, _, err := clusters.LoadOrNew(r.key, func() (caddy.Destructor, error) {
		g, err := redisadapter.NewGroup(r.client, redisadapter.Config{
			KeyPrefix:       r.KeyPrefix,
			RequestsTimeout: time.Duration(r.RequestsTimeout),
			Logger:          r.logger,
		})
		if err != nil {
			return nil, err
		}
		return pooledGroup{g}, nil
	})
	if err != nil {
		return err
	}
	r.group = val.(pooledGroup).Group
	return nil
}

// poolKey digests every setting, the resolved password included (hashed,
// never kept in clear), so that a changed setting gets a new connection.
func (r *RedisAdapter) poolKey() string { return r.settingsKey("redis") }

// settingsKey is kind, a colon and the digest of the resolved connection
// options, key_prefix, requests_timeout and the extra settings of the
// adapter of that kind.
func (r *RedisAdapter) settingsKey(kind string, extra ...any) string {
	b, _ := json.Marshal(append([]any{r.client.Addresses, r.client.Username, r.client.Password, r.client.DB, r.client.TLS,
		r.KeyPrefix, r.RequestsTimeout}, extra...))
	sum := sha256.Sum256(b)
	return kind + ":" + hex.EncodeToString(sum[:])
}

// Validate checks the settings without contacting Redis.
func (r *RedisAdapter) Validate() error {
	if r.RequestsTimeout < 0 {
		return fmt.Errorf("redis adapter: requests_timeout %s must be positive", time.Duration(r.RequestsTimeout))
	}
	client := r.client
	if !r.resolved {
		// Not provisioned: check the settings that hold no placeholder.
		client = redisadapter.ClientConfig{DB: r.DB, TLS: r.TLS}
		for _, a := range r.Addresses {
			if !strings.Contains(a, "{") {
				client.Addresses = append(client.Addresses, a)
			}
		}
	}
	if err := client.Validate(); err != nil {
		return fmt.Errorf("redis adapter: %w", err)
	}
	return nil
}

// Cleanup releases the cluster connection; the last config using it closes
// it.
func (r *RedisAdapter) Cleanup() error {
	if r.key == "" {
		return nil
	}
	_, err := clusters.Delete(r.key)
	return err
}

// AdapterFactory is what the socketio handler gives its server as
// socketio.Options.Adapter. Each server using it is a node of its own; a
// server moved to other settings (Attach) keeps it, and its namespaces
// created later still join the server's current connection.
func (r *RedisAdapter) AdapterFactory() socketio.AdapterFactory {
	return r.group.Adapter
}

// AdoptServer applies these settings to a live server made under an earlier
// config: call it when a reload keeps the server. With unchanged settings it
// does nothing (the subscriptions stay); with changed ones each namespace
// moves, rooms and connections included, to a connection with the new
// settings, and the old one closes.
func (r *RedisAdapter) AdoptServer(srv *socketio.Server) { r.group.Adopt(srv) }

// errGroupGone is what Attach gets when the connection of these settings
// has been closed already: its config was cleaned up before it served.
var errGroupGone = errors.New("redis adapter: the connection of these settings was closed")

// Attach adopts srv (see AdoptServer) and holds the connection of these
// settings for it: a reload cleans this config up while srv lives on, and
// the connection must stay until srv moves again or stops (detach).
func (r *RedisAdapter) Attach(srv *socketio.Server) (detach func()) {
	val, _, err := clusters.LoadOrNew(r.key, func() (caddy.Destructor, error) { return nil, errGroupGone })
	if err != nil {
		r.logger.Error("Redis adapter settings not applied; the server keeps the previous ones", zap.Error(err))
		return func() {}
	}
	val.(pooledGroup).Adopt(srv)
	var once sync.Once
	return func() { once.Do(func() { _, _ = clusters.Delete(r.key) }) }
}

// PoolKey is the adapter's kind: a live server can move to other Redis
// settings (Attach), not to another kind of adapter.
func (r *RedisAdapter) PoolKey() string { return "redis" }

// UnmarshalCaddyfile reads the adapter's block. Syntax:
//
//	adapter redis [<address>...] {
//	    address <address>...        # host:port, redis://, rediss://; several: Redis Cluster; repeatable
//	    username <user>
//	    password <password>         # {env.REDIS_PASSWORD} and other global placeholders work
//	    db <number>                 # default 0
//	    tls                         # or a rediss:// address
//	    key_prefix <prefix>         # (key) default socket.io
//	    requests_timeout <duration> # (requestsTimeout) default 5s
//	}
//
// Unknown subdirectives, and any but address given twice, are errors.
func (r *RedisAdapter) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the module's name
	r.Addresses = append(r.Addresses, d.RemainingArgs()...)
	seen := map[string]bool{}
	for d.NextBlock(0) {
		known, err := r.unmarshalOption(d, "redis adapter", seen)
		if err != nil {
			return err
		}
		if !known {
			return d.Errf("redis adapter: unknown option %q; known: %s", d.Val(), redisOptionNames)
		}
	}
	return nil
}

// redisOptionNames are the options unmarshalOption knows.
const redisOptionNames = "address, username, password, db, tls, key_prefix, requests_timeout"

// unmarshalOption reads the option at d, if it is one of the connection
// options both Redis adapters have (kind names the adapter in errors);
// seen has the options read so far, to refuse any but address twice.
func (r *RedisAdapter) unmarshalOption(d *caddyfile.Dispenser, kind string, seen map[string]bool) (bool, error) {
	name := d.Val()
	if err := firstTime(d, kind, seen); err != nil {
		return true, err
	}
	switch name {
	case "address", "addresses":
		args := d.RemainingArgs()
		if len(args) == 0 {
			return true, d.ArgErr()
		}
		r.Addresses = append(r.Addresses, args...)
	case "username", "password", "key_prefix", "requests_timeout", "db":
		v, err := oneValue(d, kind)
		if err != nil {
			return true, err
		}
		switch name {
		case "username":
			r.Username = v
		case "password":
			r.Password = v
		case "key_prefix":
			if v == "" {
				return true, d.Errf("%s: key_prefix must not be empty", kind)
			}
			r.KeyPrefix = v
		case "requests_timeout":
			dur, err := caddy.ParseDuration(v)
			if err != nil || dur <= 0 {
				return true, d.Errf("%s: requests_timeout %q is not a positive duration such as 5s", kind, v)
			}
			r.RequestsTimeout = caddy.Duration(dur)
		case "db":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return true, d.Errf("%s: db %q is not a database number such as 0", kind, v)
			}
			r.DB = n
		}
	case "tls":
		if d.NextArg() {
			return true, d.Errf("%s: tls takes no value, got %q", kind, d.Val())
		}
		r.TLS = true
	default:
		delete(seen, name)
		return false, nil
	}
	return true, nil
}

// firstTime refuses the option at d when seen has it already (address
// excepted, which adds addresses), and adds it.
func firstTime(d *caddyfile.Dispenser, kind string, seen map[string]bool) error {
	name := d.Val()
	if seen[name] && name != "address" {
		return d.Errf("%s: %s given twice; keep one", kind, name)
	}
	seen[name] = true
	return nil
}

// oneValue reads the single value of the option at d.
func oneValue(d *caddyfile.Dispenser, kind string) (string, error) {
	name := d.Val()
	var v string
	if !d.Args(&v) {
		return "", d.ArgErr()
	}
	if d.NextArg() {
		return "", d.Errf("%s: %s takes one value, got also %q", kind, name, d.Val())
	}
	return v, nil
}

// Interface guards
var (
	_ caddy.Module          = (*RedisAdapter)(nil)
	_ caddy.Provisioner     = (*RedisAdapter)(nil)
	_ caddy.Validator       = (*RedisAdapter)(nil)
	_ caddy.CleanerUpper    = (*RedisAdapter)(nil)
	_ caddyfile.Unmarshaler = (*RedisAdapter)(nil)
)
