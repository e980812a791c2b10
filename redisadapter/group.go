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

// homes maps each socketio.Server a Group serves to its current Cluster,
// across Groups: a Group that adopts a server takes it over from the Group
// that served it, and the factory the server keeps (the old Group's) finds
// the new Cluster here for namespaces created later.
var homes sync.Map // *socketio.Server -> *Cluster

// Adapter is a socketio.AdapterFactory: the adapter of nsp in the Cluster of
// its server, started on first use.
func (g *Group) Adapter(nsp *socketio.Namespace) socketio.Adapter {
	srv := nsp.Server()
	if v, ok := homes.Load(srv); ok {
		if c := v.(*Cluster); c.group != g && !c.isClosed() {
			return c.Adapter(nsp)
		}
	}
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
		homes.Store(srv, c)
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
	if v, ok := homes.Load(srv); ok {
		cfg.stats = v.(*Cluster).stats // moved by Adopt: the totals go on
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	c.group = g
	// When the server shuts down, its namespaces close their adapters and
	// the last one closes the Cluster.
	c.onEmpty = func() {
		g.forget(srv, c)
		homes.CompareAndDelete(srv, c)
		_ = c.Close()
	}
	return c, nil
}

func (g *Group) forget(srv *socketio.Server, c *Cluster) {
	g.mu.Lock()
	if g.clusters[srv] == c {
		delete(g.clusters, srv)
	}
	g.mu.Unlock()
}

// Adopt moves a server that another Group serves into this one, when a
// configuration reload changed the settings but kept the server (and its
// connections): each namespace adapter keeps its rooms and moves to a
// Cluster with the new settings, and the old Cluster closes. Without other
// Group, or already in this one, it does nothing.
func (g *Group) Adopt(srv *socketio.Server) {
	v, ok := homes.Load(srv)
	if !ok {
		return
	}
	old := v.(*Cluster)
	if old.group == g {
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	c, err := g.newCluster(srv)
	if err != nil {
		g.mu.Unlock()
		g.cfg.Logger.Error("Redis adapter settings not applied; the server keeps the previous ones", zap.Error(err))
		return
	}
	g.clusters[srv] = c
	g.mu.Unlock()
	homes.Store(srv, c)
	old.group.forget(srv, old)
	for _, a := range old.adapters() {
		a.moveTo(c)
	}
	if len(old.adapters()) == 0 {
		_ = old.Close() // had no namespace: onEmpty did not run
	}
}

// Close closes every Cluster of the group.
func (g *Group) Close() error {
	g.mu.Lock()
	g.closed = true
	clusters := g.clusters
	g.clusters = map[*socketio.Server]*Cluster{}
	g.mu.Unlock()
	var err error
	for srv, c := range clusters {
		homes.CompareAndDelete(srv, c)
		err = errors.Join(err, c.Close())
	}
	return err
}
