package redisstreams

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// addInOneRead appends the broadcasts ["n", from..to] to room1 to the
// stream as another node writes them, in one MULTI, so that the node's
// blocked XREAD gets them all at once (Redis serves a blocked reader after
// EXEC, not after each XADD), and returns their entry ids.
func addInOneRead(t *testing.T, rc *redis.Client, from, to int) []string {
	t.Helper()
	var cmds []*redis.StringCmd
	_, err := rc.TxPipelined(context.Background(), func(p redis.Pipeliner) error {
		for i := from; i <= to; i++ {
			data := fmt.Sprintf(`{"packet":{"type":2,"data":["n",%d],"nsp":"/"},"opts":{"rooms":["room1"],"except":[],"flags":{}}}`, i)
			cmds = append(cmds, p.XAdd(context.Background(), &redis.XAddArgs{
				Stream: "socket.io", Values: []string{"uid", "another-node", "nsp", "/", "type", "3", "data", data},
			}))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(cmds))
	for i, c := range cmds {
		ids[i] = c.Val()
	}
	return ids
}

// offsetsOf lists the "n" events a client printed since from, as
// "n <arg> <offset>".
func offsetsOf(got []map[string]any) []string {
	var out []string
	for _, m := range got {
		if args, _ := m["args"].([]any); m["event"] == "n" && len(args) == 2 {
			out = append(out, fmt.Sprintf("n %v %v", args[0], args[1]))
		}
	}
	return out
}

func wantOffsets(from int, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprintf("n %d %s", from+i, id)
	}
	return out
}

// The broadcasts of one stream read are queued on every receiver before
// any is written (one write per receiver for the whole read): each client
// still gets every one of them once, in stream order, each with its own
// entry id as offset, and one that drops right after recovers from the
// last of them with only what came later.
func TestBroadcastsOfOneReadArriveInOrderOnceWithTheirOffsets(t *testing.T) {
	redisAddr, rc := startRedis(t)
	goN := startGoNode(t, redisAddr, nil)
	proxy := testpeer.StartCutProxy(t, goN.addr)
	dropping, _ := startNode(t, "client.js", "URL="+proxy.URL())
	staying, _ := startNode(t, "client.js", "URL=http://"+goN.addr)

	first, next := dropping.Wait(t, 0, "first connect", testpeer.Has("connect"))
	id := first["connect"].(string)
	goN.waitNote(t, "connect "+id)
	other, _ := staying.Wait(t, 0, "first connect", testpeer.Has("connect"))
	goN.waitNote(t, "connect "+other["connect"].(string))

	ids := addInOneRead(t, rc, 1, 40)
	_, next = dropping.Wait(t, next, "the last of the read", func(m map[string]any) bool {
		args, _ := m["args"].([]any)
		return m["event"] == "n" && len(args) > 0 && args[0] == float64(40)
	})
	if got, want := offsetsOf(dropping.Since(0)), wantOffsets(1, ids); !slices.Equal(got, want) {
		t.Fatalf("the client got %q, want %q", got, want)
	}

	proxy.Cut()
	goN.waitNote(t, "disconnect "+id+" transport close")
	missed := addInOneRead(t, rc, 41, 50)
	proxy.Restore()
	back, next := dropping.Wait(t, next, "reconnect", testpeer.Has("connect"))
	if back["connect"] != id || back["recovered"] != true {
		t.Fatalf("client came back as %v, want id %s recovered", back, id)
	}
	_ = goN.io.To("room1").Emit("bye")
	dropping.Wait(t, next, "bye", isEvent("bye"))
	staying.Wait(t, 0, "bye", isEvent("bye"))
	all := append(slices.Clone(ids), missed...)
	if got, want := offsetsOf(dropping.Since(0)), wantOffsets(1, all); !slices.Equal(got, want) {
		t.Errorf("the recovered client got %q in all, want %q", got, want)
	}
	if got, want := offsetsOf(staying.Since(0)), wantOffsets(1, all); !slices.Equal(got, want) {
		t.Errorf("the client that stayed got %q, want %q", got, want)
	}
}
