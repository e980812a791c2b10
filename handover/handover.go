package handover

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// groups holds one group per listening address.
var groups sync.Map // string -> *group

// group is the listeners of one address, oldest first.
type group struct {
	mu        sync.Mutex
	listeners []*Listener // open ones, oldest first; guarded by mu
	// retired are closed listeners whose sockets stay open, accepting for
	// the newest, while a newer one is open: closing a socket resets the
	// connections queued on it, and with SO_REUSEPORT the kernel queues
	// new connections on every socket of the address. Guarded by mu.
	retired []*Listener
}

// maxRetired bounds the sockets kept open for an address after their
// listeners closed (one more per reload, each with its accept goroutine):
// past it, the oldest is closed, resetting what the kernel queued on it at
// that moment. The reload stress scenario (bench/stress.sh) does 20
// reloads and more in a row; at 16, its clients saw those resets.
const maxRetired = 64

// Listener is a net.Listener whose accepted connections go to the newest
// open Listener of its address.
type Listener struct {
	net.Listener
	group *group
	conns chan net.Conn // connections for this Listener's Accept

	closeOnce sync.Once
	closed    chan struct{}
	acceptErr error // the socket's failure; written under group.mu, before closed is closed
	done      chan struct{}
}

// Wrap makes ln the newest listener of its address and starts accepting on
// it.
func Wrap(ln net.Listener) *Listener {
	key := ln.Addr().Network() + " " + ln.Addr().String()
	g, _ := groups.LoadOrStore(key, &group{})
	l := &Listener{
		Listener: ln,
		group:    g.(*group),
		conns:    make(chan net.Conn),
		closed:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	l.group.mu.Lock()
	l.group.listeners = append(l.group.listeners, l)
	l.group.mu.Unlock()
	go l.acceptLoop()
	return l
}

// newest returns the newest open listener of the group, or nil.
func (g *group) newest() *Listener {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.listeners) == 0 {
		return nil
	}
	return g.listeners[len(g.listeners)-1]
}

// acceptLoop accepts on the socket until Close, and hands each connection
// to the newest listener.
func (l *Listener) acceptLoop() {
	defer close(l.done)
	var delay time.Duration
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-l.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// A temporary failure (too many open files shows as one
				// too): wait and retry, as net/http's Serve does.
				delay = max(5*time.Millisecond, min(2*delay, time.Second))
				time.Sleep(delay)
				continue
			}
			l.group.mu.Lock()
			l.acceptErr = err // Close and Accept read it after taking mu or closed
			l.group.mu.Unlock()
			l.Close()
			return
		}
		delay = 0
		l.deliver(conn)
	}
}

// deliver gives conn to the newest open listener's Accept; with none left,
// conn is closed.
func (l *Listener) deliver(conn net.Conn) {
	for {
		to := l.group.newest()
		if to == nil {
			conn.Close()
			return
		}
		select {
		case to.conns <- &replayConn{Conn: conn, from: to}:
			return
		case <-to.closed:
			// it closed meanwhile: try the next newest
		}
	}
}

// Accept returns the next connection accepted on any socket of the address
// while this is the newest listener.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case conn := <-l.conns:
		return conn, nil
	case <-l.closed:
		l.group.mu.Lock()
		err := l.acceptErr
		l.group.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return nil, net.ErrClosed
	}
}

// Close closes the socket; connections accepted on it from now on, and
// those accepted by older listeners, go to the next newest listener.
//
// While a newer listener of the address is open, the socket itself stays
// open, accepting for the newest (see group.retired), until the newest
// closes or more than maxRetired sockets are kept.
func (l *Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		g := l.group
		g.mu.Lock()
		for i, x := range g.listeners {
			if x == l {
				g.listeners = append(g.listeners[:i], g.listeners[i+1:]...)
				break
			}
		}
		retire := len(g.listeners) > 0 && l.acceptErr == nil
		if retire {
			g.retired = append(g.retired, l)
		}
		var sockets []*Listener
		if len(g.listeners) == 0 {
			sockets, g.retired = g.retired, nil
		} else if len(g.retired) > maxRetired {
			sockets, g.retired = g.retired[:1], g.retired[1:]
		}
		g.mu.Unlock()
		close(l.closed)
		if !retire {
			err = l.Listener.Close()
		}
		for _, r := range sockets {
			r.Listener.Close() // its accept loop ends
		}
	})
	return err
}

// maxReplay bounds what a connection keeps of its input to hand it over:
// the first request's head is all that matters, and Go's servers read it
// in one or two reads.
const maxReplay = 64 << 10

// replayConn is a connection as a Listener's Accept hands it out. Until the
// server writes to it, it keeps what the server read; if the server then
// closes it without a word while a newer listener is open (net/http does
// so with a request it reads after Shutdown began), the connection goes to
// the newest listener instead, its input replayed, and the client never
// knows.
type replayConn struct {
	net.Conn
	from *Listener

	// through: PassThrough was called; reads and writes go straight to
	// Conn, and the connection is never handed over.
	through atomic.Bool

	mu      sync.Mutex
	prefix  []byte // input to return before reading more (after a hand-over)
	read    []byte // input read while nothing was written
	wrote   bool   // something was written, or too much read: no hand-over
	handed  bool   // handed over: Close must not close the connection
	closing bool
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.through.Load() {
		return c.Conn.Read(p)
	}
	c.mu.Lock()
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		c.keepLocked(p[:n])
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.keepLocked(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

func (c *replayConn) keepLocked(b []byte) {
	if c.wrote {
		return
	}
	if len(c.read)+len(b) > maxReplay {
		c.wrote, c.read = true, nil
		return
	}
	c.read = append(c.read, b...)
}

func (c *replayConn) Write(p []byte) (int, error) {
	if c.through.Load() {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	c.wrote, c.read = true, nil
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// PassThrough is for a hijacked connection (a WebSocket): it is never
// handed over, keeps nothing of its input, and the connection under it may
// be read directly; the engine package's poller does, to hold no goroutine
// per idle WebSocket. It returns that connection, or nil while replayed
// input is still to be read through c.
func (c *replayConn) PassThrough() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.prefix) > 0 {
		return nil
	}
	c.wrote, c.read = true, nil
	c.through.Store(true)
	return c.Conn
}

func (c *replayConn) Close() error {
	c.mu.Lock()
	if c.handed || c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	silent := !c.wrote
	replay := append(c.read, c.prefix...)
	c.mu.Unlock()
	if silent {
		// The server that closed it is shutting down: its listener is
		// closed, or about to be (net/http marks a server as shutting
		// down, and drops what it reads from then on, just before it
		// closes the listeners), which a newer listener tells.
		if to := c.from.group.newest(); to != nil && to != c.from {
			c.mu.Lock()
			c.handed = true
			c.mu.Unlock()
			go to.deliverReplay(c.Conn, replay)
			return nil
		}
	}
	return c.Conn.Close()
}

// deliverReplay hands a connection that an older listener's server dropped
// to this listener (or, if it closed meanwhile, the next newest).
func (l *Listener) deliverReplay(conn net.Conn, replay []byte) {
	for {
		to := l
		if to == nil {
			conn.Close()
			return
		}
		rc := &replayConn{Conn: conn, from: to, prefix: replay}
		select {
		case to.conns <- rc:
			return
		case <-to.closed:
			l = to.group.newest()
		}
	}
}
