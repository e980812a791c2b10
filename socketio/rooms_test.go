package socketio

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// connectRaw connects n raw clients to "/" and returns them with their
// sockets, in order.
func connectRaw(t *testing.T, ts *testServer, n int) ([]*rawClient, []*Socket) {
	t.Helper()
	clients := make([]*rawClient, n)
	sockets := make([]*Socket, n)
	for i := range clients {
		clients[i] = dialRaw(t, ts)
		clients[i].send("40")
		connect := clients[i].read()
		id := strings.TrimSuffix(strings.TrimPrefix(connect, `40{"sid":"`), `"}`)
		sockets[i] = ts.io.Of("/").Socket(id)
		if sockets[i] == nil {
			t.Fatalf("no socket %q after %q", id, connect)
		}
	}
	return clients, sockets
}

func TestBroadcastSelectsRoomsOnceAndHonoursExcept(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	clients, sockets := connectRaw(t, ts, 4)
	sockets[0].Join("a", "b")
	sockets[1].Join("a")
	sockets[2].Join("b", "c")
	// sockets[3] is in no room but its own.

	if err := ts.io.To("a", "b").Except("c").Emit("ev", 1); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.To(sockets[3].ID()).Emit("direct"); err != nil {
		t.Fatal(err)
	}
	// One packet each, however many of the rooms a socket is in.
	for i, want := range []string{`42["ev",1]`, `42["ev",1]`, `42["direct"]`} {
		c := clients[i]
		if i == 2 {
			c = clients[3]
		}
		if got := c.read(); got != want {
			t.Errorf("client %d got %q, want %q", i, got, want)
		}
	}
	if err := ts.io.Emit("end"); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if got := c.read(); got != `42["end"]` {
			t.Errorf("client %d got %q before the end: a duplicate or a packet it should not see", i, got)
		}
	}

	rooms := sockets[0].Rooms()
	sort.Strings(rooms)
	if want := []string{"a", "b", sockets[0].ID()}; strings.Join(rooms, ",") != strings.Join(sortStrings(want), ",") {
		t.Errorf("rooms %v, want %v", rooms, want)
	}
	sockets[0].Leave("a")
	if r := sockets[0].Rooms(); len(r) != 2 {
		t.Errorf("after leaving a: %v", r)
	}
	sockets[0].Disconnect(false)
	if got := clients[0].read(); got != "41" {
		t.Errorf("disconnected with %q", got)
	}
	if r := sockets[0].Rooms(); r != nil {
		t.Errorf("a disconnected socket is still in %v", r)
	}
	sockets[0].Join("late")
	if r := sockets[0].Rooms(); r != nil {
		t.Errorf("a disconnected socket joined %v", r)
	}
	if n := ts.io.Of("/").Adapter().(*MemoryAdapter).RoomSize("b"); n != 1 {
		t.Errorf("room b has %d sockets, want 1", n)
	}
}

func sortStrings(s []string) []string { sort.Strings(s); return s }

func TestRoomsJoinedInARefusingMiddlewareAreLeft(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(ts *testServer) {
		ts.io.Of("/private").Use(func(s *Socket) error {
			s.Join("tentative")
			return errors.New("closed today")
		})
	})
	c := dialRaw(t, ts)
	c.send("40/private,")
	if got := c.read(); got != `44/private,{"message":"closed today"}` {
		t.Errorf("refused with %q", got)
	}
	if n := ts.io.Of("/private").Adapter().(*MemoryAdapter).RoomSize("tentative"); n != 0 {
		t.Errorf("the refused socket is still in its room (%d members)", n)
	}
}

func TestDisconnectingHandlerStillSeesTheRooms(t *testing.T) {
	roomsAtDisconnecting := make(chan []string, 1)
	roomsAtDisconnect := make(chan []string, 1)
	ts := startServer(t, "", engine.Options{}, func(ts *testServer) {
		ts.io.OnConnection(func(s *Socket) {
			s.Join("game")
			s.OnDisconnecting(func(string) { roomsAtDisconnecting <- sortStrings(s.Rooms()) })
			s.OnDisconnect(func(string) { roomsAtDisconnect <- s.Rooms() })
		})
	})
	clients, sockets := connectRaw(t, ts, 1)
	clients[0].send("41")
	if got, want := <-roomsAtDisconnecting, sortStrings([]string{"game", sockets[0].ID()}); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("rooms while disconnecting: %v, want %v", got, want)
	}
	if got := <-roomsAtDisconnect; got != nil {
		t.Errorf("rooms after disconnect: %v", got)
	}
}

func TestEverySocketIsInTheRoomNamedByItsID(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(*testServer) {})
	clients, sockets := connectRaw(t, ts, 3)
	a, b := sockets[0], sockets[1]
	adapter := ts.io.Of("/").Adapter().(*MemoryAdapter)

	if r := a.Rooms(); len(r) != 1 || r[0] != a.ID() {
		t.Errorf("rooms of a new socket: %v, want only its id %s", r, a.ID())
	}
	if n := adapter.RoomSize(a.ID()); n != 1 {
		t.Errorf("its id room has %d sockets, want 1", n)
	}
	// Another socket may join a room named by a socket's id.
	b.Join(a.ID())
	if n := adapter.RoomSize(a.ID()); n != 2 {
		t.Errorf("after b joined it, the id room has %d sockets, want 2", n)
	}
	if err := ts.io.To(a.ID()).Emit("direct", 1); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.To(a.ID(), b.ID()).Emit("both"); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.Emit("all"); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{
		{`42["direct",1]`, `42["both"]`, `42["all"]`},
		{`42["direct",1]`, `42["both"]`, `42["all"]`}, // once, though in both rooms
		{`42["all"]`},
	} {
		for _, w := range want {
			if got := clients[i].read(); got != w {
				t.Errorf("client %d got %q, want %q", i, got, w)
			}
		}
	}

	// A socket can leave its own room, as in Node: direct broadcasts miss
	// it, broadcasts to the namespace still reach it.
	a.Leave(a.ID())
	if r := a.Rooms(); r == nil || len(r) != 0 {
		t.Errorf("rooms after leaving its own: %#v, want an empty list (still connected)", r)
	}
	if err := ts.io.To(a.ID()).Except(b.ID()).Emit("direct", 2); err != nil {
		t.Fatal(err)
	}
	if err := ts.io.Emit("all", 2); err != nil {
		t.Fatal(err)
	}
	if got := clients[0].read(); got != `42["all",2]` {
		t.Errorf("after leaving its own room, a got %q, want only the namespace broadcast", got)
	}
	a.Join(a.ID())
	if err := ts.io.To(a.ID()).Except(b.ID()).Emit("direct", 3); err != nil {
		t.Fatal(err)
	}
	if got := clients[0].read(); got != `42["direct",3]` {
		t.Errorf("after joining its own room again, a got %q", got)
	}

	ids, err := adapter.Sockets(context.Background(), []string{a.ID()})
	if err != nil || len(ids) != 2 {
		t.Errorf("sockets in a's id room: %v %v, want a and b", ids, err)
	}
	fetched, err := ts.io.Of("/").In(sockets[2].ID()).FetchSockets(context.Background())
	if err != nil || len(fetched) != 1 || fetched[0].ID != sockets[2].ID() ||
		len(fetched[0].Rooms) != 1 || fetched[0].Rooms[0] != sockets[2].ID() {
		t.Errorf("FetchSockets in the id room of the third socket: %+v %v", fetched, err)
	}
}
