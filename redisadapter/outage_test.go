package redisadapter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Redis dies under traffic and comes back on the same port: local clients
// are served throughout, the outage is logged once, and both servers
// resubscribe, so that broadcasts cross again.
func TestRedisKilledAndRestartedUnderTraffic(t *testing.T) {
	r := startRedis(t)
	core, logs := observer.New(zap.InfoLevel)
	g := startGoNodeWith(t, Config{Logger: zap.New(core)}, r.Addr(), "/")
	p := startNodePeer(t)
	var started struct{ Port int }
	p.do("startServer", map[string]any{"redisURL": r.URL(), "nsps": []string{"/"}}, &started)
	nodeURL := fmt.Sprintf("http://127.0.0.1:%d", started.Port)
	p.connect("g", g.URL, 4, "/")
	p.connect("n", nodeURL, 4, "/")
	nsp := g.io.Of("/")

	if err := nsp.Emit("before", 1); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "g before", p.take("g", 1), "before [1]")
	expectEvents(t, "n before", p.take("n", 1), "before [1]")

	// Traffic from a goroutine all along: emits must never block or fail
	// because Redis is gone.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if err := nsp.To("nobody").Emit("noise", i); err != nil {
				t.Errorf("emit during the outage: %v", err)
				return
			}
		}
	}()

	r.Kill()
	waitFor(t, "the outage is noticed", func() bool { return g.cluster.outage.IsDown() })
	if err := nsp.Emit("during", 2); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "g during the outage", p.take("g", 1), "during [2]")
	time.Sleep(300 * time.Millisecond) // a few reconnection attempts

	r.Start()
	waitFor(t, "both servers subscribed again", func() bool {
		n, err := g.cluster.serverCount(context.Background(), channelsOf("socket.io", "/", "").request)
		return err == nil && n == 2
	})
	close(stop)
	wg.Wait()
	expectEvents(t, "n after the outage", p.take("n", 0))

	if err := nsp.Emit("after", 3); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "g after", p.take("g", 1), "after [3]")
	expectEvents(t, "n after", p.take("n", 1), "after [3]")
	p.do("nodeEmit", map[string]any{"nsp": "/", "event": "from-node"}, nil)
	expectEvents(t, "g from Node after", p.take("g", 1), "from-node []")
	expectEvents(t, "n from Node after", p.take("n", 1), "from-node []")

	if n := logs.FilterMessageSnippet("Redis unreachable").Len(); n != 1 {
		t.Errorf("outage logged %d times; want once", n)
	}
	if n := logs.FilterMessageSnippet("Redis reachable again").Len(); n != 1 {
		t.Errorf("recovery logged %d times; want once", n)
	}
}

// A server starts and serves its own clients while Redis is down, and
// joins the cluster when Redis comes up.
func TestServerStartsWhileRedisIsDown(t *testing.T) {
	r := startRedis(t)
	r.Kill()
	g := startGoNode(t, r.Addr(), "/")
	p := startNodePeer(t)
	p.connect("g", g.URL, 4, "/")
	if err := g.io.Of("/").Emit("local", 1); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "g", p.take("g", 1), "local [1]")
	r.Start()
	waitFor(t, "subscribed once Redis is up", func() bool {
		n, err := g.cluster.serverCount(context.Background(), channelsOf("socket.io", "/", "").request)
		return err == nil && n == 1
	})
}
