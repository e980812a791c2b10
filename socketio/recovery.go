package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"go.uber.org/zap"
)

// RecoveryOptions turns on connection state recovery, Node's
// connectionStateRecovery: a socket.io-client 4.6 or later (it needs no
// option) whose connection drops gets back, when it reconnects within
// MaxDisconnectionDuration, its socket id, rooms, Data and Meta, and every
// stored packet it missed, before its CONNECT answer. Beyond Node, a client
// that had received no stored packet (it sends its pid without an offset)
// recovers too, and a replay never starts before the socket first
// connected.
//
// What is stored, as in Node: the EVENT packets broadcast or emitted to a
// socket without an acknowledgement id and not volatile. Each gets an offset,
// appended as its last argument on the wire (the client remembers the last
// one it received and sends it back with its session id, pid, when it
// reconnects). Clients of protocol revision 4 (socket.io-client 2.x) cannot
// recover, and unlike Node's, their packets carry no offset: it would reach
// their handlers as an extra argument.
//
// Memory is bounded per namespace: stored packets older than
// MaxDisconnectionDuration are dropped, and so are the oldest ones beyond
// MaxLogBytes. A client whose offset is older than the oldest packet kept
// (it was away too long, or the namespace broadcast more than MaxLogBytes
// meanwhile) gets a fresh socket (a new id, no rooms, recovered false), as
// Node answers an offset no longer in its log: the application then knows
// it must resynchronise that client. So does, at its next attempt, a client
// that missed more than its connection may queue (the engine closes it as
// a slow client while it replays).
//
// A stored event keeps its binary arguments as they were passed (no copy):
// do not change a []byte after emitting it.
type RecoveryOptions struct {
	// MaxDisconnectionDuration is how long the session of a disconnected
	// socket is kept, and how long stored packets are; 2 minutes when zero,
	// as in Node.
	MaxDisconnectionDuration time.Duration
	// SkipMiddlewares lets a recovered socket connect without running the
	// namespace's middlewares (Use and UseAsync), as Node's skipMiddlewares.
	// Note that Node's default is true and this one's is false.
	SkipMiddlewares bool
	// MaxLogBytes caps the memory of each namespace's stored packets (their
	// encoded size plus about 100 bytes each); 32 MiB when zero.
	MaxLogBytes int

	// now is the clock, time.Now unless a test sets it.
	now func() time.Time
}

const (
	defaultMaxDisconnectionDuration = 2 * time.Minute
	defaultMaxLogBytes              = 32 << 20
	// logEntryOverhead is what a stored packet costs besides its bytes
	// and its room names: the entry, the slice headers.
	logEntryOverhead = 80
	// maxOffsetLen bounds an offset a client sends; ours have 8 to 13
	// characters.
	maxOffsetLen = 13
	// maxPIDLen bounds a session id a client sends; ours have 20.
	maxPIDLen = 64
)

