package socketio

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// bus joins the busAdapters of several in-process servers: the shape of a
// cluster adapter (such as a Redis one), without the network. It checks
// that the Adapter interface lets such an adapter see each broadcast as an
// object and deliver it on the other servers through their MemoryAdapter.
type bus struct {
	mu       sync.Mutex
	adapters []*busAdapter
	seen     []string // "<event> rooms=<rooms> except=<except>" as published
}

type busAdapter struct {
	*MemoryAdapter
	bus *bus
}

func (b *bus) factory(nsp *Namespace) Adapter {
	a := &busAdapter{MemoryAdapter: NewLocalAdapter(nsp), bus: b}
	b.mu.Lock()
	b.adapters = append(b.adapters, a)
	b.mu.Unlock()
	return a
}

// others are the adapters of the same namespace on the other servers.
func (a *busAdapter) others() []*busAdapter {
	a.bus.mu.Lock()
	defer a.bus.mu.Unlock()
	var out []*busAdapter
	for _, o := range a.bus.adapters {
		if o != a && o.Namespace().Name() == a.Namespace().Name() {
			out = append(out, o)
		}
	}
	return out
}

func (a *busAdapter) Broadcast(p *Packet, opts *BroadcastOptions) error {
	if !opts.Flags.Local {
		values, err := p.Args.Values() // what a Redis adapter would msgpack
		if err != nil {
			return err
		}
		a.bus.mu.Lock()
		a.bus.seen = append(a.bus.seen, p.EventName+" rooms="+strings.Join(opts.Rooms, ",")+" except="+strings.Join(opts.Except, ","))
		a.bus.mu.Unlock()
		for _, o := range a.others() {
			// The receiving side rebuilds the packet from plain values.
			args, err := NewArgs(values...)
			if err != nil {
				return err
			}
			remote := &Packet{Type: PacketEvent, Namespace: p.Namespace, EventName: p.EventName, Args: args}
			if err := o.MemoryAdapter.Broadcast(remote, opts); err != nil {
				return err
			}
		}
	}
	return a.MemoryAdapter.Broadcast(p, opts)
}

func (a *busAdapter) BroadcastWithAck(p *Packet, opts *BroadcastOptions, clientCount func(int), ack func(Args)) error {
	for _, o := range a.others() {
		remote := *p
		if err := o.MemoryAdapter.BroadcastWithAck(&remote, opts, clientCount, ack); err != nil {
			return err
		}
	}
	return a.MemoryAdapter.BroadcastWithAck(p, opts, clientCount, ack)
}

func (a *busAdapter) ServerCount(context.Context) (int, error) { return len(a.others()) + 1, nil }

func TestClusterAdapterCarriesBroadcastsBetweenServers(t *testing.T) {
	b := &bus{}
	serverA := startServerWith(t, "", engine.Options{}, Options{Adapter: b.factory}, func(*testServer) {})
	serverB := startServerWith(t, "", engine.Options{}, Options{Adapter: b.factory}, func(*testServer) {})
	clientsA, socketsA := connectRaw(t, serverA, 2)
	clientsB, socketsB := connectRaw(t, serverB, 1)
	socketsA[0].Join("room")
	socketsB[0].Join("room")

	if err := serverA.io.To("room").Except(socketsA[1].ID()).Emit("news", "x", []byte{1, 2}, map[string]any{"n": 1}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*rawClient{"client on A": clientsA[0], "client on B": clientsB[0]} {
		if got := c.read(); got != `451-["news","x",{"_placeholder":true,"num":0},{"n":1}]` {
			t.Errorf("%s got %q", name, got)
		}
		if got := c.read(); got != "\x01\x02" {
			t.Errorf("%s got attachment %q", name, got)
		}
	}
	if got, want := strings.Join(b.seen, "\n"), "news rooms=room except="+socketsA[1].ID(); got != want {
		t.Errorf("published %q", got)
	}

	// Acknowledgements come back from every server.
	done := make(chan []Args, 1)
	go func() {
		res, err := serverB.io.To("room").EmitWithAck(context.Background(), "q", 1)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	clientsA[0].answer(`"from A"`)
	clientsB[0].answer(`"from B"`)
	var answers []string
	for _, a := range <-done {
		s, _ := a.String(0)
		answers = append(answers, s)
	}
	sort.Strings(answers)
	if strings.Join(answers, ",") != "from A,from B" {
		t.Errorf("answers %v", answers)
	}
	// The excepted socket saw none of it.
	if err := serverA.io.Emit("end"); err != nil {
		t.Fatal(err)
	}
	if got := clientsA[1].read(); got != `42["end"]` {
		t.Errorf("the excepted client got %q", got)
	}
}
