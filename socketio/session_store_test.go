package socketio

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// listStore is a SessionStore adapter that keeps its log and sessions in
// lists, as a cluster adapter keeps them in its shared store: offsets
// "1-<n>".
type listStore struct {
	*MemoryAdapter
	mu       sync.Mutex
	log      []listEntry
	sessions map[string]*StoredSession
	saved    []string // what SaveSession and DropSession were told
}

type listEntry struct {
	p     *Packet
	rooms []string
}

func newListStore(nsp *Namespace) Adapter {
	return &listStore{MemoryAdapter: NewMemoryAdapter(nsp).(*MemoryAdapter), sessions: map[string]*StoredSession{}}
}

func (l *listStore) Broadcast(p *Packet, opts *BroadcastOptions) error {
	if !storable(p, opts) {
		return l.MemoryAdapter.Broadcast(p, opts)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, listEntry{p, opts.Rooms})
	return l.MemoryAdapter.BroadcastOffset(p, opts, "1-"+strconv.Itoa(len(l.log)))
}

func (l *listStore) RestoreSession(_ context.Context, pid, offset string, hasOffset bool) *StoredSession {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.sessions[pid]
	if st == nil || !hasOffset {
		return nil
	}
	delete(l.sessions, pid)
	st.From = offset
	return st
}

func (l *listStore) ConnectRecovered(st *StoredSession, send func(*Packet, string) error, join func()) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	from, _ := strconv.Atoi(st.From[2:])
	for i := from; i < len(l.log); i++ {
		e := l.log[i]
		if len(e.rooms) == 0 || slices.ContainsFunc(st.Rooms, func(r string) bool { return slices.Contains(e.rooms, r) }) {
			if err := send(e.p, "1-"+strconv.Itoa(i+1)); err != nil {
				return err
			}
		}
	}
	join()
	return nil
}

func (l *listStore) SaveSession(st *StoredSession, connected bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.saved = append(l.saved, fmt.Sprintf("save %s connected=%v rooms=%d data=%s", st.ID, connected, len(st.Rooms), st.Data))
	if !connected {
		l.sessions[st.PID] = st
	}
}

func (l *listStore) DropSession(pid string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.saved = append(l.saved, "drop")
}

func (l *listStore) Position() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return "1-" + strconv.Itoa(len(l.log))
}

// With an adapter that is a SessionStore, the namespace stores nothing
// itself: the offsets are the adapter's, socket.Emit goes through it, it
// is told each socket's state, and a recovering client gets from it what
// it missed, before its CONNECT answer, with its id, rooms and data.
func TestSessionStoreAdapterKeepsTheLogAndTheSessions(t *testing.T) {
	ts := startServerWith(t, "", engine.Options{}, Options{Adapter: newListStore, ConnectionStateRecovery: &RecoveryOptions{}}, func(ts *testServer) {
		ts.io.OnConnection(func(s *Socket) {
			if !s.Recovered() {
				s.Join("room1")
				s.SetData(map[string]any{"user": "ann"})
				_ = s.Emit("hello")
			}
			ts.note(fmt.Sprintf("connect %s recovered=%v", s.ID(), s.Recovered()))
			s.OnDisconnect(func(reason string) { ts.note("disconnect " + s.ID() + " " + reason) })
		})
	})
	store := ts.io.Of("/").Adapter().(*listStore)
	c, _ := connectRecovering(t, ts, "")
	ts.waitSeen(fmt.Sprintf("connect %s recovered=false", c.sid), 1)
	if got := c.read(); got != `42["hello","1-1"]` {
		t.Errorf("socket.Emit with recovery on: %q, want the store's offset 1-1", got)
	}
	ts.io.To("room1").Emit("news", 1)
	if got := c.read(); got != `42["news",1,"1-2"]` {
		t.Errorf("broadcast: %q, want the store's offset 1-2", got)
	}
	c.offset = "1-2"
	if packets, _, _ := ts.io.Of("/").recovery.Load().stats(); packets != 0 {
		t.Errorf("the namespace stored %d packets itself, want none", packets)
	}
	c.drop(ts)
	ts.io.To("room1").Emit("missed", 2)
	ts.io.To("elsewhere").Emit("not-mine", 0)
	back := &recoveringClient{rawClient: dialRaw(t, ts)}
	back.send("40" + c.auth())
	var before []string
	for {
		got := back.read()
		if m := connectWithPID.FindStringSubmatch(got); m != nil {
			back.sid = m[1]
			break
		}
		before = append(before, got)
	}
	if back.sid != c.sid || !slices.Equal(before, []string{`42["missed",2,"1-3"]`}) {
		t.Errorf("came back as %s with %q before CONNECT, want %s with the missed event", back.sid, before, c.sid)
	}
	ts.waitSeen(fmt.Sprintf("connect %s recovered=true", c.sid), 1)
	store.mu.Lock()
	saved := append([]string(nil), store.saved...)
	store.mu.Unlock()
	want := []string{
		fmt.Sprintf(`save %s connected=true rooms=2 data={"user":"ann"}`, c.sid),
		fmt.Sprintf(`save %s connected=false rooms=2 data={"user":"ann"}`, c.sid),
		fmt.Sprintf(`save %s connected=true rooms=2 data={"user":"ann"}`, c.sid),
	}
	if !slices.Equal(saved, want) {
		t.Errorf("the store was told\n  %q\nwant\n  %q", saved, want)
	}
}
