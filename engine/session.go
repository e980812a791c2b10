package engine

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// ErrClosed is returned by Send on a session that is closing or closed.
var ErrClosed = errors.New("engine: session is closed")

// ErrSlowClient is returned by Send when the session's queue of unsent data
// exceeded its limit: the client stopped reading, and the session is closed
// rather than allowed to grow without bound.
var ErrSlowClient = errors.New("engine: client is too far behind; session closed")

type sessionState uint8

const (
	stateOpen    sessionState = iota
	stateClosing              // Close was called: flush what is queued, then close
	stateClosed
)

// pollingCloseTimeout is how long a closing polling session waits for the
// client's next GET to deliver the close packet (Node's closeTimeout).
const pollingCloseTimeout = 30 * time.Second

// closeLinger is how long the sid of a polling session closed by the client
// still answers one GET (with a noop).
const closeLinger = time.Second

// Session is one Engine.IO client connection, whatever its transport.
//
// Concurrency: mu guards every mutable field below it. It is never held
// while calling the application (OnMessage, OnClose) or doing network I/O.
// Network writes are done by one goroutine at a time: on polling, the GET
// handler that takes the queue; on WebSocket, the flusher goroutine started
// on demand when the queue gets its first packet (it exits once the queue is
// empty). The WebSocket reader goroutine is the only reader.
//
// Fields are grouped by what they serve, and each group's flags are
// together at the end, where they pack into a few words: a polling session
// that is opened and abandoned costs little more than this struct, and
// every idle WebSocket keeps one.
type Session struct {
	id        string
	server    *Server
	opts      *settings
	handshake handshakeRecord
	clientIP  string // counted against MaxConnectionsPerIP; "" when that was off at the handshake
	protocol  uint8
	b64       bool // the client wants binary data as base64 text
	isJSONP   bool
	// statsShard is the session's share of the server's traffic counters
	// (Stats.shard), picked from its id at the handshake, so that counting
	// a write reads nothing outside the session's first cache line.
	statsShard uint8

	mu    sync.Mutex
	state sessionState
	// webSocket: the transport is WebSocket (polling before an upgrade).
	webSocket bool
	// closeReason is the index in CloseReasons of why the session ended,
	// once it has.
	closeReason uint8
	// delivered is made by a deliver that must wait for another and closed
	// when the delivery under way ends (rare: only a POST and a WebSocket
	// overlapping during an upgrade); nil otherwise.
	delivered   chan struct{}
	queue       []packet
	queuedBytes int64
	// backlogSince is when the queue last went from empty to holding
	// messages (on the heartbeat clock): how long the client has been
	// behind, for MaxBufferedBytes.
	backlogSince time.Duration

	// polling and upgrade (and their flags below): nil for a session
	// that began on WebSocket, which never polls nor upgrades
	polling *pollingState

	// websocket (and its flags below)
	ws *wsConn

	// heartbeat: the session waits on one of its server's heartbeat lists
	// (heartbeat.go), due at hbDue; the link fields are guarded by the
	// server's heartbeats.mu, hbDue is written under both locks.
	hbList *heartbeatList
	hbPrev *Session
	hbNext *Session
	hbDue  time.Duration // on the monotonic clock, since processStart

	// application callbacks (their delivery state is in the flags below)
	handler  Handler
	onActive func() // until it has run

	// The flags of the groups above.

	// polling
	pollActive bool // a GET is being served (parked or writing)
	posting    bool // a POST is being served
	lingering  bool // closed by the client, kept in the server's map a moment

	// websocket
	flushing bool // a flusher goroutine (or the reader, see startFlushLocked) owns writes to ws
	// readerFlushes: the reader is handling a message and writes what is
	// queued meanwhile when it is done; flushDeferred: something was.
	readerFlushes, flushDeferred bool
	// heldBy is the Batch that queued on the session and starts its
	// write at its Flush; nil when none does.
	heldBy *Batch

	// upgrade
	upgrading bool
	upgraded  bool
	probed    bool // the probe was answered: polling GETs get a noop

	// heartbeat
	hbPing        bool // the entry is for sending a ping (pingSlack applies); written under both locks
	awaitingPong  bool // protocol 4: a ping is out
	pongRefreshed bool

	// delivery of the application callbacks
	delivering    bool // a goroutine is inside HandleMessage
	closeNotified bool // HandleClose was called, or is being called
}

