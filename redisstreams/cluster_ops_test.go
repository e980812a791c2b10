package redisstreams

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// The cluster operations of the classic adapter, between our node and a
// Node node with @socket.io/redis-streams-adapter 0.3.1, both ways.
func TestClusterOperationsWithANodeNode(t *testing.T) {
	redisAddr, _ := startRedis(t)
	goN := startGoNode(t, redisAddr, nil)
	nodeAddr, nodeLines := startNodeServer(t, redisAddr)
	goClient, _ := startNode(t, "client.js", "URL=http://"+goN.addr)
	nodeClient, _ := startNode(t, "client.js", "URL=http://"+nodeAddr)
	goID := mustConnect(t, goClient)
	nodeID := mustConnect(t, nodeClient)
	goN.waitNote(t, "connect "+goID)
	nodeLines.Wait(t, 0, "connect", func(m map[string]any) bool { return m["connect"] == nodeID })
	nsp := goN.io.Of("/")
	adapter := nsp.Adapter().(*Adapter)
	ctx := context.Background()

	// The two nodes count each other.
	if n, _ := adapter.ServerCount(ctx); n != 2 {
		t.Fatalf("server count %d, want 2", n)
	}

	// fetchSockets from ours lists Node's socket, with its rooms and data.
	sockets, err := nsp.FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]socketio.RemoteSocket{}
	for _, s := range sockets {
		byID[s.ID] = s
	}
	if s, ok := byID[nodeID]; !ok || !slices.Contains(s.Rooms, "room1") || string(s.Data) != `{"name":"ann"}` || s.Local != nil {
		t.Errorf("fetchSockets: Node's socket is %+v, want it remote in room1 with data {name: ann}", s)
	}
	if _, ok := byID[goID]; !ok || len(sockets) != 2 {
		t.Errorf("fetchSockets listed %d sockets, want ours and Node's", len(sockets))
	}

	// socketsJoin from ours moves Node's socket too; a broadcast to the
	// new room reaches both clients.
	if err := nsp.In("room1").SocketsJoin(ctx, "room2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Node's socket in room2", func() bool {
		s, _ := nsp.FetchSockets(ctx)
		for _, x := range s {
			if x.ID == nodeID && slices.Contains(x.Rooms, "room2") {
				return true
			}
		}
		return false
	})
	_ = nsp.To("room2").Emit("in-room2", 1)
	goClient.Wait(t, 0, "in-room2", isEvent("in-room2"))
	nodeClient.Wait(t, 0, "in-room2", isEvent("in-room2"))

	// A broadcast with acknowledgements from ours gets both clients' acks.
	acks, err := nsp.EmitWithAck(withTimeout(t, 5*time.Second), "ask", "from-go")
	if err != nil {
		t.Fatal(err)
	}
	var answers []string
	for _, a := range acks {
		var s string
		_ = json.Unmarshal(a.JSON[0], &s)
		answers = append(answers, s)
	}
	if want := []string{"answer to from-go", "answer to from-go"}; !slices.Equal(answers, want) {
		t.Errorf("broadcast acks %q, want %q", answers, want)
	}

	// serverSideEmit with ack from ours: Node answers.
	got, err := adapter.ServerSideEmitWithAck(withTimeout(t, 5*time.Second), "to-node", "hi")
	if err != nil || len(got) != 1 || string(got[0]) != `"node got hi"` {
		t.Errorf("serverSideEmitWithAck got %s, %v; want [\"node got hi\"]", got, err)
	}

	// From Node's side: fetchSockets, serverSideEmitWithAck and a
	// broadcast with acks reach ours (asked through a server-side emit).
	adapter.OnServerSideEmit(func(e *redisadapter.ServerSideEvent) {
		if e.Name == "to-go" && e.WantsAck() {
			var arg string
			_ = json.Unmarshal(e.Args.JSON[0], &arg)
			_ = e.Ack("go got " + arg)
		}
	})
	if answers := askNode(t, adapter, "sse"); string(answers) != `["go got hello"]` {
		t.Errorf("Node's serverSideEmitWithAck got %s, want [\"go got hello\"]", answers)
	}
	fetched := askNode(t, adapter, "fetch")
	var list []struct {
		ID    string
		Rooms []string
		Data  map[string]string
	}
	if err := json.Unmarshal(fetched, &list); err != nil {
		t.Fatalf("Node's fetchSockets: %s", fetched)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID == nodeID })
	if len(list) != 2 || list[1].ID != goID || !slices.Contains(list[1].Rooms, "room2") || list[1].Data["name"] != "ann" {
		t.Errorf("Node's fetchSockets saw %s; want ours too, in room2, data {name: ann}", fetched)
	}
	if acks := askNode(t, adapter, "ask-clients"); string(acks) != `["answer to from-node","answer to from-node"]` {
		t.Errorf("Node's broadcast with acks got %s, want both clients' answers", acks)
	}

	// disconnectSockets from ours closes Node's client's socket.
	if err := nsp.In(nodeID).DisconnectSockets(ctx, false); err != nil {
		t.Fatal(err)
	}
	nodeLines.Wait(t, 0, "disconnect", func(m map[string]any) bool { return m["disconnect"] == nodeID })
}

func mustConnect(t *testing.T, l *testpeer.JSONLines) string {
	t.Helper()
	m, _ := l.Wait(t, 0, "connect", testpeer.Has("connect"))
	return m["connect"].(string)
}

func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// askNode sends a server-side emit with ack to Node's node and returns its
// one answer.
func askNode(t *testing.T, a *Adapter, event string) json.RawMessage {
	t.Helper()
	var args []any
	if event == "sse" {
		args = append(args, "hello")
	}
	got, err := a.ServerSideEmitWithAck(withTimeout(t, 8*time.Second), event, args...)
	if err != nil || len(got) != 1 {
		t.Fatalf("%s: %s, %v", event, got, err)
	}
	return got[0]
}
