package engine

import (
	"os"
	"sync"
	"syscall"
)

// inputPoller tells when an idle WebSocket has input, so that an idle
// connection needs no reader goroutine of its own: each goroutine parked in
// a read holds a stack (2-8 KB), the largest part of what an idle
// connection would cost. One epoll instance watches every registered
// connection (in one-shot mode: a connection is reported once, then
// ignored until it is re-armed); the goroutine that waits on it runs each
// report's callback, which reads a lone heartbeat frame itself and starts
// a reader goroutine for anything else (see batchConn.awaitInput).
//
// That goroutine waits through Go's own network poller (the epoll
// descriptor is itself pollable), not in a blocking epoll_wait, so a report
// costs a goroutine wake-up, not a switch between OS threads.
//
// The epoll instance and its wake pipe live as long as the process. The
// waiting goroutine runs only while connections are registered: when the
// last one leaves it is woken through the pipe and exits, so that a process
// (or test) with no WebSocket has no goroutine of ours.
type inputPoller struct {
	epfd  int
	file  *os.File        // epfd, registered with Go's poller; kept reachable so it is never finalized
	raw   syscall.RawConn // file's, to wait for epfd to become readable
	wakeR int             // read end of the wake pipe, registered under id 0
	wakeW int

	// mu guards the fields below. A registered connection is in slots, at
	// the index in the low half of its id; free are the indexes of the
	// empty slots. A table rather than a map: 8 bytes per connection
	// instead of the ~36 a map entry takes at this size (the table keeps
	// its size after a crowd has left: 12 bytes per connection at most).
	mu       sync.Mutex
	slots    []*batchConn
	free     []uint32
	watched  int    // connections in slots
	nextSeq  uint32 // the high half of the next id, so that a stale report is told apart
	running  bool   // the wait goroutine exists (it alone sets running back to false)
	setupErr error
}

var (
	pollerOnce   sync.Once
	sharedPoller inputPoller
)

// thePoller returns the process's poller, or nil if epoll is unavailable.
func thePoller() *inputPoller {
	pollerOnce.Do(func() { sharedPoller.setup() })
	if sharedPoller.setupErr != nil {
		return nil
	}
	return &sharedPoller
}

func (p *inputPoller) setup() {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		p.setupErr = err
		return
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		p.setupErr = err
		return
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // id 0 (Fd and Pad zero)
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fds[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		p.setupErr = err
		return
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		p.setupErr = err
		return
	}
	p.file = os.NewFile(uintptr(epfd), "engine-input-poller")
	raw, err := p.file.SyscallConn()
	if err != nil {
		p.setupErr = err
		return
	}
	p.epfd, p.raw, p.wakeR, p.wakeW = epfd, raw, fds[0], fds[1]
}

// watchEvents: input, the peer's half-close (reported as input: the read
// returns EOF), one report per arming. Errors and hang-ups are always
// reported.
const watchEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

// A registered connection is its batchConn, under the id it was given
// (watchID: its slot's index, and a sequence number so that a report for
// a connection stopped since does not reach the one that took its slot;
// never 0, the wake pipe's): no structure or callback of its own per
// connection, as an idle one keeps its registration.

// watch registers c and arms it: c.onInput runs on the poller's goroutine
// the next time the connection has input (or fails), with a scratch
// buffer of scratchSize bytes it may use until it returns. It must not
// block: every other report waits for it. Called with c.mu held.
func (p *inputPoller) watch(c *batchConn) error {
	p.mu.Lock()
	var slot uint32
	if n := len(p.free); n > 0 {
		slot = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		slot = uint32(len(p.slots))
		p.slots = append(p.slots, nil)
	}
	p.nextSeq++
	if p.nextSeq == 0 {
		p.nextSeq = 1 // so that no id is 0
	}
	c.watchID = uint64(slot) | uint64(p.nextSeq)<<32
	p.slots[slot] = c
	p.watched++
	if !p.running {
		p.running = true
		go p.wait()
	}
	p.mu.Unlock()
	if err := p.ctl(c, syscall.EPOLL_CTL_ADD); err != nil {
		p.stop(c)
		return err
	}
	return nil
}

