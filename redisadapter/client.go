package redisadapter

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// DefaultAddress is where Redis is looked for when no address is given, as
// in Node's redis client.
const DefaultAddress = "127.0.0.1:6379"

// ClientConfig says how to reach Redis. It is checked by Validate without
// contacting Redis, so that a configuration can be validated offline.
type ClientConfig struct {
	// Addresses are host:port pairs or redis:// and rediss:// URLs (the
	// latter use TLS); several addresses mean a Redis Cluster, whose nodes
	// they are. DefaultAddress when empty.
	Addresses []string
	// Username and Password authenticate (Redis 6 ACLs, or the password of
	// requirepass alone); they override those of a URL.
	Username, Password string
	// DB selects the database; Redis Cluster has only 0. Pub/sub ignores
	// databases, so this matters only to share a Redis with other data.
	DB int
	// TLS connects with TLS, as a rediss:// URL does.
	TLS bool
	// TLSConfig, when set, is used for TLS instead of the defaults.
	TLSConfig *tls.Config
}

// Validate checks the addresses and the database number.
func (c *ClientConfig) Validate() error {
	_, err := c.options()
	return err
}

// clientOptions is the parsed form of a ClientConfig.
type clientOptions struct {
	addrs              []string
	username, password string
	db                 int
	tls                *tls.Config
}

func (c *ClientConfig) options() (*clientOptions, error) {
	o := &clientOptions{db: c.DB}
	if c.DB < 0 {
		return nil, fmt.Errorf("redis db %d is negative; use 0-15 (or as many as the server's databases setting allows)", c.DB)
	}
	addrs := c.Addresses
	if len(addrs) == 0 {
		addrs = []string{DefaultAddress}
	}
	useTLS := c.TLS
	for _, a := range addrs {
		if strings.Contains(a, "://") {
			u, err := redis.ParseURL(a)
			if err != nil {
				return nil, fmt.Errorf("redis address %q: %v; write host:port, redis://[user:password@]host:port[/db] or rediss://…", redactURL(a), err)
			}
			o.addrs = append(o.addrs, u.Addr)
			if u.TLSConfig != nil {
				useTLS = true
			}
			if o.username == "" {
				o.username = u.Username
			}
			if o.password == "" {
				o.password = u.Password
			}
			if u.DB != 0 && o.db == 0 {
				o.db = u.DB
			}
			if u.Network == "unix" {
				if len(addrs) > 1 {
					return nil, fmt.Errorf("redis address %q is a Unix socket, which a Redis Cluster cannot use; give one address", a)
				}
				o.addrs[len(o.addrs)-1] = "unix:" + u.Addr
			}
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, fmt.Errorf("redis address %q: %v; write host:port, such as 127.0.0.1:6379", a, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("redis address %q: port %q is not a number from 1 to 65535", a, port)
		}
		if host == "" {
			return nil, fmt.Errorf("redis address %q has no host; write 127.0.0.1%s for this machine", a, a)
		}
		o.addrs = append(o.addrs, a)
	}
	if c.Username != "" {
		o.username = c.Username
	}
	if c.Password != "" {
		o.password = c.Password
	}
	if len(o.addrs) > 1 && o.db != 0 {
		return nil, fmt.Errorf("redis db %d with %d addresses: a Redis Cluster has only db 0", o.db, len(o.addrs))
	}
	if useTLS {
		o.tls = c.TLSConfig
		if o.tls == nil {
			o.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if o.tls.ServerName == "" && len(o.addrs) == 1 {
			o.tls = o.tls.Clone()
			o.tls.ServerName, _, _ = net.SplitHostPort(o.addrs[0])
		}
	}
	return o, nil
}

// redactURL hides the password of a URL in error messages.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		return scheme + "://[redacted]@" + rest[at+1:]
	}
	return s
}

// NewClient makes the Redis client ClientConfig describes: a cluster client
// for several addresses. It does not connect yet.
func (c *ClientConfig) NewClient() (redis.UniversalClient, error) {
	o, err := c.options()
	if err != nil {
		return nil, err
	}
	if len(o.addrs) > 1 {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:     o.addrs,
			Username:  o.username,
			Password:  o.password,
			TLSConfig: o.tls,
		}), nil
	}
	opts := &redis.Options{
		Addr:      o.addrs[0],
		Username:  o.username,
		Password:  o.password,
		DB:        o.db,
		TLSConfig: o.tls,
	}
	if addr, ok := strings.CutPrefix(o.addrs[0], "unix:"); ok {
		opts.Network, opts.Addr = "unix", addr
	}
	return redis.NewClient(opts), nil
}

var errClosed = errors.New("redisadapter: the cluster connection is closed")
