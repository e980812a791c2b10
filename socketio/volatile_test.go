package socketio

import (
	"context"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// setupVolatileApp serves the events of testdata/volatile.js.
func setupVolatileApp(ts *testServer) {
	nsp := ts.io.Of("/")
	nsp.OnConnection(func(s *Socket) {
		// The first emit takes the client's pending GET, and the client
		// sends no other one (it pauses polling): volatile packets are
		// dropped, regular ones wait for its next GET.
		s.On("emit-without-get", func(*Event) {
			_ = s.Emit("released")
			_ = s.Volatile().Emit("volatile", "socket")
			_ = nsp.Volatile().Emit("volatile", "namespace")
			_ = s.Emit("regular", 1, []byte{1})
			_ = nsp.To(s.ID()).Volatile().Emit("volatile", "room")
			_ = s.Volatile().Emit("volatile", "socket", []byte{2})
			_ = s.Emit("regular", 2)
			_ = s.Emit("handled")
		})
		s.On("volatiles", func(e *Event) {
			kind, _ := e.Args.String(0)
			var round, count int
			_ = e.Args.Decode(1, &round)
			_ = e.Args.Decode(2, &count)
			// Leave the client time to send its next GET (polling) and
			// the server time to finish writing (WebSocket).
			time.AfterFunc(50*time.Millisecond, func() {
				for range count {
					if kind == "socket" {
						_ = s.Volatile().Emit("ev", round, []byte{byte(round)})
					} else {
						_ = nsp.To(s.ID()).Volatile().Emit("ev", round, "room")
					}
				}
				_ = s.Emit("round-done", round)
			})
		})
	})
}

func TestClientV4VolatileEmits(t *testing.T) {
	socketRE := regexp.MustCompile(`^socket \[\["ev",(\d+),\{"type":"Buffer","data":\[(\d+)\]\}\]\]$`)
	broadcastRE := regexp.MustCompile(`^broadcast \[\["ev",\d+,"room"\]\]$`)
	check := func(t *testing.T, got []string) {
		t.Helper()
		// To an idle client a volatile packet arrives, its binary
		// attachment with it; on polling, the second of two emitted in a
		// row finds the GET taken by the first and is dropped.
		if m := socketRE.FindStringSubmatch(got[0]); m == nil || m[1] != m[2] {
			t.Errorf("got %s, want one socket volatile event with its attachment", got[0])
		}
		if !broadcastRE.MatchString(got[1]) {
			t.Errorf("got %s, want one broadcast volatile event", got[1])
		}
	}

	t.Run("polling", func(t *testing.T) {
		ts := startServer(t, "", engine.Options{}, setupVolatileApp)
		got := runScript(t, "volatile.js", "URL="+ts.URL, "TRANSPORTS=polling")
		if len(got) != 3 {
			t.Fatalf("the client printed:\n%q", got)
		}
		if want := `paused [["regular",1,{"type":"Buffer","data":[1]}],["regular",2]]`; got[0] != want {
			t.Errorf("while the client had no GET pending:\ngot  %s\nwant %s", got[0], want)
		}
		check(t, got[1:])
	})
	t.Run("websocket", func(t *testing.T) {
		ts := startServer(t, "", engine.Options{}, setupVolatileApp)
		got := runScript(t, "volatile.js", "URL="+ts.URL, "TRANSPORTS=websocket")
		if len(got) != 2 {
			t.Fatalf("the client printed:\n%q", got)
		}
		check(t, got)
	})
}

// flagsAdapter records the flags of each broadcast, as a cluster adapter
// would publish them (@socket.io/redis-adapter carries flags.volatile).
type flagsAdapter struct {
	*MemoryAdapter
	mu    sync.Mutex
	flags map[string]BroadcastFlags // by event name
}

func (a *flagsAdapter) Broadcast(p *Packet, opts *BroadcastOptions) error {
	a.mu.Lock()
	a.flags[p.EventName] = opts.Flags
	a.mu.Unlock()
	return a.MemoryAdapter.Broadcast(p, opts)
}

func TestVolatileBroadcastsReachTheAdapterWithTheFlag(t *testing.T) {
	var a *flagsAdapter
	io := NewServer(engine.NewServer(engine.Options{}), Options{Adapter: func(nsp *Namespace) Adapter {
		a = &flagsAdapter{MemoryAdapter: NewLocalAdapter(nsp), flags: map[string]BroadcastFlags{}}
		return a
	}})
	defer io.Shutdown(context.Background())
	nsp := io.Of("/")
	toRoom := nsp.To("r")
	_ = nsp.Volatile().Emit("namespace")
	_ = toRoom.Volatile().Emit("room")
	_ = toRoom.Except("x").Volatile().Local().Emit("room-local")
	_ = toRoom.Emit("regular") // Volatile did not change toRoom
	want := map[string]BroadcastFlags{
		"namespace":  {Volatile: true},
		"room":       {Volatile: true},
		"room-local": {Volatile: true, Local: true},
		"regular":    {},
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !reflect.DeepEqual(a.flags, want) {
		t.Errorf("the adapter saw %+v, want %+v", a.flags, want)
	}
}