// pollingState is what only a session that began on polling needs, held
// apart so that a WebSocket session, most of them and the longest-lived,
// does not carry it (it keeps the Session in the 256-byte size class).
// Guarded by the session's mu.
type pollingState struct {
	jsonp      string        // JSONP callback index when polling over JSONP ("" otherwise)
	pollWake   chan struct{} // closed to wake the parked GET; nil when none is parked
	postAbort  func()        // cuts the body the POST is reading; nil when none is read
	closeTimer *time.Timer   // a closing polling session waiting for its next GET

	// the upgrade under way
	probeWS      *wsConn
	upgradeTimer *time.Timer
}

// ID is the session id. It is a secret (it authorizes polling requests):
// never log it above debug level.
func (s *Session) ID() string { return s.id }

// Protocol is the Engine.IO protocol revision, 3 or 4.
func (s *Session) Protocol() int { return int(s.protocol) }

// transportName is the current transport's name; mu is held, or the
// transport cannot change meanwhile.
func (s *Session) transportName() string {
	if s.webSocket {
		return transportWebSocket
	}
	return transportPolling
}

// Transport is the current transport, "polling" or "websocket".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transportName()
}

// Request is the handshake request, rebuilt from what the session keeps
// of it on each call: method, URL, protocol, host, headers, peer address
// and TLS state, with no body and context.Background(). The caller owns
// the result.
func (s *Session) Request() *http.Request { return s.handshake.request() }

// RemoteAddr is the network address of the client that made the
// handshake, as net/http's Request.RemoteAddr.
func (s *Session) RemoteAddr() string { return s.handshake.remoteAddr() }

// Handler is what an application gives a session to hear from it. Messages
// of one session are delivered in order and never concurrently;
// HandleClose is called once when the session ends, with Node's reason:
// "transport close", "transport error", "ping timeout", "parse error" or
// "forced close". It never runs concurrently with HandleMessage, and no
// message is delivered after it.
type Handler interface {
	HandleMessage(Message)
	HandleClose(reason string)
}

// SetHandler sets the session's handler. Set it inside the connection
// callback: it is then in place before the first message arrives. A
// long-lived application object that is its own handler costs the session
// nothing more, where OnMessage and OnClose keep their functions in a
// handler of their own.
func (s *Session) SetHandler(h Handler) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

// OnMessage sets the message handler: HandleMessage of a handler that
// calls fn, keeping the function OnClose set (and replacing a Handler set
// with SetHandler).
func (s *Session) OnMessage(fn func(Message)) {
	s.mu.Lock()
	h := s.funcHandlerLocked()
	h.message = fn
	s.handler = h
	s.mu.Unlock()
}

// OnClose sets the function called once when the session ends (see
// Handler.HandleClose), keeping the function OnMessage set.
func (s *Session) OnClose(fn func(reason string)) {
	s.mu.Lock()
	h := s.funcHandlerLocked()
	h.close = fn
	s.handler = h
	s.mu.Unlock()
}

// funcHandler is the Handler of OnMessage and OnClose. A new one is made
// for each change, so that a delivery under way keeps calling the
// functions it read.
type funcHandler struct {
	message func(Message)
	close   func(reason string)
}

func (h *funcHandler) HandleMessage(m Message) {
	if h.message != nil {
		h.message(m)
	}
}

func (h *funcHandler) HandleClose(reason string) {
	if h.close != nil {
		h.close(reason)
	}
}

// funcHandlerLocked returns a copy of the session's funcHandler, or a new
// one; s.mu is held.
func (s *Session) funcHandlerLocked() *funcHandler {
	h := new(funcHandler)
	if old, ok := s.handler.(*funcHandler); ok {
		*h = *old
	}
	return h
}

// OnActive sets fn to run once, when the client first comes back after
// its handshake: before the session serves its first poll, post or
// upgrade request; for a session opened over WebSocket, as soon as the
// handshake is done. Set it in the connection callback. It runs like a
// message delivery (never concurrently with the message handler, and
// before any message that comes with or after that request), so work that
// a client needs only once it is actually there, and that a flood of
// abandoned handshakes should not cost, can wait for it.
func (s *Session) OnActive(fn func()) {
	s.mu.Lock()
	s.onActive = fn
	s.mu.Unlock()
}

// activate runs the OnActive function, if it has not run.
func (s *Session) activate() {
	s.mu.Lock()
	fn := s.onActive
	s.onActive = nil
	s.mu.Unlock()
	if fn != nil {
		s.serialize(fn)
	}
}