// withDefaults returns the options with their defaults filled in.
func (o RecoveryOptions) withDefaults() RecoveryOptions {
	if o.MaxDisconnectionDuration <= 0 {
		o.MaxDisconnectionDuration = defaultMaxDisconnectionDuration
	}
	if o.MaxLogBytes <= 0 {
		o.MaxLogBytes = defaultMaxLogBytes
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o
}

// recovery is one namespace's connection state recovery: the log of stored
// packets and the sessions of disconnected sockets.
type recovery struct {
	opts atomic.Pointer[RecoveryOptions] // replaced whole by Server.SetRecoveryOptions

	// mu guards the log and orders the stored packets: it is held from the
	// moment a packet gets its offset until it is queued on every receiver,
	// and while a recovering socket gets its missed packets, its CONNECT
	// answer and its place among the receivers. So every client sees the
	// stored packets in offset order (the last offset it saw stands for
	// all before it), and a recovering socket gets each packet once, from
	// the log or live. Lock order: mu, then the adapter's and the
	// namespace's locks, then a client's write lock.
	mu      sync.Mutex
	entries []logEntry // entries[head:] are the log, oldest first
	head    int
	first   uint64 // offset sequence number of entries[head], or of the next entry when empty
	bytes   int    // memory of the log, as MaxLogBytes counts it
	scratch []byte // where a stored packet is encoded before its copy

	// sessMu guards sessions and order; when both are held, sessMu first.
	sessMu   sync.Mutex
	sessions map[string]*recoverySession // by pid
	order    []*recoverySession          // oldest disconnection first, for expiry; may hold sessions no longer in sessions
}

// logEntry is one stored packet: its wire form (with the offset) for
// revision 5 clients and whom it went to.
type logEntry struct {
	at int64 // Unix nanoseconds
	// targets are the broadcast's rooms, then its except rooms, in one
	// array (an idle log is mostly these small arrays): nRooms of each.
	targets     []string
	nRooms      int32
	text        []byte
	attachments [][]byte
}

func (e *logEntry) rooms() []string  { return e.targets[:e.nRooms] }
func (e *logEntry) except() []string { return e.targets[e.nRooms:] }

// targetsOf copies a broadcast's rooms and except rooms into one array.
func targetsOf(opts *BroadcastOptions) ([]string, int32) {
	if len(opts.Rooms)+len(opts.Except) == 0 {
		return nil, 0
	}
	t := make([]string, 0, len(opts.Rooms)+len(opts.Except))
	t = append(append(t, opts.Rooms...), opts.Except...)
	return t, int32(len(opts.Rooms))
}

// recoverySession is what a disconnected socket leaves for its client to
// take back.
type recoverySession struct {
	sid, pid string
	rooms    []string
	data     any
	meta     json.RawMessage
	at       int64 // disconnection, Unix nanoseconds
	// since is the sequence number of the first packet stored after the
	// socket first connected: nothing before was meant for it.
	since uint64

	// from is the sequence number of the last offset the recovering
	// client saw, set when it is taken.
	from uint64

	// stored is the session as a SessionStore gave it back; nil for one
	// of the namespace's own.
	stored *StoredSession
}

func newRecovery(opts RecoveryOptions) *recovery {
	// Offsets start at a random point so that they look like no small
	// number an application might send as the last argument of an event
	// (the client takes any string there for an offset).
	start := 1<<40 + rand.Uint64N(1<<40)
	r := &recovery{first: start, sessions: make(map[string]*recoverySession)}
	r.opts.Store(&opts)
	return r
}

// recoverableReasons are the disconnect reasons that keep a session:
// exactly Node's RECOVERABLE_DISCONNECT_REASONS. A client that leaves on
// purpose, or that the server disconnects from the namespace, does not
// come back for its state.
func recoverableReason(reason string) bool {
	switch reason {
	case "transport error", "transport close", "forced close", "ping timeout", "server shutting down", "forced server close":
		return true
	}
	return false
}

// formatOffset is the wire form of the offset with sequence number seq.
func formatOffset(buf []byte, seq uint64) []byte { return strconv.AppendUint(buf, seq, 36) }

// parseOffset reads an offset a client sent back; only the canonical form
// of a number is accepted, so that one offset has one spelling.
func parseOffset(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > maxOffsetLen {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 36, 64)
	if err != nil {
		return 0, false
	}
	var buf [maxOffsetLen]byte
	if string(formatOffset(buf[:0], seq)) != s {
		return 0, false
	}
	return seq, true
}

// recoveryAuth extracts pid and offset from a CONNECT payload, JSON strings
// as Node requires (typeof ... === "string"); keys are matched exactly, as
// in JavaScript. The offset may be absent (hasOffset false): the client
// sends none until it has received a stored packet.
func recoveryAuth(auth json.RawMessage) (pid, offset string, hasOffset, ok bool) {
	// The fast path for a CONNECT without recovery; "\u" because a key
	// may be written with escapes and still be "pid" to JSON.parse.
	if !bytes.Contains(auth, []byte(`pid`)) && !bytes.Contains(auth, []byte(`\u`)) {
		return "", "", false, false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(auth, &fields) != nil {
		return "", "", false, false
	}
	rawPID, rawOffset := fields["pid"], fields["offset"]
	if len(rawPID) == 0 || rawPID[0] != '"' || json.Unmarshal(rawPID, &pid) != nil {
		return "", "", false, false
	}
	if len(pid) == 0 || len(pid) > maxPIDLen {
		return "", "", false, false
	}
	if rawOffset == nil {
		return pid, "", false, true
	}
	if rawOffset[0] != '"' || json.Unmarshal(rawOffset, &offset) != nil {
		return "", "", false, false
	}
	return pid, offset, true, true
}

// storable tells whether a broadcast packet goes to the log: an EVENT
// without acknowledgement id, not volatile (Node's SessionAwareAdapter).
func storable(p *Packet, opts *BroadcastOptions) bool {
	return p.Type == PacketEvent && !p.HasID && !opts.Flags.Volatile
}

// nextLocked is the sequence number the next stored packet gets; r.mu is
// held.
func (r *recovery) nextLocked() uint64 { return r.first + uint64(len(r.entries)-r.head) }

// withOffsetLocked returns the text part of p with offset seq appended to
// its arguments: the encoding of p ends with the "]" of its array, which
// has the event name at least, so the offset follows a comma. It is
// written in r.scratch, then copied to an array of its exact size, as the
// log keeps it; r.mu is held.
func (r *recovery) withOffsetLocked(p *Packet, seq uint64) []byte {
	text := appendPacket(r.scratch[:0], p)
	text = append(text[:len(text)-1], ',', '"')
	text = formatOffset(text, seq)
	text = append(text, '"', ']')
	if cap(text) <= 64<<10 {
		r.scratch = text // kept for the next one, unless a huge packet grew it
	}
	return append(make([]byte, 0, len(text)), text...)
}

// broadcast stores p, then queues it on every local socket opts selects:
// with its offset for revision 5 clients, without for revision 4 ones. Each
// form is encoded once. The receivers' writes start at b.Flush when b is
// not nil.
func (r *recovery) broadcast(a *MemoryAdapter, b *engine.Batch, p *Packet, opts *BroadcastOptions) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.nextLocked()
	text := r.withOffsetLocked(p, seq)
	a.deliverStored(b, p, opts, prepareParts(text, p.Args.Attachments))
	targets, nRooms := targetsOf(opts)
	r.appendLocked(logEntry{targets: targets, nRooms: nRooms, text: text, attachments: p.Args.Attachments})
}

// emit stores p, an event for socket s alone (Node routes socket.emit
// through its adapter when recovery is on, to the socket's own room), and
// queues it with its offset.
func (r *recovery) emit(s *Socket, p *Packet) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	text := r.withOffsetLocked(p, r.nextLocked())
	err := s.client.writeParts(text, p.Args.Attachments)
	// Stored even if the connection is gone: the client may come back for
	// it before the socket notices.
	r.appendLocked(logEntry{targets: []string{s.id}, nRooms: 1, text: text, attachments: p.Args.Attachments})
	return err
}

