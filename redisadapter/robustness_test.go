package redisadapter

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func rawClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Anyone who can PUBLISH can send garbage: it is logged and dropped, and
// the server goes on serving the next message.
func TestGarbageFromRedisIsDroppedAndTheNextMessageServed(t *testing.T) {
	r := startRedis(t)
	core, logs := observer.New(zap.WarnLevel)
	g := startGoNodeWith(t, Config{Logger: zap.New(core), MaxMessageSize: 4096}, r.Addr(), "/")
	p := startNodePeer(t)
	p.connect("g", g.URL, 4, "/")
	p.do("join", map[string]any{"name": "g", "rooms": []string{"room"}}, nil)
	rc := rawClient(t, r.Addr())
	ctx := context.Background()

	valid := func(event string, extra int) []byte {
		b, err := encodeBroadcast(&BroadcastMessage{UID: "other", Packet: Packet{Type: 2, Nsp: "/", Event: event, ID: -1,
			Args: rawArgs(`"` + strings.Repeat("x", extra) + `"`)}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	garbage := [][]byte{
		nil, {0xc1}, {0x93}, {0xdd, 0xff, 0xff, 0xff, 0xff}, bytes.Repeat([]byte{0x91}, 100000),
		[]byte("not msgpack at all"), []byte(`{"type":`), []byte(`{"type":"x"}`), []byte(`{"type":7,"opts":1}`),
		[]byte(`{"type":6,"data":[]}`), []byte(`{"requestId":5,"type":9}`), valid("x", 0)[:10],
	}
	for _, ch := range []string{"socket.io#/#", "socket.io#/#room#", "socket.io-request#/#", "socket.io-response#/#"} {
		for _, b := range garbage {
			if err := rc.Publish(ctx, ch, b).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Too large: refused before decoding, although well-formed.
	if err := rc.Publish(ctx, "socket.io#/#room#", valid("big", 5000)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.Publish(ctx, "socket.io#/#room#", valid("fine", 1)).Err(); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "g", p.take("g", 1), `fine ["x"]`)
	waitFor(t, "the refusal is logged", func() bool {
		return logs.FilterMessageSnippet("too large").Len()+logs.FilterMessageSnippet("malformed").Len() >= 1
	})
	// Logging is throttled: one line for the whole burst.
	if n := logs.Len(); n > 2 {
		t.Errorf("%d log lines for one burst of garbage; want at most 2", n)
	}
}

func rawArgs(list ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(list))
	for i, s := range list {
		out[i] = json.RawMessage(s)
	}
	return out
}

// Close unsubscribes at once: the other servers count one server less.
func TestCloseUnsubscribesAtOnce(t *testing.T) {
	r := startRedis(t)
	g := startGoNode(t, r.Addr(), "/", "/chat")
	rc := rawClient(t, r.Addr())
	ctx := context.Background()
	count := func() int64 {
		n, err := rc.PubSubNumSub(ctx, "socket.io-request#/chat#").Result()
		if err != nil {
			t.Fatal(err)
		}
		return n["socket.io-request#/chat#"]
	}
	waitFor(t, "subscribed", func() bool { return count() == 1 })
	ctxT, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := g.io.Shutdown(ctxT); err != nil {
		t.Fatal(err)
	}
	if err := g.cluster.Close(); err != nil {
		t.Fatal(err)
	}
	// Redis notices the closed connection as soon as it reads from it.
	waitFor(t, "no subscriber left", func() bool { return count() == 0 })
	pats, err := rc.PubSubNumPat(ctx).Result()
	if err != nil || pats != 0 {
		t.Errorf("%d pattern subscriptions after Close (%v); want 0", pats, err)
	}
}

// A namespace adapter closed alone unsubscribes its own channels only.
func TestAdapterCloseUnsubscribesItsNamespace(t *testing.T) {
	r := startRedis(t)
	g := startGoNode(t, r.Addr(), "/", "/chat")
	rc := rawClient(t, r.Addr())
	ctx := context.Background()
	numsub := func(ch string) int64 {
		n, _ := rc.PubSubNumSub(ctx, ch).Result()
		return n[ch]
	}
	waitFor(t, "subscribed", func() bool { return numsub("socket.io-request#/chat#") == 1 })
	if err := g.io.Of("/chat").Adapter().Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/chat unsubscribed", func() bool { return numsub("socket.io-request#/chat#") == 0 })
	if numsub("socket.io-request#/#") != 1 {
		t.Error("closing /chat unsubscribed / too")
	}
}
