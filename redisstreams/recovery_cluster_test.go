package redisstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

var offsetPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// eventsOf lists the events a client printed (name, then arguments, the
// offset checked and dropped), up to the first "bye".
func eventsOf(t *testing.T, got []map[string]any) []string {
	t.Helper()
	var out []string
	for _, m := range got {
		name, ok := m["event"].(string)
		if !ok {
			continue
		}
		args, _ := m["args"].([]any)
		if len(args) == 0 {
			t.Errorf("event %s came without offset", name)
			continue
		}
		if off, _ := args[len(args)-1].(string); !offsetPattern.MatchString(off) {
			t.Errorf("event %s: last argument %v is no stream offset", name, args[len(args)-1])
		}
		out = append(out, fmt.Sprintf("%s %v", name, args[:len(args)-1]))
		if name == "bye" {
			break
		}
	}
	return out
}

// waitStream waits until the stream holds n entries more than it had.
func waitStream(t *testing.T, c *redis.Client, before int64, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, _ := c.XLen(context.Background(), "socket.io").Result()
		if l >= before+n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream has %d entries, want %d", l, before+n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func xlen(c *redis.Client) int64 {
	l, _ := c.XLen(context.Background(), "socket.io").Result()
	return l
}

// A client connected to our node loses its connection; while it is away
// both nodes broadcast to its room; it comes back through the same URL to
// the Node node, which restores its id, rooms and data and replays what
// it missed, in order, once.
func TestClientRecoversFromGoNodeOntoNodeNode(t *testing.T) {
	redisAddr, rc := startRedis(t)
	goN := startGoNode(t, redisAddr, nil)
	nodeAddr, nodeLines := startNodeServer(t, redisAddr)
	proxy := testpeer.StartCutProxy(t, goN.addr)
	client, _ := startNode(t, "client.js", "URL="+proxy.URL())

	first, next := client.Wait(t, 0, "first connect", testpeer.Has("connect"))
	id := first["connect"].(string)
	goN.waitNote(t, "connect "+id)
	if err := goN.io.To("room1").Emit("before", 1); err != nil {
		t.Fatal(err)
	}
	_, next = client.Wait(t, next, "before", isEvent("before"))
	away := next // the missed events come before the connect event

	proxy.Cut()
	goN.waitNote(t, "disconnect "+id+" transport close")
	before := xlen(rc)
	_ = goN.io.To("room1").Emit("missed", 1)
	_ = goN.io.Of("/").Except("room1").Emit("not-for-it", 0)
	_ = goN.io.To("room1").Emit("missed", 2, map[string]any{"n": 2})
	waitStream(t, rc, before, 3)
	proxy.RestoreTo(nodeAddr)

	back, next := client.Wait(t, next, "reconnect", testpeer.Has("connect"))
	if back["connect"] != id || back["recovered"] != true {
		t.Fatalf("client came back as %v, want id %s recovered", back, id)
	}
	m, _ := nodeLines.Wait(t, 0, "the recovered socket", func(m map[string]any) bool { return m["connect"] == id })
	wantRooms := []string{id, "room1"}
	slices.Sort(wantRooms)
	if m["recovered"] != true || fmt.Sprint(m["rooms"]) != fmt.Sprint(wantRooms) || fmt.Sprint(m["data"]) != "map[name:ann]" {
		t.Errorf("Node restored %v, want recovered, rooms [%s room1], data {name: ann}", m, id)
	}
	// Rooms live on: a broadcast to room1 from our node reaches it.
	_ = goN.io.To("room1").Emit("after", 3)
	_ = goN.io.To(id).Emit("bye")
	client.Wait(t, next, "bye", isEvent("bye"))
	got := eventsOf(t, client.Since(away))
	want := []string{"missed [1]", "missed [2 map[n:2]]", "after [3]", "bye []"}
	if !slices.Equal(got, want) {
		t.Errorf("after reconnecting the client got %q, want %q", got, want)
	}
}

// The other way: a client of the Node node recovers on ours, with the
// broadcasts of both nodes it missed.
func TestClientRecoversFromNodeNodeOntoGoNode(t *testing.T) {
	redisAddr, rc := startRedis(t)
	goN := startGoNode(t, redisAddr, nil)
	nodeAddr, nodeLines := startNodeServer(t, redisAddr)
	proxy := testpeer.StartCutProxy(t, nodeAddr)
	client, _ := startNode(t, "client.js", "URL="+proxy.URL())

	first, next := client.Wait(t, 0, "first connect", testpeer.Has("connect"))
	id := first["connect"].(string)
	nodeLines.Wait(t, 0, "connect", func(m map[string]any) bool { return m["connect"] == id })
	_ = goN.io.To("room1").Emit("before", 1)
	_, next = client.Wait(t, next, "before", isEvent("before"))
	away := next // the missed events come before the connect event

	proxy.Cut()
	nodeLines.Wait(t, 0, "disconnect", func(m map[string]any) bool { return m["disconnect"] == id })
	before := xlen(rc)
	_ = goN.io.To("room1").Emit("missed", 1)
	_ = goN.io.To("room2").Emit("not-for-it", 0)
	_ = goN.io.To("room1").Emit("missed", 2)
	waitStream(t, rc, before, 3)
	proxy.RestoreTo(goN.addr)

	back, next := client.Wait(t, next, "reconnect", testpeer.Has("connect"))
	if back["connect"] != id || back["recovered"] != true {
		t.Fatalf("client came back as %v, want id %s recovered", back, id)
	}
	goN.waitNote(t, "connect "+id+" recovered=true")
	s := goN.io.Of("/").Socket(id)
	if s == nil {
		t.Fatal("the recovered socket is not on our node")
	}
	rooms := s.Rooms()
	slices.Sort(rooms)
	wantRooms := []string{id, "room1"}
	slices.Sort(wantRooms)
	if data, _ := s.Data().(json.RawMessage); !slices.Equal(rooms, wantRooms) || string(data) != `{"name":"ann"}` {
		t.Errorf("restored rooms %q data %s, want [%s room1] {\"name\":\"ann\"}", rooms, s.Data(), id)
	}
	_ = goN.io.To("room1").Emit("after", 3)
	_ = goN.io.To(id).Emit("bye")
	client.Wait(t, next, "bye", isEvent("bye"))
	got := eventsOf(t, client.Since(away))
	want := []string{"missed [1]", "missed [2]", "after [3]", "bye []"}
	if !slices.Equal(got, want) {
		t.Errorf("after reconnecting the client got %q, want %q", got, want)
	}
}