// appendLocked adds e to the log, stamped now, and prunes; r.mu is held.
func (r *recovery) appendLocked(e logEntry) {
	now := r.opts.Load().now()
	e.at = now.UnixNano()
	r.entries = append(r.entries, e)
	r.bytes += entrySize(&e)
	r.pruneLocked(now)
}

// entrySize is what an entry counts against MaxLogBytes.
func entrySize(e *logEntry) int {
	n := logEntryOverhead + len(e.text)
	for _, att := range e.attachments {
		n += len(att)
	}
	for _, room := range e.targets {
		n += 16 + len(room)
	}
	return n
}

// pruneLocked drops the entries older than MaxDisconnectionDuration and the
// oldest beyond MaxLogBytes; r.mu is held.
func (r *recovery) pruneLocked(now time.Time) {
	opts := r.opts.Load()
	threshold := now.Add(-opts.MaxDisconnectionDuration).UnixNano()
	for r.head < len(r.entries) {
		e := &r.entries[r.head]
		if e.at >= threshold && r.bytes <= opts.MaxLogBytes {
			break
		}
		r.bytes -= entrySize(e)
		*e = logEntry{} // let the bytes go
		r.head++
		r.first++
	}
	switch {
	case r.head == len(r.entries):
		r.entries, r.head = r.entries[:0], 0
	case r.head > 64 && r.head > len(r.entries)/2:
		// Slide the live half down, so the array does not grow forever
		// at its end while it empties at its start.
		n := copy(r.entries, r.entries[r.head:])
		clear(r.entries[n:])
		r.entries, r.head = r.entries[:n], 0
	}
}

