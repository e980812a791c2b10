package redisadapter

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func TestStatsCountPublishesRequestsAndDrops(t *testing.T) {
	r := startRedis(t)
	g, err := NewGroup(ClientConfig{Addresses: []string{r.Addr()}}, Config{RequestsTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	start := func() *socketio.Server {
		srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{Adapter: g.Adapter})
		hs := httptest.NewServer(srv)
		t.Cleanup(hs.Close)
		return srv
	}
	a, b := start(), start()
	ctx := context.Background()
	waitFor(t, "two nodes", func() bool {
		n, _ := a.Of("/").Adapter().ServerCount(ctx)
		return n == 2
	})
	if b.Of("/") == nil {
		t.Fatal("no main namespace")
	}
	if _, err := a.Of("/").FetchSockets(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Of("/").Emit("hello"); err != nil {
		t.Fatal(err)
	}
	st, ok := StatsOf(a)
	if !ok {
		t.Fatal("no stats for a server of the group")
	}
	// The request, b's answer is b's; then the broadcast.
	waitFor(t, "the request and the broadcast published", func() bool { return st.Snapshot().Published == 2 })
	s := st.Snapshot()
	if s.Requests != 1 || s.Timeouts != 0 || s.LatencyCounts[len(LatencyBuckets)-1] != 1 || s.LatencySum <= 0 {
		t.Errorf("requests: %+v", s)
	}

	// Redis gone: emits are dropped, and counted.
	r.Kill()
	waitFor(t, "emits dropped while Redis is down", func() bool {
		_ = a.Of("/").Emit("lost")
		return st.Snapshot().Dropped > 0
	})
	if got := st.Snapshot().Published; got != 2 {
		t.Errorf("published %d during the outage, want still 2", got)
	}

	// A move to new settings keeps the totals.
	r2 := startRedis(t)
	g2, err := NewGroup(ClientConfig{Addresses: []string{r2.Addr()}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	g2.Adopt(a)
	if st2, _ := StatsOf(a); st2 != st {
		t.Error("the server's totals were not kept when it moved to new settings")
	}
	ctxT, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = a.Shutdown(ctxT)
	_ = b.Shutdown(ctxT)
}