// Send queues a message. It never blocks on the network; m.Data must not
// change afterwards.
func (s *Session) Send(m Message) error {
	_, err := s.enqueue([]packet{messagePacket(m)}, false)
	return err
}

// SendPrepared queues a prepared message, whose framing is shared with the
// other receivers.
func (s *Session) SendPrepared(pm *PreparedMessage) error {
	_, err := s.enqueue([]packet{pm.packet()}, false)
	return err
}

// SendVolatile sends msgs only if the transport can write them at once,
// and reports whether it did: all of them are queued, or none (a packet
// split into several messages is never cut). It is Node's volatile
// emit, which drops the packet when engine.io's transport.writable is
// false: on polling, unless a GET is parked waiting for data; on
// WebSocket, while a write is under way or anything is queued. An
// accepted message is ordered like a Send: after every message queued
// before, before every one queued after. Data must not change afterwards.
func (s *Session) SendVolatile(msgs ...Message) bool {
	pkts := make([]packet, len(msgs))
	for i, m := range msgs {
		pkts[i] = messagePacket(m)
	}
	ok, _ := s.enqueue(pkts, true)
	return ok
}

// SendPreparedVolatile is SendVolatile for prepared messages (a volatile
// broadcast).
func (s *Session) SendPreparedVolatile(pms ...*PreparedMessage) bool {
	pkts := make([]packet, len(pms))
	for i, pm := range pms {
		pkts[i] = pm.packet()
	}
	ok, _ := s.enqueue(pkts, true)
	return ok
}

// Close flushes what is queued, tells the client, and ends the session with
// reason "forced close". It is idempotent and does not wait.
func (s *Session) Close() {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.state = stateClosing
	if s.webSocket {
		s.startFlushLocked()
		s.mu.Unlock()
		return
	}
	if s.polling.pollWake != nil {
		s.wakePollLocked()
	} else {
		// Node's "shouldClose": the close packet rides on the next GET.
		s.polling.closeTimer = time.AfterFunc(pollingCloseTimeout, func() { s.terminate("forced close") })
	}
	s.mu.Unlock()
}

// maxQueued is how many bytes of unsent messages a session may hold before
// the client is considered gone: generous, so only a client that stopped
// reading reaches it.
func (s *Session) maxQueued() int64 { return max(16*s.opts.MaxPayload, 1<<20) }

// enqueue queues pkts and gets them moving. volatile: only if the
// transport can write them at once (writableLocked), else nothing is
// queued and queued is false.
func (s *Session) enqueue(pkts []packet, volatile bool) (queued bool, err error) {
	return s.enqueueIn(nil, pkts, volatile)
}

// enqueueIn is enqueue as part of batch b (none when nil): the write is
// then left to b.Flush, unless another batch already holds the session.
func (s *Session) enqueueIn(b *Batch, pkts []packet, volatile bool) (queued bool, err error) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false, ErrClosed
	}
	if volatile && !s.writableLocked() {
		s.mu.Unlock()
		s.server.stats.volatileDropped.Add(1) // one packet, of one or more messages
		return false, nil
	}
	if s.queuedBytes == 0 {
		s.backlogSince = sinceStart()
	}
	s.queue = append(s.queue, pkts...)
	for _, p := range pkts {
		s.queuedBytes += int64(len(p.data))
	}
	total := s.server.chargeBytes(pkts)
	if s.queuedBytes > s.maxQueued() {
		queued := s.queuedBytes
		s.mu.Unlock()
		s.opts.Logger.Warn("engine: closing a client that stopped reading",
			zap.String("remote_addr", s.handshake.remoteAddr()), zap.Int64("queued_bytes", queued))
		s.server.stats.slowClosed.Add(1)
		// terminate may wait briefly to send a close frame; Send must not.
		go s.terminate("transport error")
		return false, ErrSlowClient
	}
	switch {
	case b != nil && s.heldBy == b: // b starts the write
	case b != nil && s.heldBy == nil:
		s.heldBy = b
		b.held = append(b.held, s)
	default:
		s.flushLocked()
	}
	s.mu.Unlock()
	s.server.overBudget(total)
	return true, nil
}