// validLocked tells whether every stored packet after offset from is
// still in the log: from is one we gave (before the next one), and no
// packet after it was pruned. r.mu is held.
func (r *recovery) validLocked(from uint64) bool {
	return from+1 >= r.first && from < r.nextLocked()
}

// persist keeps the session of a socket that disconnected for a
// recoverable reason; r may be nil (recovery turned off meanwhile).
func (r *recovery) persist(sess *recoverySession) {
	if r == nil {
		return
	}
	now := r.opts.Load().now()
	sess.at = now.UnixNano()
	r.sessMu.Lock()
	defer r.sessMu.Unlock()
	r.sessions[sess.pid] = sess
	r.order = append(r.order, sess)
	r.pruneSessionsLocked(now)
}

// pruneSessionsLocked forgets the sessions older than
// MaxDisconnectionDuration; r.sessMu is held.
func (r *recovery) pruneSessionsLocked(now time.Time) {
	threshold := now.Add(-r.opts.Load().MaxDisconnectionDuration).UnixNano()
	i := 0
	for ; i < len(r.order) && r.order[i].at < threshold; i++ {
		// Only this very session: one taken back may have been followed
		// by a newer one of the same pid (the socket dropped again).
		if sess := r.order[i]; r.sessions[sess.pid] == sess {
			delete(r.sessions, sess.pid)
		}
	}
	if i > 0 {
		n := copy(r.order, r.order[i:])
		clear(r.order[n:])
		r.order = r.order[:n]
	}
}

// take hands the session pid back to a client that reconnects with the
// offset it saw last, and forgets it, so that nobody else can take it
// while its socket is connected (Node lets whoever replays the pid have
// it). Nil, leaving any session in place, when the pid is unknown or
// expired or the offset is not one we gave or not one whose successors
// are all in the log: a wrong offset must not cost the owner its session.
//
// Beyond Node, the replay starts no earlier than the socket's first
// connection (since): a client sends no offset until it received a
// stored packet, and keeps the offset of an earlier session when it got a
// fresh socket; Node gives the first a fresh socket and replays to the
// second what was sent before its socket existed.
func (r *recovery) take(pid, offset string, hasOffset bool) *recoverySession {
	var from uint64
	if hasOffset {
		var ok bool
		if from, ok = parseOffset(offset); !ok {
			return nil
		}
	}
	now := r.opts.Load().now()
	r.sessMu.Lock()
	defer r.sessMu.Unlock()
	sess := r.sessions[pid]
	if sess == nil {
		return nil
	}
	if now.UnixNano()-sess.at > int64(r.opts.Load().MaxDisconnectionDuration) {
		delete(r.sessions, pid)
		return nil
	}
	r.mu.Lock()
	issued := !hasOffset || from < r.nextLocked()
	if !hasOffset || from+1 < sess.since {
		from = sess.since - 1
	}
	ok := issued && r.validLocked(from)
	r.mu.Unlock()
	if !ok {
		return nil
	}
	delete(r.sessions, pid)
	sess.from = from
	return sess
}

// giveBack returns a taken session whose socket did not connect after all
// (a middleware refused it, its client went away), so that its owner can
// still come back for it.
func (r *recovery) giveBack(sess *recoverySession) {
	r.sessMu.Lock()
	defer r.sessMu.Unlock()
	if r.sessions[sess.pid] == nil {
		r.sessions[sess.pid] = sess
	}
}

