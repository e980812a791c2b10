package redisstreams

import (
	"context"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// On a Redis Cluster, PUBSUB NUMSUB counts only the subscribers of the
// node it is sent to, while a client's subscriptions live on one master:
// the server count and the check that a session's owner still listens add
// up the masters' counts, as Node's adapter does, so that the answer does
// not depend on which master go-redis happens to ask.
func TestServerCountOnARedisCluster(t *testing.T) {
	addrs := testpeer.RedisCluster(t)
	start := func() (*socketio.Server, *Group) {
		cfg := redisadapter.ClientConfig{Addresses: addrs}
		client, err := cfg.NewClient()
		if err != nil {
			t.Fatal(err)
		}
		g, err := NewGroup(Config{Client: client, RequestsTimeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: g.Adapter})
		srv.Of("/")
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			_ = g.Close()
			_ = client.Close()
		})
		return srv, g
	}
	a, _ := start()
	b, gb := start()
	ctx := withTimeout(t, 10*time.Second)
	waitFor(t, "both servers subscribed", func() bool {
		n, _ := a.Of("/").Adapter().ServerCount(ctx)
		return n == 2
	})
	// go-redis sends a command without a key to a master at random: ask
	// often enough that each master answers.
	for i := range 20 {
		for name, srv := range map[string]*socketio.Server{"a": a, "b": b} {
			if n, err := srv.Of("/").Adapter().ServerCount(ctx); err != nil || n != 2 {
				t.Fatalf("try %d: server %s counts %d servers (%v), want 2", i, name, n, err)
			}
		}
		alive, err := a.Of("/").Adapter().(*Adapter).nodeAlive(ctx, gb.NodeOf(b).UID())
		if err != nil || !alive {
			t.Fatalf("try %d: server b seen alive %v (%v), want true", i, alive, err)
		}
	}
}