// writableLocked is engine.io's transport.writable: whether the current
// transport would write a packet now rather than hold it. A polling
// transport is writable while a GET is parked (it parks only when nothing
// is queued, and is woken by the first packet); a WebSocket while no
// flusher runs (the flusher exits only once the queue is empty and its
// last write returned). A session mid-upgrade answers for its polling
// transport, as Node's does.
func (s *Session) writableLocked() bool {
	if len(s.queue) > 0 {
		return false
	}
	if s.webSocket {
		return s.ws != nil && !s.flushing
	}
	return s.polling.pollWake != nil
}

// enqueueLocked sends a control packet (ping, pong) with mu held: written
// at once to an idle WebSocket (writeIdleLocked), queued otherwise.
func (s *Session) enqueueLocked(p packet) {
	if s.writeIdleLocked(p) {
		return
	}
	s.queue = append(s.queue, p)
	s.flushLocked()
}

// takeQueueLocked hands the queued packets to the writer.
func (s *Session) takeQueueLocked() []packet {
	q := s.queue
	s.queue = nil
	s.queuedBytes = 0
	return q
}

// flushLocked gets the queue moving on the current transport.
func (s *Session) flushLocked() {
	if s.webSocket {
		s.startFlushLocked()
	} else {
		s.wakePollLocked()
	}
}

// handlePacket acts on one packet from the client, in arrival order. It is
// called by the POST handler or the WebSocket reader, without mu held.
func (s *Session) handlePacket(p packet) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	if p.typ == packetClose {
		// The client is leaving (polling clients send it; WebSocket ones
		// close the socket, but treat it the same).
		s.mu.Unlock()
		s.terminate("transport close")
		return
	}
	if s.state != stateOpen {
		s.mu.Unlock() // Node ignores packets once the session is closing
		return
	}
	if s.protocol == 4 && s.awaitingPong && !s.pongRefreshed && p.typ != packetPong {
		// Any packet proves the client is alive while we wait for its
		// pong; Node extends the deadline once per ping.
		s.pongRefreshed = true
		s.armHeartbeatLocked(s.opts.PingTimeout)
	}
	switch p.typ {
	case packetPing:
		if s.protocol == 4 {
			s.mu.Unlock()
			s.opts.Logger.Debug("engine: client sent a ping on protocol 4 (invalid heartbeat direction)", zap.String("sid", s.id))
			s.terminate("transport error")
			return
		}
		s.armHeartbeatLocked(s.opts.PingInterval + s.opts.PingTimeout)
		s.enqueueLocked(packet{typ: packetPong})
		s.mu.Unlock()
	case packetPong:
		if s.protocol == 3 {
			s.mu.Unlock()
			s.terminate("transport error")
			return
		}
		s.awaitingPong = false
		s.armHeartbeatLocked(s.opts.PingInterval)
		s.mu.Unlock()
	case packetMessage:
		s.mu.Unlock()
		s.deliver(Message{Data: p.data, Binary: p.binary})
	default: // open, upgrade and noop mean nothing here
		s.mu.Unlock()
	}
}

// deliver calls the message handler, one message at a time per session.
func (s *Session) deliver(m Message) {
	s.mu.Lock()
	h := s.handler
	s.mu.Unlock()
	if h != nil {
		s.serialize(func() { h.HandleMessage(m) })
	}
}

// serialize runs an application callback after any other one under way,
// unless the session has closed: deliveries of one session never overlap.
// If the session closed meanwhile, OnClose runs after it.
func (s *Session) serialize(fn func()) {
	s.mu.Lock()
	for s.delivering {
		if s.delivered == nil {
			s.delivered = make(chan struct{})
		}
		done := s.delivered
		s.mu.Unlock()
		<-done
		s.mu.Lock()
	}
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.delivering = true
	s.mu.Unlock()

	fn()

	s.mu.Lock()
	s.delivering = false
	notify := s.state == stateClosed && !s.closeNotified
	if notify {
		s.closeNotified = true
	}
	h, reason := s.handler, CloseReasons[s.closeReason]
	if s.delivered != nil {
		close(s.delivered)
		s.delivered = nil
	}
	s.mu.Unlock()
	if notify && h != nil {
		h.HandleClose(reason)
	}
}

// terminate ends the session at once (idempotent): timers stop, connections
// close, a parked GET is answered, and OnClose runs (here, or after the
// message being delivered, if any).
func (s *Session) terminate(reason string) { s.end(reason, true) }

