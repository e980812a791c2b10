package redisadapter

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Two servers in one process sharing a Group are two nodes: each is
// counted, each hears the other, and one shutting down leaves the other
// subscribed.
func TestGroupMakesEachServerANode(t *testing.T) {
	r := startRedis(t)
	g, err := NewGroup(ClientConfig{Addresses: []string{r.Addr()}}, Config{RequestsTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	start := func() (*socketio.Server, *httptest.Server) {
		srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: g.Adapter})
		return srv, httptest.NewServer(srv)
	}
	a, ha := start()
	defer ha.Close()
	b, hb := start()
	defer hb.Close()
	rc := rawClient(t, r.Addr())
	ctx := context.Background()
	numsub := func() int64 {
		n, _ := rc.PubSubNumSub(ctx, "socket.io-request#/#").Result()
		return n["socket.io-request#/#"]
	}
	waitFor(t, "two nodes subscribed", func() bool { return numsub() == 2 })

	p := startNodePeer(t)
	p.connect("onB", hb.URL, 4, "/")
	if err := a.Of("/").Emit("from-a", 1); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "client of b", p.take("onB", 1), "from-a [1]")
	if n, err := a.Of("/").Adapter().ServerCount(ctx); err != nil || n != 2 {
		t.Errorf("ServerCount %d, %v; want 2", n, err)
	}

	ctxT, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctxT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a's node gone", func() bool { return numsub() == 1 })
	g.mu.Lock()
	left := len(g.clusters)
	g.mu.Unlock()
	if left != 1 {
		t.Errorf("%d clusters after one server shut down; want 1", left)
	}
	if err := b.Shutdown(ctxT); err != nil {
		t.Fatal(err)
	}
}

// A reload that changes the Redis address keeps the server and its
// connections: the server moves to the new Group with its rooms, and the
// old Redis loses the subscriptions.
func TestGroupAdoptMovesAServerWithItsRooms(t *testing.T) {
	r1, r2 := startRedis(t), startRedis(t)
	g1, err := NewGroup(ClientConfig{Addresses: []string{r1.Addr()}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer g1.Close()
	srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: g1.Adapter})
	srv.Of("/").OnConnection(func(s *socketio.Socket) { s.Join("x") })
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx := context.Background()
	rc1, rc2 := rawClient(t, r1.Addr()), rawClient(t, r2.Addr())
	numsub := func(rc *redis.Client, ch string) int64 {
		n, _ := rc.PubSubNumSub(ctx, ch).Result()
		return n[ch]
	}
	p := startNodePeer(t)
	p.connect("c", hs.URL, 4, "/")
	waitFor(t, "subscribed on the first Redis", func() bool { return numsub(rc1, "socket.io-request#/#") == 1 })

	g2, err := NewGroup(ClientConfig{Addresses: []string{r2.Addr()}}, Config{KeyPrefix: "app"})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	g2.Adopt(srv)
	if err := g1.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "moved to the second Redis", func() bool {
		return numsub(rc2, "app-request#/#") == 1 && numsub(rc1, "socket.io-request#/#") == 0
	})
	b, err := encodeBroadcast(&BroadcastMessage{UID: "emitter", Packet: Packet{Type: 2, Nsp: "/", Event: "moved", ID: -1},
		Opts: Options{Rooms: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc2.Publish(ctx, "app#/#x#", b).Err(); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "client in room x", p.take("c", 1), "moved []")
	srv.Of("/late")
	waitFor(t, "a new namespace uses the new settings", func() bool { return numsub(rc2, "app-request#/late#") == 1 })
	ctxT, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctxT); err != nil {
		t.Fatal(err)
	}
}

// Several addresses are a Redis Cluster: publishing reaches every node,
// and the server count adds up the masters' subscribers.
func TestRedisClusterWithSeveralAddresses(t *testing.T) {
	addrs := startRedisCluster(t)
	g, err := NewGroup(ClientConfig{Addresses: addrs}, Config{RequestsTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	start := func() (*socketio.Server, *httptest.Server) {
		srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: g.Adapter})
		srv.Of("/").OnConnection(func(s *socketio.Socket) { s.Join("r") })
		return srv, httptest.NewServer(srv)
	}
	a, ha := start()
	defer ha.Close()
	b, hb := start()
	defer hb.Close()
	ctx := context.Background()
	waitFor(t, "two servers counted", func() bool {
		n, err := a.Of("/").Adapter().ServerCount(ctx)
		return err == nil && n == 2
	})
	p := startNodePeer(t)
	p.connect("onA", ha.URL, 4, "/")
	p.connect("onB", hb.URL, 4, "/")
	if err := a.Of("/").To("r").Emit("hi", 1); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "client of a", p.take("onA", 1), "hi [1]")
	expectEvents(t, "client of b", p.take("onB", 1), "hi [1]")
	sockets, err := b.Of("/").FetchSockets(ctx)
	if err != nil || len(sockets) != 2 {
		t.Errorf("FetchSockets across the cluster: %d sockets, %v; want 2", len(sockets), err)
	}
	ctxT, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = a.Shutdown(ctxT)
	_ = b.Shutdown(ctxT)
}
