package redisadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := noLeakedGoroutines(3 * time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// noLeakedGoroutines is goleak.Find, given longer than its own second or so
// of retries: after a failed dial, go-redis retries from a goroutine that
// sleeps a second between attempts (pool.tryDial) and sees its pool closed
// only when it wakes, so the outage tests leave one behind for up to a
// second after their client is closed.
func noLeakedGoroutines(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := goleak.Find()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cluster is one Redis, our node and a Node socket.io node.
type cluster struct {
	redis   *redisServer
	goN     *goNode
	node    *nodePeer
	nodeURL string
}

func startCluster(t *testing.T, nsps ...string) *cluster {
	t.Helper()
	r := startRedis(t)
	g := startGoNode(t, r.Addr(), nsps...)
	p := startNodePeer(t)
	var started struct{ Port int }
	p.do("startServer", map[string]any{"redisURL": r.URL(), "nsps": nsps}, &started)
	return &cluster{redis: r, goN: g, node: p, nodeURL: fmt.Sprintf("http://127.0.0.1:%d", started.Port)}
}

func expectEvents(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s received\n  %s\nwant\n  %s", who, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestBroadcastsCrossBetweenGoAndNodeExactlyOnce(t *testing.T) {
	c := startCluster(t, "/", "/chat")
	p := c.node
	// Clients of both protocol versions on both servers.
	p.connect("go4", c.goN.URL, 4, "/")
	p.connect("go2", c.goN.URL, 2, "/")
	p.connect("node4", c.nodeURL, 4, "/")
	p.connect("node2", c.nodeURL, 2, "/")
	p.connect("goChat", c.goN.URL, 4, "/chat")
	p.connect("nodeChat", c.nodeURL, 4, "/chat")
	for _, name := range []string{"go4", "node4", "node2"} {
		p.do("join", map[string]any{"name": name, "rooms": []string{"r1"}}, nil)
	}
	p.do("join", map[string]any{"name": "go2", "rooms": []string{"r2"}}, nil)
	everyone := []string{"go4", "go2", "node4", "node2", "goChat", "nodeChat"}
	check := func(step string, want map[string][]string) {
		t.Helper()
		got := p.takeAll(everyone, want)
		for _, name := range everyone {
			expectEvents(t, step+": "+name, got[name], want[name]...)
		}
	}

	// Go to a room, with nested binary.
	if err := c.goN.io.Of("/").To("r1").Emit("from-go", "hi", 1.5, map[string]any{"nested": []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	ev := `from-go ["hi",1.5,{"nested":{"$bin":"010203"}}]`
	check("Go to r1", map[string][]string{"go4": {ev}, "node4": {ev}, "node2": {ev}})

	// Node to a room, with nested binary.
	p.do("nodeEmit", map[string]any{"nsp": "/", "to": []string{"r1"}, "event": "from-node",
		"args": []any{"x", map[string]any{"list": []any{map[string]any{"$bin": "ff00"}, 2}}}}, nil)
	ev = `from-node ["x",{"list":[{"$bin":"ff00"},2]}]`
	check("Node to r1", map[string][]string{"go4": {ev}, "node4": {ev}, "node2": {ev}})

	// Whole namespaces, each way; other namespaces hear nothing.
	if err := c.goN.io.Of("/chat").Emit("chat-go", 7); err != nil {
		t.Fatal(err)
	}
	check("Go to /chat", map[string][]string{"goChat": {"chat-go [7]"}, "nodeChat": {"chat-go [7]"}})
	p.do("nodeEmit", map[string]any{"nsp": "/", "event": "all-node", "args": []any{true}}, nil)
	ev = "all-node [true]"
	check("Node to /", map[string][]string{"go4": {ev}, "go2": {ev}, "node4": {ev}, "node2": {ev}})

	// Except, each way, and several rooms.
	p.do("nodeEmit", map[string]any{"nsp": "/", "except": []string{"r1"}, "event": "not-r1"}, nil)
	check("Node except r1", map[string][]string{"go2": {"not-r1 []"}})
	if err := c.goN.io.Of("/").To("r1", "r2").Except("r2").Emit("go-r1-r2", nil); err != nil {
		t.Fatal(err)
	}
	ev = "go-r1-r2 [null]"
	check("Go to r1,r2 except r2", map[string][]string{"go4": {ev}, "node4": {ev}, "node2": {ev}})

	// Binary at the top level, and a Node Buffer reaching a Go-side v2 client.
	p.do("nodeEmit", map[string]any{"nsp": "/", "to": []string{"r2"}, "event": "bin", "args": []any{map[string]any{"$bin": "000102"}}}, nil)
	check("Node binary to r2", map[string][]string{"go2": {`bin [{"$bin":"000102"}]`}})
}

func TestEmitterReachesGoClients(t *testing.T) {
	c := startCluster(t, "/", "/chat")
	p := c.node
	p.connect("a", c.goN.URL, 4, "/")
	p.connect("b", c.goN.URL, 2, "/")
	p.connect("chat", c.goN.URL, 4, "/chat")
	p.do("join", map[string]any{"name": "a", "rooms": []string{"room1", "room2"}}, nil)
	p.do("join", map[string]any{"name": "b", "rooms": []string{"room1"}}, nil)
	emit := func(args map[string]any) {
		args["redisURL"] = c.redis.URL()
		p.do("emitter", args, nil)
	}

	emit(map[string]any{"nsp": "/", "to": []string{"room1"}, "event": "e1", "args": []any{map[string]any{"$bin": "01"}, "s"}})
	expectEvents(t, "a", p.take("a", 1), `e1 [{"$bin":"01"},"s"]`)
	expectEvents(t, "b", p.take("b", 1), `e1 [{"$bin":"01"},"s"]`)

	emit(map[string]any{"nsp": "/", "to": []string{"room1"}, "except": []string{"room2"}, "event": "e2"})
	expectEvents(t, "a", p.take("a", 0))
	expectEvents(t, "b", p.take("b", 1), "e2 []")

	emit(map[string]any{"nsp": "/chat", "event": "e3", "args": []any{1}})
	expectEvents(t, "chat", p.take("chat", 1), "e3 [1]")
	expectEvents(t, "a", p.take("a", 0))

	// socketsJoin from the emitter, then a broadcast to the new room.
	emit(map[string]any{"nsp": "/", "to": []string{"room2"}, "join": []string{"room3"}})
	waitFor(t, "a joined room3", func() bool { return c.goN.io.Of("/").Adapter().(*Adapter).RoomSize("room3") == 1 })
	emit(map[string]any{"nsp": "/", "to": []string{"room3"}, "event": "e4"})
	expectEvents(t, "a", p.take("a", 1), "e4 []")
	expectEvents(t, "b", p.take("b", 0))

	emit(map[string]any{"nsp": "/", "to": []string{"room1"}, "disconnect": true})
	waitFor(t, "emitter disconnected room1", func() bool { return len(c.goN.io.Of("/").Sockets()) == 0 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting until %s", what)
}

func TestRemoteJoinLeaveDisconnectFromBothServers(t *testing.T) {
	c := startCluster(t, "/")
	p := c.node
	p.connect("g", c.goN.URL, 4, "/")
	p.connect("n", c.nodeURL, 4, "/")
	p.do("join", map[string]any{"name": "g", "rooms": []string{"a"}}, nil)
	p.do("join", map[string]any{"name": "n", "rooms": []string{"a"}}, nil)
	nsp := c.goN.io.Of("/")
	ctx := context.Background()

	// Go: every socket in "a" joins "b", on both servers.
	if err := nsp.To("a").SocketsJoin(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "our socket joined b", func() bool { return nsp.Adapter().(*Adapter).RoomSize("b") == 1 })
	p.do("nodeEmit", map[string]any{"nsp": "/", "to": []string{"b"}, "event": "in-b"}, nil)
	expectEvents(t, "g", p.take("g", 1), "in-b []")
	expectEvents(t, "n", p.take("n", 1), "in-b []")

	// Node: everyone leaves "b".
	p.do("nodeSocketsLeave", map[string]any{"nsp": "/", "leave": []string{"b"}}, nil)
	waitFor(t, "our socket left b", func() bool { return nsp.Adapter().(*Adapter).RoomSize("b") == 0 })
	if err := nsp.To("b").Emit("in-b-again"); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, "g", p.take("g", 0))
	expectEvents(t, "n", p.take("n", 0))

	// Node: socketsJoin reaches our socket.
	p.do("nodeSocketsJoin", map[string]any{"nsp": "/", "in": []string{"a"}, "join": []string{"c"}}, nil)
	waitFor(t, "our socket joined c", func() bool { return nsp.Adapter().(*Adapter).RoomSize("c") == 1 })

	// Go: DelSockets, then DisconnectSockets on both servers.
	if err := nsp.In("c").SocketsLeave(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "our socket left c", func() bool { return nsp.Adapter().(*Adapter).RoomSize("c") == 0 })
	if err := nsp.In("a").DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both clients disconnected", func() bool {
		var g, n struct{ Connected bool }
		p.do("connected", map[string]any{"name": "g"}, &g)
		p.do("connected", map[string]any{"name": "n"}, &n)
		return !g.Connected && !n.Connected
	})
}

func TestNodeDisconnectSocketsReachesGoSockets(t *testing.T) {
	c := startCluster(t, "/")
	p := c.node
	p.connect("g", c.goN.URL, 4, "/")
	p.do("join", map[string]any{"name": "g", "rooms": []string{"x"}}, nil)
	p.do("nodeDisconnectSockets", map[string]any{"nsp": "/", "in": []string{"x"}, "close": true}, nil)
	waitFor(t, "our socket disconnected", func() bool { return len(c.goN.io.Of("/").Sockets()) == 0 })
}

func TestNodeFetchSocketsAndServerCountSeeGoSockets(t *testing.T) {
	c := startCluster(t, "/")
	p := c.node
	gid := p.connect("g", c.goN.URL+"/?token=abc", 4, "")
	nid := p.connect("n", c.nodeURL, 4, "/")
	p.do("join", map[string]any{"name": "g", "rooms": []string{"room1"}}, nil)
	p.do("join", map[string]any{"name": "n", "rooms": []string{"room1"}}, nil)

	var count struct{ Count int }
	p.do("nodeServerCount", map[string]any{"nsp": "/"}, &count)
	if count.Count != 2 {
		t.Errorf("Node counts %d servers; want 2", count.Count)
	}
	var fetched struct {
		Sockets []struct {
			ID    string
			Rooms []string
			Data  map[string]any
			URL   string
			Query map[string]any
		}
	}
	p.do("nodeFetchSockets", map[string]any{"nsp": "/", "in": []string{"room1"}}, &fetched)
	byID := map[string]int{}
	for i, s := range fetched.Sockets {
		byID[s.ID] = i
	}
	gi, okG := byID[gid]
	_, okN := byID[nid]
	if !okG || !okN || len(fetched.Sockets) != 2 {
		t.Fatalf("Node fetched %+v; want %s (ours) and %s", fetched.Sockets, gid, nid)
	}
	g := fetched.Sockets[gi]
	wantRooms := []string{gid, "room1"}
	sort.Strings(wantRooms)
	if !slices.Equal(g.Rooms, wantRooms) || g.Data["node"] != "go" || g.Query["token"] != "abc" ||
		!strings.HasPrefix(g.URL, "/socket.io/?") {
		t.Errorf("our socket as Node sees it: %+v", g)
	}

	var rooms struct{ Rooms []string }
	p.do("nodeAllRooms", map[string]any{"nsp": "/"}, &rooms)
	want := []string{gid, nid, "room1"}
	sort.Strings(want)
	if !slices.Equal(rooms.Rooms, want) {
		t.Errorf("Node's allRooms %v; want %v", rooms.Rooms, want)
	}

	// And the other way round.
	nsp := c.goN.io.Of("/")
	ctx := context.Background()
	all, err := nsp.In("room1").FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range all {
		ids = append(ids, s.ID)
		if s.ID == nid && (!strings.HasPrefix(s.Handshake.URL(), "/socket.io/?") || !slices.Contains(s.Rooms, "room1") || s.Local != nil) {
			t.Errorf("Node's socket as we see it: %+v", s)
		}
		if h := s.Handshake; s.ID == nid && (h.Query().Get("EIO") != "4" || !strings.Contains(h.Time(), " GMT") || h.Issued == 0) {
			t.Errorf("Node's socket's handshake as we see it: query %v, time %q, issued %d", h.Query(), h.Time(), h.Issued)
		}
	}
	sort.Strings(ids)
	want = []string{gid, nid}
	sort.Strings(want)
	if !slices.Equal(ids, want) {
		t.Errorf("FetchSockets ids %v; want %v", ids, want)
	}
	n, err := nsp.Adapter().ServerCount(ctx)
	if err != nil || n != 2 {
		t.Errorf("ServerCount %d, %v; want 2", n, err)
	}
	ids, err = nsp.Adapter().Sockets(ctx, nil)
	sort.Strings(ids)
	if err != nil || !slices.Equal(ids, want) {
		t.Errorf("Sockets %v, %v; want %v", ids, err, want)
	}
	allRooms, err := nsp.Adapter().(*Adapter).AllRooms(ctx)
	sort.Strings(allRooms)
	want = []string{gid, nid, "room1"}
	sort.Strings(want)
	if err != nil || !slices.Equal(allRooms, want) {
		t.Errorf("AllRooms %v, %v; want %v", allRooms, err, want)
	}
}

func TestServerSideEmitBothWays(t *testing.T) {
	c := startCluster(t, "/")
	p := c.node
	nsp := c.goN.io.Of("/")
	got := make(chan string, 4)
	nsp.OnServerSideEmit(func(e *socketio.Event) {
		got <- e.Name + " " + string(e.Args.JSON[0])
	})

	// Node asks with a callback; our handler answers.
	var answer struct{ Responses []map[string]any }
	p.do("nodeServerSideEmit", map[string]any{"nsp": "/", "event": "question", "args": []any{41}, "ack": true}, &answer)
	if len(answer.Responses) != 1 || answer.Responses[0]["from"] != "go" || answer.Responses[0]["n"] != float64(41) {
		t.Errorf("Node's serverSideEmitWithAck answers %v; want [{from: go, n: 41}]", answer.Responses)
	}
	select {
	case s := <-got:
		if s != "question 41" {
			t.Errorf("OnServerSideEmit got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Error("OnServerSideEmit handler not called")
	}
	p.do("nodeServerSideEmit", map[string]any{"nsp": "/", "event": "plain", "args": []any{"x"}}, nil)
	select {
	case s := <-got:
		if s != `plain "x"` {
			t.Errorf("OnServerSideEmit got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Error("plain server-side emit not delivered")
	}

	// We ask Node, with and without an answer.
	ctx := context.Background()
	answers, err := nsp.Adapter().(*Adapter).ServerSideEmitWithAck(ctx, "question", 5)
	if err != nil || len(answers) != 1 || string(answers[0]) != `{"from":"node","n":5}` {
		t.Errorf("ServerSideEmitWithAck = %s, %v; want [{from: node, n: 5}]", answers, err)
	}
	if err := nsp.ServerSideEmit(ctx, "hello", "from go", 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Node received hello", func() bool {
		var r struct{ Events []map[string]any }
		p.do("takeServerSide", nil, &r)
		if len(r.Events) == 0 {
			return false
		}
		b, _ := json.Marshal(r.Events[0]["args"])
		if string(b) != `["from go",1]` {
			t.Errorf("Node received hello with %s", b)
		}
		return true
	})
}

func TestBroadcastWithAcksAcrossServers(t *testing.T) {
	c := startCluster(t, "/")
	p := c.node
	p.connect("g", c.goN.URL, 4, "/")
	p.connect("g2", c.goN.URL, 2, "/")
	p.connect("n", c.nodeURL, 4, "/")

	// Node asks everyone; our clients' answers come back through Redis.
	var r struct{ Responses []map[string]any }
	p.do("nodeEmitWithAck", map[string]any{"nsp": "/", "event": "poll", "args": []any{map[string]any{"$bin": "07"}}}, &r)
	var from []string
	for _, resp := range r.Responses {
		from = append(from, fmt.Sprint(resp["client"]))
		b, _ := json.Marshal(resp["got"])
		if string(b) != `[{"$bin":"07"}]` {
			t.Errorf("client %v saw %s", resp["client"], b)
		}
	}
	sort.Strings(from)
	if !slices.Equal(from, []string{"g", "g2", "n"}) {
		t.Errorf("Node's emitWithAck answered by %v; want g, g2, n", from)
	}
	for _, name := range []string{"g", "g2", "n"} {
		p.take(name, 1)
	}

	// We ask everyone.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	answers, err := c.goN.io.Of("/").EmitWithAck(ctx, "poll", "q")
	if err != nil {
		t.Fatal(err)
	}
	from = nil
	for _, a := range answers {
		var resp struct {
			Client string
			Got    []any
		}
		if err := a.Decode(0, &resp); err != nil {
			t.Fatal(err)
		}
		from = append(from, resp.Client)
	}
	sort.Strings(from)
	if !slices.Equal(from, []string{"g", "g2", "n"}) {
		t.Errorf("our EmitWithAck answered by %v; want g, g2, n", from)
	}
}

// Two of our servers and one Redis, with polling-only clients of both
// protocol versions: broadcasts and acknowledgements cross, exactly once.
func TestTwoGoServersWithPollingClients(t *testing.T) {
	r := startRedis(t)
	a := startGoNode(t, r.Addr(), "/")
	b := startGoNode(t, r.Addr(), "/")
	p := startNodePeer(t)
	p.connect("a4", a.URL, 4, "/", "polling")
	p.connect("a2", a.URL, 2, "/", "polling")
	p.connect("b4", b.URL, 4, "/", "polling")
	p.connect("b2", b.URL, 2, "/", "polling")
	for _, name := range []string{"a2", "b4"} {
		p.do("join", map[string]any{"name": name, "rooms": []string{"r"}}, nil)
	}
	all := []string{"a4", "a2", "b4", "b2"}
	if err := a.io.Of("/").To("r").Emit("to-r", map[string]any{"b": []byte{5}}); err != nil {
		t.Fatal(err)
	}
	ev := `to-r [{"b":{"$bin":"05"}}]`
	got := p.takeAll(all, map[string][]string{"a2": {ev}, "b4": {ev}})
	for _, name := range all {
		var want []string
		if name == "a2" || name == "b4" {
			want = []string{ev}
		}
		expectEvents(t, name, got[name], want...)
	}
	if err := b.io.Of("/").Emit("everyone"); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, name := range all {
		want[name] = []string{"everyone []"}
	}
	got = p.takeAll(all, want)
	for _, name := range all {
		expectEvents(t, name, got[name], want[name]...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	answers, err := b.io.Of("/").To("r").EmitWithAck(ctx, "poll")
	if err != nil || len(answers) != 2 {
		t.Errorf("EmitWithAck over two servers: %d answers, %v; want 2", len(answers), err)
	}
	p.takeAll(all, map[string][]string{"a2": {"poll []"}, "b4": {"poll []"}})
}