// end is terminate; graceful=false skips the close frame and its wait (up to
// closeGrace while a stuck write holds the connection), for Shutdown's
// deadline.
func (s *Session) end(reason string, graceful bool) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	s.closeReason = uint8(closeReasonIndex(reason))
	s.stopTimersLocked()
	s.server.releaseBytes(s.queue)
	s.queue, s.queuedBytes = nil, 0
	s.wakePollLocked()
	ws, probe, postAbort := s.ws, (*wsConn)(nil), (func())(nil)
	if p := s.polling; p != nil {
		probe, postAbort = p.probeWS, p.postAbort
		p.postAbort = nil
	}
	linger := reason == "transport close" && !s.webSocket && !s.pollActive
	s.lingering = linger
	notify := !s.delivering
	if notify {
		s.closeNotified = true
	}
	h := s.handler
	transport := s.transportName()
	s.mu.Unlock()
	s.server.stats.closed(s.protocol, transport, reason)

	s.opts.Logger.Debug("engine: session closed", zap.String("sid", s.id), zap.String("reason", reason))
	if linger {
		// The client said goodbye over POST while its GET may still be on
		// the way (the two race on separate connections): keep the sid
		// answerable a moment so that GET ends with a noop, not a 400.
		time.AfterFunc(closeLinger, func() { s.server.remove(s) })
	} else {
		s.server.remove(s)
	}
	if postAbort != nil {
		postAbort() // a POST still reading its body must not outlive the session
	}
	for _, conn := range []*wsConn{ws, probe} {
		switch {
		case conn == nil:
		case graceful:
			closeWebSocket(conn)
		default:
			conn.Close()
		}
	}
	if notify && h != nil {
		h.HandleClose(reason)
	}
}

func (s *Session) stopTimersLocked() {
	if p := s.polling; p != nil {
		for _, t := range []*time.Timer{p.closeTimer, p.upgradeTimer} {
			if t != nil {
				t.Stop()
			}
		}
		p.closeTimer, p.upgradeTimer = nil, nil
	}
	s.server.heartbeats.disarm(s)
}

// startHeartbeatLocked starts the heartbeat when the handshake is sent: in
// protocol 4 the server pings, in protocol 3 it waits for the client's pings.
func (s *Session) startHeartbeatLocked() {
	if s.protocol == 3 {
		s.armHeartbeatLocked(s.opts.PingInterval + s.opts.PingTimeout)
		return
	}
	s.armHeartbeatLocked(s.opts.PingInterval)
}

// armHeartbeatLocked sets the next heartbeat event d from now: sending a
// ping (protocol 4, no ping out), or the deadline for the client's next
// sign of life (its pong in protocol 4, its ping in protocol 3).
func (s *Session) armHeartbeatLocked(d time.Duration) {
	if s.state == stateClosed {
		return // the heartbeat is over for good
	}
	s.server.heartbeats.arm(s, d, sinceStart()+d)
}

// heartbeatOverdue reports whether the deadline for the client's sign of
// life (its pong in protocol 4, its ping in protocol 3) has passed.
func (s *Session) heartbeatOverdue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != stateClosed && (s.protocol == 3 || s.awaitingPong) && s.hbDue != 0 && sinceStart() >= s.hbDue
}

// heartbeat runs when the session's heartbeat deadline has passed.
func (s *Session) heartbeat() {
	s.mu.Lock()
	if early := s.hbDue - sinceStart(); s.state == stateClosed || early > 0 && !(s.hbPing && early <= pingSlack) {
		s.mu.Unlock() // over, or re-armed since its list let it go
		return
	}
	if s.protocol == 4 && !s.awaitingPong {
		if s.state == stateOpen {
			s.awaitingPong, s.pongRefreshed = true, false
			s.enqueueLocked(packet{typ: packetPing})
			// The pong is due pingTimeout after the ping was due, not
			// after this late firing: a client's deadline is interval +
			// timeout from its handshake or pong, as Node's timers give.
			// (The list's order may then be off by the firing's delay, a
			// few milliseconds; an entry behind a later one fires that
			// much late.)
			s.server.heartbeats.arm(s, s.opts.PingTimeout, s.hbDue+s.opts.PingTimeout)
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	// Not on the list's goroutine: closing a WebSocket may wait for its
	// close frame, and the list has other sessions to serve.
	go s.terminate("ping timeout")
}

// processStart anchors heartbeat due times on the monotonic clock in a
// Duration (8 bytes, where a time.Time takes 24).
var processStart = time.Now()

func sinceStart() time.Duration { return time.Since(processStart) }
