package socketio

import (
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// connectDeadlines closes the connections that joined no namespace within
// the connect timeout (Node's connectTimeout). The timeout is the same for
// every connection, so deadlines fall in the order connections arrive: a
// queue and one timer serve the whole server, where a timer per
// connection would cost each about 200 bytes while it waits (and the
// runtime keeps a stopped timer a while). A queued entry is 16 bytes;
// the entries of clients that joined or closed leave the queue as soon as
// they reach its front, so that a queue of clients that join at once, in
// the order they came, stays empty instead of holding an entry per
// connection for the whole timeout.
type connectDeadlines struct {
	timeout time.Duration
	base    time.Time // deadlines are durations since base (monotonic)
	logger  *zap.Logger

	timeouts atomic.Uint64 // connections closed for joining no namespace in time

	// mu guards the fields below, and the clients' deadlineSeq.
	mu sync.Mutex
	// queue[first:] are the entries by deadline, the first one's client
	// still waiting; queue[:first] are spent, zeroed, reused when the
	// array is full (see add).
	queue   []pendingClient
	first   int
	head    uint32      // sequence number of queue[first]; wraps around, as deadlineSeq does
	timer   *time.Timer // armed, while armed is set, for no later than the first deadline
	armed   bool
	stopped bool
}

// pendingClient is a connection and when it must have joined a namespace.
type pendingClient struct {
	c        *client       // nil once the client joined a namespace or closed
	deadline time.Duration // since connectDeadlines.base
}

func newConnectDeadlines(timeout time.Duration, logger *zap.Logger) *connectDeadlines {
	return &connectDeadlines{timeout: timeout, base: time.Now(), logger: logger}
}

// add starts c's connect timeout.
func (d *connectDeadlines) add(c *client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	live := len(d.queue) - d.first
	if len(d.queue) == cap(d.queue) && d.first > 0 {
		// Full, with spent entries in front: moving the live ones down
		// rather than growing keeps the array sized by the clients still
		// waiting, not by all those since the queue was last empty. Only
		// when half of it is spent, so that each entry is moved at most
		// once per halving, and into a smaller array if it is mostly
		// spent and large.
		if live <= len(d.queue)/2 {
			q := d.queue
			if live < len(q)/4 && len(q) > keptDeadlines {
				q = make([]pendingClient, live, 2*live)
			}
			copy(q, d.queue[d.first:])
			clear(d.queue[live:]) // what stays of the old array must not keep clients alive
			d.queue, d.first = q[:live], 0
		}
	}
	c.deadlineSeq = d.head + uint32(live)
	d.queue = append(d.queue, pendingClient{c: c, deadline: time.Since(d.base) + d.timeout})
	if d.armed {
		return
	}
	d.armed = true
	if d.timer == nil {
		d.timer = time.AfterFunc(d.timeout, d.expire)
	} else {
		d.timer.Reset(d.timeout)
	}
}

// remove ends c's connect timeout, when it joins a namespace or closes:
// its entry no longer holds the client (and its session) in memory, and
// leaves the queue with those before it that are spent, when it is the
// first.
func (d *connectDeadlines) remove(c *client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Past entries give a huge i (unsigned): nothing to do for them.
	i := c.deadlineSeq - d.head
	if int(i) >= len(d.queue)-d.first || d.queue[d.first+int(i)].c != c {
		return
	}
	d.queue[d.first+int(i)].c = nil
	if i == 0 {
		n := 0
		for d.first+n < len(d.queue) && d.queue[d.first+n].c == nil {
			n++
		}
		d.drop(n)
	}
}

// keptDeadlines is the size of queue array kept once the queue is empty
// (4 KiB): a larger one, left by a burst of connections, is let go.
const keptDeadlines = 256

// drop takes the first n entries off the queue; d.mu is held.
func (d *connectDeadlines) drop(n int) {
	clear(d.queue[d.first : d.first+n]) // the array must not keep the clients alive
	d.first += n
	d.head += uint32(n)
	if d.first == len(d.queue) { // empty: start again from index 0
		if cap(d.queue) > keptDeadlines {
			d.queue = nil
		} else {
			d.queue = d.queue[:0]
		}
		d.first = 0
	}
}

// expire, run by the timer, closes the clients whose deadline has passed
// without a namespace joined, and arms the timer for the next deadline.
func (d *connectDeadlines) expire() {
	d.mu.Lock()
	now := time.Since(d.base)
	var due []*client
	n := 0
	for ; d.first+n < len(d.queue); n++ {
		e := d.queue[d.first+n]
		if e.c == nil {
			continue // spent: it leaves with the due ones before it
		}
		if e.deadline > now {
			break
		}
		due = append(due, e.c)
	}
	d.drop(n)
	d.armed = len(d.queue) > d.first && !d.stopped
	if d.armed {
		d.timer.Reset(d.queue[d.first].deadline - now)
	}
	d.mu.Unlock()
	for _, c := range due {
		if c.neverConnected() {
			d.logger.Debug("closing a connection that joined no namespace within the connect timeout",
				zap.String("remote", c.address()), zap.Duration("connect_timeout", d.timeout))
			d.timeouts.Add(1)
			c.session.Close()
		}
	}
}

// stop forgets every deadline, when the server shuts down.
func (d *connectDeadlines) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped, d.armed, d.queue, d.first = true, false, nil, 0
	if d.timer != nil {
		d.timer.Stop()
	}
}
