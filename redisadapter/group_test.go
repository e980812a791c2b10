package redisadapter

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

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
