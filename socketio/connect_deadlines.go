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
// runtime keeps a stopped timer a while). A queued entry is 16 bytes,
// kept until its deadline even when its client has joined or closed.
type connectDeadlines struct {
	timeout time.Duration
	base    time.Time // deadlines are durations since base (monotonic)
	logger  *zap.Logger

	timeouts atomic.Uint64 // connections closed for joining no namespace in time

	// mu guards the fields below, and the clients' deadlineSeq.
	mu      sync.Mutex
	queue   []pendingClient // by deadline
	head    uint32          // sequence number of queue[0]; wraps around, as deadlineSeq does
	timer   *time.Timer     // armed for queue[0] while armed is set
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
	c.deadlineSeq = d.head + uint32(len(d.queue))
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
// its place in the queue stays until the deadline, but no longer holds
// the client (and its session) in memory.
func (d *connectDeadlines) remove(c *client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// Past entries give a huge i (unsigned): nothing to do for them.
	if i := c.deadlineSeq - d.head; int(i) < len(d.queue) && d.queue[i].c == c {
		d.queue[i].c = nil
	}
}

// expire, run by the timer, closes the clients whose deadline has passed
// without a namespace joined, and arms the timer for the next deadline.
func (d *connectDeadlines) expire() {
	d.mu.Lock()
	now := time.Since(d.base)
	n := 0
	for n < len(d.queue) && d.queue[n].deadline <= now {
		n++
	}
	var due []*client
	for i := range n {
		if c := d.queue[i].c; c != nil {
			due = append(due, c)
		}
		d.queue[i] = pendingClient{} // the array must not keep the client alive
	}
	d.queue = d.queue[n:]
	d.head += uint32(n)
	if len(d.queue) == 0 {
		d.queue = nil
	}
	d.armed = len(d.queue) > 0 && !d.stopped
	if d.armed {
		d.timer.Reset(d.queue[0].deadline - now)
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
	d.stopped, d.armed, d.queue = true, false, nil
	if d.timer != nil {
		d.timer.Stop()
	}
}
