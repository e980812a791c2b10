package socketio

import (
	"math"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"go.uber.org/zap"
)

// queued is the number of entries in d's queue, and the capacity of its
// array.
func queued(d *connectDeadlines) (n, capacity int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue) - d.first, cap(d.queue)
}

// passConnectTimeout runs d's timer at once, as if the connect timeout
// had passed for every connection queued so far.
func passConnectTimeout(d *connectDeadlines) {
	d.mu.Lock()
	d.base = d.base.Add(-d.timeout)
	d.mu.Unlock()
	d.expire()
}

func TestClientsThatJoinDoNotWaitInTheConnectTimeoutQueue(t *testing.T) {
	ts := startServerWith(t, "", engine.Options{}, Options{ConnectTimeout: time.Hour}, func(*testServer) {})
	connectRaw(t, ts, 50)
	if n, c := queued(ts.io.connectDeadlines); n != 0 || c > 2 {
		t.Errorf("after 50 clients joined one after the other, the connect timeout queue holds %d entries in an array of %d", n, c)
	}
}

func TestConnectTimeoutClosesAClientThatDidNotJoinAmongOnesThatDid(t *testing.T) {
	ts := startServerWith(t, "", engine.Options{}, Options{ConnectTimeout: time.Hour}, func(*testServer) {})
	_, before := connectRaw(t, ts, 2)
	idle := dialRaw(t, ts)
	_, after := connectRaw(t, ts, 2)
	d := ts.io.connectDeadlines
	if n, _ := queued(d); n != 3 {
		t.Errorf("the queue holds %d entries, want 3: the waiting client's and those behind it", n)
	}
	passConnectTimeout(d)
	if !idle.closed() {
		t.Fatal("the client that sent no CONNECT stayed open past its connect timeout")
	}
	for _, s := range append(before, after...) {
		if !s.Connected() {
			t.Errorf("socket %s, whose client joined in time, was disconnected", s.ID())
		}
	}
	if got := ts.io.Stats().ConnectTimeouts; got != 1 {
		t.Errorf("%d connect timeouts counted, want 1", got)
	}
	if n, _ := queued(d); n != 0 {
		t.Errorf("%d entries left in the queue after the timeout", n)
	}
}

func TestConnectTimeoutQueueAcrossSequenceWrapAround(t *testing.T) {
	d := newConnectDeadlines(time.Hour, zap.NewNop())
	t.Cleanup(d.stop)
	d.head = math.MaxUint32 - 3
	clients := make([]*client, 8)
	for i := range clients {
		clients[i] = &client{}
		d.add(clients[i])
	}
	d.remove(clients[5])
	if n, _ := queued(d); n != 8 {
		t.Fatalf("%d entries after a client behind the first joined, want 8", n)
	}
	for _, c := range clients[:5] { // the sequence numbers wrap at clients[4]
		d.remove(c)
	}
	if n, _ := queued(d); n != 2 || d.queue[d.first].c != clients[6] || d.queue[d.first+1].c != clients[7] {
		t.Fatalf("%d entries after the first six joined, want those of the last two", n)
	}
	d.remove(clients[0]) // long gone: must not touch the entry now at its index
	late := &client{}
	d.add(late)
	d.remove(clients[7])
	if n, _ := queued(d); n != 3 || d.queue[d.first].c != clients[6] || d.queue[d.first+2].c != late {
		t.Fatalf("%d entries, want clients[6]'s, clients[7]'s spent one and the late client's", n)
	}
	d.remove(clients[6])
	d.remove(late)
	if n, _ := queued(d); n != 0 {
		t.Errorf("%d entries once every client joined", n)
	}
	if d.head != 5 {
		t.Errorf("head is %d after 9 clients from MaxUint32-3, want 5", d.head)
	}
}

func TestConnectTimeoutQueueArrayStaysSizedByTheWaitingClients(t *testing.T) {
	d := newConnectDeadlines(time.Hour, zap.NewNop())
	t.Cleanup(d.stop)
	// A steady flow, each client joining after the next three came: the
	// queue never empties, its front moves on.
	clients := make([]*client, 10000)
	for i := range clients {
		clients[i] = &client{}
		d.add(clients[i])
		if i >= 3 {
			d.remove(clients[i-3])
		}
	}
	if n, c := queued(d); n != 3 || c > 16 {
		t.Errorf("a steady flow of 3 waiting clients left %d entries in an array of %d", n, c)
	}

	// A burst that mostly joined, but for its last two clients.
	d = newConnectDeadlines(time.Hour, zap.NewNop())
	t.Cleanup(d.stop)
	clients = clients[:1000]
	for i := range clients {
		clients[i] = &client{}
		d.add(clients[i])
	}
	for _, c := range clients[:998] {
		d.remove(c)
	}
	for range 100 {
		d.add(&client{})
	}
	if n, c := queued(d); n != 102 || c > 256 {
		t.Errorf("after a burst of 1000 of which 998 joined and 100 more came, %d entries in an array of %d", n, c)
	}

	// Once every client joined, a large array is let go.
	d = newConnectDeadlines(time.Hour, zap.NewNop())
	t.Cleanup(d.stop)
	for i := range clients {
		clients[i] = &client{}
		d.add(clients[i])
	}
	for _, c := range clients {
		d.remove(c)
	}
	if n, c := queued(d); n != 0 || c != 0 {
		t.Errorf("after a burst of 1000 that joined, %d entries in an array of %d", n, c)
	}
}