// arm asks for c's next report, after a read burst drained the input.
// Input that arrived since is reported at once.
func (p *inputPoller) arm(c *batchConn) error { return p.ctl(c, syscall.EPOLL_CTL_MOD) }

// ctl runs epoll_ctl while the connection holds its descriptor, so the
// descriptor cannot be closed (and its number reused) meanwhile.
func (p *inputPoller) ctl(c *batchConn, op int) error {
	call := epollCtls.Get().(*epollCtl)
	call.epfd, call.op = p.epfd, op
	call.ev = syscall.EpollEvent{Events: watchEvents, Fd: int32(uint32(c.watchID)), Pad: int32(uint32(c.watchID >> 32))}
	err := c.raw.Control(call.do)
	if err == nil {
		err = call.err
	}
	call.err = nil
	epollCtls.Put(call)
	return err
}

// epollCtl is one epoll_ctl call of ctl, with the callback RawConn.Control
// takes made once per pooled value: a closure per call was an allocation
// per heartbeat (each pong re-arms its connection).
type epollCtl struct {
	epfd, op int
	ev       syscall.EpollEvent
	err      error
	do       func(fd uintptr)
}

var epollCtls = sync.Pool{New: func() any {
	call := new(epollCtl)
	call.do = func(fd uintptr) { call.err = syscall.EpollCtl(call.epfd, call.op, int(fd), &call.ev) }
	return call
}}

// stop unregisters c; a report already on its way is dropped. Call it
// before closing the connection: closing removes the descriptor from
// epoll, but not the connection from the map.
func (p *inputPoller) stop(c *batchConn) {
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
	p.mu.Lock()
	// A second stop finds the slot empty, or another connection's.
	if p.lookupLocked(c.watchID) == c {
		slot := uint32(c.watchID)
		p.slots[slot] = nil
		p.free = append(p.free, slot)
		p.watched--
	}
	if p.watched == 0 && p.running {
		_, _ = syscall.Write(p.wakeW, []byte{0}) // the pipe full means a wake is pending anyway
	}
	p.mu.Unlock()
}

// scratchSize is the buffer a report's callback gets: room for a heartbeat
// frame and what may come with it.
const scratchSize = 128

// wait is the poller's goroutine: it dispatches reports until no
// connection is registered.
func (p *inputPoller) wait() {
	events := make([]syscall.EpollEvent, 128)
	ready := make([]*batchConn, 0, 128)
	scratch := newIdleRead(scratchSize)
	_ = p.raw.Read(func(uintptr) bool {
		for {
			n, err := syscall.EpollWait(p.epfd, events, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				// EBADF, EFAULT, EINVAL: impossible with the poller's own
				// descriptor and buffer. Carrying on would leave every idle
				// WebSocket unread without a word.
				panic("engine: epoll_wait failed: " + err.Error())
			}
			var exit bool
			ready, exit = p.dispatch(events[:n], ready[:0])
			for i, c := range ready {
				c.onInput(scratch)
				ready[i] = nil
			}
			if exit {
				return true
			}
			if n < len(events) {
				return false // drained: wait until epfd is readable again
			}
		}
	})
}

// dispatch appends the connection of each report to ready, for the caller
// to run its onInput without p.mu (which re-arms its watch, and may stop
// it), and tells whether the goroutine should exit, no connection being
// registered.
func (p *inputPoller) dispatch(events []syscall.EpollEvent, ready []*batchConn) (_ []*batchConn, exit bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range events {
		id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
		if id == 0 {
			var buf [64]byte
			for {
				if n, _ := syscall.Read(p.wakeR, buf[:]); n <= 0 {
					break
				}
			}
			continue
		}
		if c := p.lookupLocked(id); c != nil {
			ready = append(ready, c)
		}
	}
	if p.watched == 0 {
		p.running = false
		return ready, true
	}
	return ready, false
}

// lookupLocked returns the connection registered under id, or nil; p.mu
// is held.
func (p *inputPoller) lookupLocked(id uint64) *batchConn {
	if slot := uint32(id); int(slot) < len(p.slots) {
		if c := p.slots[slot]; c != nil && c.watchID == id {
			return c
		}
	}
	return nil
}