// connect connects the recovering socket s: under the log's lock, its
// missed packets (those after the session's offset whose rooms and except
// match the session's rooms) go out, then its CONNECT answer, and from
// then on it is among the receivers. An error, and the socket is not
// connected, when packets it missed were pruned meanwhile (its middlewares
// took that long: errMissedPruned), or when they are more than its
// connection may queue (the engine closes it as a slow client): either
// way its client comes back to a fresh socket, the session being gone.
func (r *recovery) connect(s *Socket, sess *recoverySession) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.validLocked(sess.from) {
		return errMissedPruned
	}
	for i := r.head + int(sess.from+1-r.first); i < len(r.entries); i++ {
		e := &r.entries[i]
		if missedBy(sess.rooms, e) {
			if err := s.client.writeParts(e.text, e.attachments); err != nil {
				return err
			}
		}
	}
	s.nsp.add(s)
	s.onConnect()
	return nil
}

var errMissedPruned = errors.New("packets the socket missed were dropped from the log while its middlewares ran")

// missedBy tells whether a socket in rooms was a receiver of e, as Node's
// shouldIncludePacket: in one of its rooms (or e went to all) and in none
// of its except rooms.
func missedBy(rooms []string, e *logEntry) bool {
	included := e.nRooms == 0
	for _, room := range rooms {
		if slices.Contains(e.except(), room) {
			return false
		}
		if !included && slices.Contains(e.rooms(), room) {
			included = true
		}
	}
	return included
}

// sweep drops what expired, so that an idle namespace frees its memory
// without waiting for the next packet or disconnection.
func (r *recovery) sweep() {
	now := r.opts.Load().now()
	r.mu.Lock()
	r.pruneLocked(now)
	r.mu.Unlock()
	r.sessMu.Lock()
	r.pruneSessionsLocked(now)
	r.sessMu.Unlock()
}

// stats reports the stored packets, their memory and the sessions kept,
// for tests and benchmarks.
func (r *recovery) stats() (packets, bytes, sessions int) {
	r.mu.Lock()
	packets, bytes = len(r.entries)-r.head, r.bytes
	r.mu.Unlock()
	r.sessMu.Lock()
	sessions = len(r.sessions)
	r.sessMu.Unlock()
	return packets, bytes, sessions
}

// prepareParts prepares a text part and its attachments for many
// receivers.
func prepareParts(text []byte, attachments [][]byte) []*engine.PreparedMessage {
	msgs := make([]*engine.PreparedMessage, 1+len(attachments))
	msgs[0] = engine.NewPreparedMessage(engine.Message{Data: text})
	for i, att := range attachments {
		msgs[i+1] = engine.NewPreparedMessage(engine.Message{Data: att, Binary: true})
	}
	return msgs
}

// serverRecovery is a server's recovery setting, which each of its
// namespaces follows, and the timer that sweeps their expired state.
type serverRecovery struct {
	mu      sync.Mutex
	opts    *RecoveryOptions // with defaults; nil: recovery is off
	sweeper *time.Timer      // nil while off, and once stopped
	stopped bool             // the server shut down
}

// options is the server's recovery setting, nil when off.
func (sr *serverRecovery) options() *RecoveryOptions {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return sr.opts
}

// SetRecoveryOptions changes the connection state recovery of a running
// server, for configuration reloads: nil turns it off, dropping the kept
// sessions and packets; otherwise the new options apply to the sessions
// and packets already kept (a shorter MaxDisconnectionDuration or a
// smaller MaxLogBytes prunes them at the next packet or sweep).
func (srv *Server) SetRecoveryOptions(o *RecoveryOptions) {
	var opts *RecoveryOptions
	if o != nil {
		resolved := o.withDefaults()
		opts = &resolved
	}
	sr := &srv.recovery
	sr.mu.Lock()
	sr.opts = opts
	switch {
	case opts == nil && sr.sweeper != nil:
		sr.sweeper.Stop()
		sr.sweeper = nil
	case opts != nil && sr.sweeper == nil && !sr.stopped:
		sr.sweeper = time.AfterFunc(sweepInterval(opts), srv.sweepRecovery)
	}
	sr.mu.Unlock()
	// Outside sr.mu: Of holds srv.mu while it reads sr.
	for _, n := range srv.allNamespaces() {
		n.setRecovery(opts)
	}
}

