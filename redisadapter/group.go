package redisadapter

import (
	"errors"
	"sync"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Group gives each socketio.Server that uses it as its AdapterFactory a
// Cluster of its own, all with the same settings: two servers in one process
// are two nodes, each with its own connection and uid, as two Node
// processes would be. A server keeps its Cluster for as long as it has
// namespaces, so that a Group kept across configuration reloads keeps the
// subscriptions of the servers that live on.
type Group struct {
	client ClientConfig
	cfg    Config

	// mu guards clusters and closed.
	mu       sync.Mutex
	clusters map[*socketio.Server]*Cluster
	closed   bool
}

// NewGroup checks the client settings (without contacting Redis) and makes
// a Group; cfg.Client must be nil, each Cluster gets a client of its own.
func NewGroup(client ClientConfig, cfg Config) (*Group, error) {
	if err := client.Validate(); err != nil {
		return nil, err
	}
	if cfg.Client != nil {
		return nil, errors.New("redisadapter: a Group makes its own clients; leave Config.Client nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Group{client: client, cfg: cfg, clusters: make(map[*socketio.Server]*Cluster)}, nil
}

// Adapter is a socketio.AdapterFactory: the adapter of nsp in the Cluster of
// its server, started on first use.
func (g *Group) Adapter(nsp *socketio.Namespace) socketio.Adapter {
	srv := nsp.Server()
	g.mu.Lock()
	c := g.clusters[srv]
	if c == nil && !g.closed {
		var err error
		if c, err = g.newCluster(srv); err != nil {
			g.mu.Unlock()
			g.cfg.Logger.Error("Redis adapter not started; this server works alone", zap.Error(err))
			return socketio.NewLocalAdapter(nsp)
		}
		g.clusters[srv] = c
	}
	g.mu.Unlock()
	if c == nil { // the group is closed
		return socketio.NewLocalAdapter(nsp)
	}
	return c.Adapter(nsp)
}

func (g *Group) newCluster(srv *socketio.Server) (*Cluster, error) {
	client, err := g.client.NewClient()
	if err != nil {
		return nil, err
	}
	cfg := g.cfg
	cfg.Client = client
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	// When the server shuts down, its namespaces close their adapters and
	// the last one closes the Cluster.
	c.onEmpty = func() {
		g.mu.Lock()
		if g.clusters[srv] == c {
			delete(g.clusters, srv)
		}
		g.mu.Unlock()
		_ = c.Close()
	}
	return c, nil
}

// Close closes every Cluster of the group.
func (g *Group) Close() error {
	g.mu.Lock()
	g.closed = true
	clusters := g.clusters
	g.clusters = map[*socketio.Server]*Cluster{}
	g.mu.Unlock()
	var err error
	for _, c := range clusters {
		err = errors.Join(err, c.Close())
	}
	return err
}
