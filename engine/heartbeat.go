package engine

import (
	"sync"
	"time"
)

// Heartbeat deadlines, as Node keeps its timers: one list per duration.
// Every session armed on a list is armed for the same duration, so the
// list stays in due order by appending (to within a firing's delay: a pong
// deadline counts from when the ping was due, see Session.heartbeat), and
// one runtime timer, set for its head, serves the whole list. A session costs two list pointers instead of
// a timer of its own, and re-arming it (every ping, every pong) is an
// unlink and an append instead of a timer-heap update.
//
// A server has a list per duration its sessions use: the ping interval,
// the ping timeout, and their sum (protocol 3's deadline for the client's
// ping), per options in use (SetOptions leaves old sessions on their own).

// heartbeats owns a server's lists. mu guards the lists and the link
// fields of every session on them (hbList, hbPrev, hbNext); it is taken
// with the session's mu held, never the other way round.
type heartbeats struct {
	mu    sync.Mutex
	lists map[time.Duration]*heartbeatList
}

type heartbeatList struct {
	owner      *heartbeats
	d          time.Duration
	head, tail *Session
	timer      *time.Timer // armed for head's due time while the list is not empty
	armedFor   time.Duration
}

// pingSlack is how early a ping may go: a firing sends the pings due
// within pingSlack of it too, so that the pings of sessions due close
// together go out in one firing, one wake-up of the process for them all
// (their pongs then come back together as well). A ping 25 ms early in an
// interval of seconds changes nothing for the client; deadlines (a pong's,
// a protocol 3 ping's) are never taken early.
const pingSlack = 25 * time.Millisecond

// arm puts s at the tail of the list for d, due at due. Called with s.mu.
func (h *heartbeats) arm(s *Session, d, due time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unlinkLocked(s)
	s.hbPing = s.protocol == 4 && !s.awaitingPong
	if h.lists == nil {
		h.lists = make(map[time.Duration]*heartbeatList)
	}
	l := h.lists[d]
	if l == nil {
		l = &heartbeatList{owner: h, d: d}
		h.lists[d] = l
	}
	s.hbList, s.hbPrev, s.hbNext, s.hbDue = l, l.tail, nil, due
	if l.tail != nil {
		l.tail.hbNext = s
	} else {
		l.head = s
	}
	l.tail = s
	if l.head == s {
		l.scheduleLocked(due)
	}
}

// disarm takes s off its list. Called with s.mu.
func (h *heartbeats) disarm(s *Session) {
	h.mu.Lock()
	h.unlinkLocked(s)
	h.mu.Unlock()
}

func (h *heartbeats) unlinkLocked(s *Session) {
	l := s.hbList
	if l == nil {
		return
	}
	if s.hbPrev != nil {
		s.hbPrev.hbNext = s.hbNext
	} else {
		l.head = s.hbNext
	}
	if s.hbNext != nil {
		s.hbNext.hbPrev = s.hbPrev
	} else {
		l.tail = s.hbPrev
	}
	s.hbList, s.hbPrev, s.hbNext = nil, nil, nil
	// The timer stays armed for the old head: when it fires early for the
	// new head it just re-arms (fewer timer updates than following every
	// unlink).
}

// scheduleLocked makes the list's timer fire at due (or earlier, if it is
// already armed for an earlier time).
func (l *heartbeatList) scheduleLocked(due time.Duration) {
	wait := max(due-sinceStart(), 0)
	if l.timer == nil {
		l.timer = time.AfterFunc(wait, l.fire)
		l.armedFor = due
		return
	}
	if l.armedFor > sinceStart() && l.armedFor <= due {
		return // pending, and not later than needed
	}
	l.timer.Reset(wait)
	l.armedFor = due
}

// fire takes every session whose deadline has passed (or whose ping is
// due within pingSlack) off the list and runs its heartbeat, then re-arms
// the timer for the new head.
func (l *heartbeatList) fire() {
	h := l.owner
	h.mu.Lock()
	now := sinceStart()
	dp := dueLists.Get().(*[]*Session)
	due := (*dp)[:0]
	for s := l.head; s != nil && (s.hbDue <= now || s.hbPing && s.hbDue <= now+pingSlack); s = l.head {
		h.unlinkLocked(s)
		due = append(due, s)
	}
	if l.head != nil {
		l.armedFor = 0 // this firing is spent
		l.scheduleLocked(l.head.hbDue)
	}
	h.mu.Unlock()
	for _, s := range due {
		s.heartbeat()
	}
	clear(due)
	*dp = due[:0]
	dueLists.Put(dp)
}

// dueLists are fire's lists of the sessions it takes off, reused: one
// firing takes up to a few hundred at once.
var dueLists = sync.Pool{New: func() any { s := make([]*Session, 0, 64); return &s }}