// sweepInterval is how often expired state is dropped: every minute, as
// in Node, or more often for a shorter MaxDisconnectionDuration.
func sweepInterval(o *RecoveryOptions) time.Duration {
	return max(min(time.Minute, o.MaxDisconnectionDuration), time.Second)
}

// sweepRecovery is the sweeper's tick: each namespace drops what expired.
func (srv *Server) sweepRecovery() {
	for _, n := range srv.allNamespaces() {
		if r := n.recovery.Load(); r != nil {
			r.sweep()
		}
	}
	sr := &srv.recovery
	sr.mu.Lock()
	if sr.sweeper != nil && sr.opts != nil {
		sr.sweeper.Reset(sweepInterval(sr.opts))
	}
	sr.mu.Unlock()
}

// stopRecovery stops the sweeper when the server shuts down.
func (srv *Server) stopRecovery() {
	sr := &srv.recovery
	sr.mu.Lock()
	sr.stopped = true
	if sr.sweeper != nil {
		sr.sweeper.Stop()
		sr.sweeper = nil
	}
	sr.mu.Unlock()
}

// allNamespaces lists the server's namespaces.
func (srv *Server) allNamespaces() []*Namespace {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	out := make([]*Namespace, 0, len(srv.namespaces))
	for _, n := range srv.namespaces {
		out = append(out, n)
	}
	return out
}

// setRecovery makes the namespace follow the server's recovery setting
// opts (nil: off), keeping its sessions and packets when it stays on.
func (n *Namespace) setRecovery(opts *RecoveryOptions) {
	if opts == nil {
		n.recovery.Store(nil)
		return
	}
	if r := n.recovery.Load(); r != nil {
		r.opts.Store(opts)
		return
	}
	n.recovery.CompareAndSwap(nil, newRecovery(*opts))
}

// Recovered tells whether the socket's connection state was recovered: the
// client came back within MaxDisconnectionDuration after losing its
// connection, and has its id, rooms, Data and Meta back, and the packets it
// missed (see RecoveryOptions). Node's socket.recovered.
func (s *Socket) Recovered() bool {
	rec := s.rec()
	return rec != nil && rec.recovered
}

// socketRecovery is a socket's share of connection state recovery.
type socketRecovery struct {
	pid       string           // its session id, in its CONNECT answer
	recovered bool             // it took a session back
	restoring *recoverySession // that session, until the socket is connected
	since     uint64           // the first stored packet it may have missed
	position  string           // the same, with a SessionStore: its Position
}

// restore gives a recovering socket its session's id, Data, Meta and rooms
// (joined before it is connected, as Node does, so that its middlewares
// see them).
func (s *Socket) restore(sess *recoverySession) {
	s.id = sess.sid
	rec := &socketRecovery{pid: sess.pid, recovered: true, restoring: sess, since: sess.since}
	if sess.stored != nil {
		rec.position = sess.stored.Since
	}
	s.rareState().rec = rec
	if sess.data != nil || sess.meta != nil {
		s.mu.Lock()
		app := s.appLocked()
		app.data, app.meta = sess.data, sess.meta
		s.mu.Unlock()
	}
	if len(sess.rooms) > 0 {
		s.nsp.adapter.AddAll(s.id, sess.rooms...)
	}
}

// session is the session the socket leaves if it disconnects for a
// reason a client comes back from, nil otherwise; called while it is still
// in its rooms.
func (s *Socket) session(reason string) *recoverySession {
	rec := s.rec()
	if s.nsp.recovery.Load() == nil || rec == nil || !recoverableReason(reason) {
		return nil
	}
	sess := &recoverySession{sid: s.id, pid: rec.pid, rooms: s.Rooms(), since: rec.since}
	s.mu.Lock()
	if s.app != nil {
		sess.data, sess.meta = s.app.data, s.app.meta
	}
	s.mu.Unlock()
	return sess
}

// emitStored sends p, an event without ack id, to the socket alone
// through the log when recovery is on and the client can recover: false
// when it is not to be stored.
func (s *Socket) emitStored(p *Packet) (bool, error) {
	r := s.nsp.recovery.Load()
	if r == nil || s.client.protocol < 5 {
		return false, nil
	}
	p.Namespace = s.nsp.name
	if s.nsp.store != nil {
		// As Node does with recovery on: through the adapter, to the
		// socket's own room, so that the packet gets its offset there.
		return true, s.nsp.adapter.Broadcast(p, &BroadcastOptions{Rooms: []string{s.id}})
	}
	return true, r.emit(s, p)
}

// restoreSession looks for the session a revision 5 client asks back in
// its CONNECT payload; nil when there is none to give.
func (c *client) restoreSession(nsp *Namespace, auth json.RawMessage) *recoverySession {
	r := nsp.recovery.Load()
	if r == nil || c.protocol < 5 {
		return nil
	}
	pid, offset, hasOffset, ok := recoveryAuth(auth)
	if !ok {
		return nil
	}
	var sess *recoverySession
	if st := nsp.sessionStore(); st != nil {
		sess = c.restoreStored(st, pid, offset, hasOffset)
	} else {
		sess = r.take(pid, offset, hasOffset)
	}
	if sess == nil {
		if ce := c.server.logger.Check(zap.DebugLevel, "connection state not recovered: unknown or expired session, or offset no longer kept"); ce != nil {
			ce.Write(zap.String("namespace", nsp.name), zap.String("remote", c.address()))
		}
	}
	return sess
}

// connectRecovered connects a recovering socket through its namespace's
// log; false when that is no longer possible (see recovery.connect).
func (c *client) connectRecovered(s *Socket) bool {
	rec := s.rec()
	sess := rec.restoring
	rec.restoring = nil
	r := s.nsp.recovery.Load()
	err := errors.New("connection state recovery was turned off")
	switch st := s.nsp.sessionStore(); {
	case st != nil && sess.stored != nil:
		err = s.connectStored(st, sess)
	case r != nil && sess.stored == nil:
		err = r.connect(s, sess)
	}
	if err != nil {
		c.server.logger.Info("socketio: cannot give a recovering socket what it missed; closing its connection so that it reconnects to a fresh socket",
			zap.String("namespace", s.nsp.name), zap.String("remote", c.address()), zap.Error(err))
		return false
	}
	return true
}

// abandonRecovery gives a recovering socket's session back when the socket
// does not connect.
func (s *Socket) abandonRecovery() {
	rec := s.rec()
	if rec == nil || rec.restoring == nil {
		return
	}
	sess := rec.restoring
	rec.restoring = nil
	if sess.stored != nil {
		if st := s.nsp.sessionStore(); st != nil {
			st.SaveSession(sess.stored, false)
		}
		return
	}
	if r := s.nsp.recovery.Load(); r != nil {
		r.giveBack(sess)
	}
}

// skipsMiddlewares tells whether recovered sockets connect without the
// namespace's middlewares.
func (n *Namespace) skipsMiddlewares() bool {
	r := n.recovery.Load()
	return r != nil && r.opts.Load().SkipMiddlewares
}

// markSince records, for a socket connecting afresh, where the log stands:
// the packets stored from now on are those it may miss.
func (s *Socket) markSince() {
	rec := s.rec()
	if st := s.nsp.sessionStore(); st != nil && rec != nil {
		rec.position = st.Position()
		return
	}
	if r := s.nsp.recovery.Load(); r != nil && rec != nil {
		r.mu.Lock()
		rec.since = r.nextLocked()
		r.mu.Unlock()
	}
}
