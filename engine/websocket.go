package engine

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// WebSocket transport. Reading: while a connection is idle no goroutine
// waits on it (the poller reports its next input, see wsinput.go); a read
// burst reads what arrived and hands it back. During an upgrade the probe
// goroutine reads. Writes go through a flusher goroutine that exists only
// while the session has queued packets. An idle connection thus costs no
// goroutine, a small read buffer and no write buffer (writes borrow one
// from a pool).

// compressThreshold is the smallest message per-message deflate compresses,
// as in Node.
const compressThreshold = 1024

// closeGrace bounds how long closing a WebSocket waits to send its close frame.
const closeGrace = time.Second

// writeTimeout bounds one batch of writes to a client; a client that does
// not read for that long is gone.
func (s *Session) writeTimeout() time.Duration {
	return s.opts.PingInterval + s.opts.PingTimeout
}

// startFlushLocked starts the flusher unless one is running. While the
// session's reader is inside a message's handler (readerFlushes) it only
// notes that there is something to write: the reader writes it itself
// when the handler returns, as Node writes an ack after its handler, which
// spares a goroutine and a scheduler hand-off per answered message. What
// other goroutines queue for the session meanwhile waits for the handler
// too; a handler that blocks should do its waiting on a goroutine of its
// own (as UseAsync middlewares and hooks do).
func (s *Session) startFlushLocked() {
	if s.flushing || s.ws == nil {
		return
	}
	if s.readerFlushes {
		s.flushDeferred = true
		return
	}
	s.flushing = true
	go s.flushWS()
}

// flushWS is the flusher goroutine: it writes the queue to the WebSocket
// until it is empty, then exits.
func (s *Session) flushWS() {
	growStack()
	s.writeQueuedWS()
}

// writeQueuedWS writes the queue until it is empty, on the goroutine that
// set flushing. When the session is closing it ends with a close frame.
func (s *Session) writeQueuedWS() {
	for {
		s.mu.Lock()
		if s.state == stateClosed {
			s.flushing = false
			s.mu.Unlock()
			return
		}
		conn := s.ws
		pkts := s.takeQueueLocked()
		if len(pkts) == 0 {
			closing := s.state == stateClosing
			if !closing {
				s.flushing = false
			}
			s.mu.Unlock()
			if closing {
				s.terminate("forced close") // sends the close frame
			}
			return
		}
		s.mu.Unlock()

		refreshWriteDeadline(conn, s.writeTimeout())
		err := s.writeBatch(conn, pkts)
		s.server.releaseBytes(pkts)
		if err != nil {
			s.opts.Logger.Debug("engine: websocket write failed", zap.String("sid", s.id), zap.Error(err))
			s.mu.Lock()
			s.flushing = false
			s.mu.Unlock()
			s.terminate("transport error")
			return
		}
		s.server.stats.sent(s, 1, len(pkts), wsPacketBytes(pkts, s.protocol))
	}
}

// refreshWriteDeadline gives the next writes to conn a deadline of about
// timeout: a new one only once less than half of the last is left, as
// setting it re-arms a runtime timer (a connection under its own control
// frames' short deadlines gets a new one at once).
func refreshWriteDeadline(conn *wsConn, timeout time.Duration) {
	now := time.Now()
	if conn.writeDeadline.Load()-now.UnixNano() >= int64(timeout/2) {
		return
	}
	conn.SetWriteDeadline(now.Add(timeout))
}

// writeBatch writes packets, several of them in one system call when the
// connection allows it.
func (s *Session) writeBatch(conn *wsConn, pkts []packet) error {
	bc := &conn.batchConn
	if len(pkts) == 1 {
		for _, p := range pkts {
			if err := s.writeWS(conn, p); err != nil {
				return err
			}
		}
		return nil
	}
	bc.begin()
	for _, p := range pkts {
		if err := s.writeWS(conn, p); err != nil {
			bc.flush()
			return err
		}
		if bc.pending() >= maxBatch {
			if err := bc.flush(); err != nil {
				return err
			}
			bc.begin()
		}
	}
	return bc.flush()
}

// writeWS writes one packet as one WebSocket message.
func (s *Session) writeWS(conn *wsConn, p packet) error {
	compress := conn.compress && len(p.data) >= compressThreshold
	if conn.compress {
		conn.enableWriteCompression(compress)
	}
	if p.prepared != nil && !s.b64 {
		return conn.writePrepared(p.prepared.websocketFrame(int(s.protocol), compress))
	}
	return writePacketWS(conn, int(s.protocol), p, s.b64)
}

// writePacketWS writes p as one WebSocket message.
func writePacketWS(conn *wsConn, protocol int, p packet, b64 bool) error {
	switch {
	case !p.binary:
		return conn.writeMessage(wsText, []byte{p.typ}, p.data)
	case b64 && protocol == 3:
		return conn.writeMessage(wsText, nil, appendPacketV3(nil, p))
	case b64:
		return conn.writeMessage(wsText, nil, appendPacketV4(nil, p))
	case protocol == 3:
		return conn.writeMessage(wsBinary, []byte{p.typ - '0'}, p.data)
	default:
		return conn.writeMessage(wsBinary, nil, p.data)
	}
}

// decodeWS decodes one WebSocket message into a packet.
func decodeWS(protocol int, kind int, data []byte) (packet, error) {
	if kind == wsBinary {
		if protocol == 3 {
			return decodePacketV3Binary(data)
		}
		return packet{typ: packetMessage, binary: true, data: data}, nil
	}
	if err := validText(data); err != nil {
		return packet{}, err
	}
	if protocol == 3 {
		return decodePacketV3Text(data)
	}
	return decodePacketV4(data)
}

// serveWS reads the session's WebSocket until it closes. While messages
// keep coming it reads on this goroutine, as any reader would; once the
// connection has been quiet for idleHandoff it hands the connection to the
// poller and returns, and the poller starts serveWS again on the next
// input (see wsinput.go). Where the connection cannot be watched, it reads
// on this goroutine until the end.
func (s *Session) serveWS(conn *wsConn) {
	bc := &conn.batchConn
	if !bc.watchable() {
		s.readWS(conn)
		return
	}
	bc.unparkReadBuffer()
	// After a heartbeat packet (a pong, or a protocol 3 ping) the client
	// is most likely idle until the next one: hand the connection over at
	// once rather than linger.
	heartbeat := false
	for {
		var ok bool
		for bc.inputPending() {
			if ok, heartbeat = s.readMessage(conn); !ok {
				return
			}
		}
		if !heartbeat && bc.waitInput(idleHandoff) {
			if ok, heartbeat = s.readMessage(conn); !ok {
				return
			}
			continue
		}
		bc.releaseInputBuffer()
		if bc.awaitInput(s) == nil {
			return
		}
		// The connection is closing (or could not be registered): read
		// on until the read fails.
		bc.unparkReadBuffer()
		s.readWS(conn)
		return
	}
}

// resumeReading starts a reader for the session's WebSocket, which the
// poller reports has input (idleReader).
func (s *Session) resumeReading() { go s.readBurst() }

func (s *Session) readBurst() {
	growStack()
	s.mu.Lock()
	conn := s.ws // set before the connection was first watched, never changed
	s.mu.Unlock()
	s.serveWS(conn)
}

// idleMessage handles a message the poller read while the WebSocket was
// idle, if it is the heartbeat packet the client sends (idleReader): the
// pong on protocol 4, the ping on protocol 3.
func (s *Session) idleMessage(payload []byte) bool {
	want := packetPong
	if s.protocol == 3 {
		want = packetPing
	}
	if len(payload) != 1 || payload[0] != want {
		return false
	}
	s.server.stats.received(s, 1, 1, 1)
	s.handlePacket(packet{typ: want})
	return true
}

// controlFrames are the frames writeIdleLocked writes, one per packet type:
// a final text frame of one byte, unmasked (from the server).
var controlFrames = func() (f [packetNoop - packetOpen + 1][3]byte) {
	for i := range f {
		f[i] = [3]byte{0x81, 1, packetOpen + byte(i)}
	}
	return f
}()

// writeIdleLocked writes a heartbeat packet (the ping, or a protocol 3
// pong: one type byte) straight to an idle WebSocket, from the goroutine
// that sends it, and reports whether it did; if not, the caller queues it
// for the flusher. Idle means nothing queued and no flusher, so no other
// data frame is being written; the frame goes in one non-blocking write
// under the connection's write lock (if it is free), so it cannot
// interleave with a control frame either. A heartbeat list's timer thus
// writes the pings of all its due sessions in a row, with no goroutine
// started per ping (and no write deadline to set: the write does not
// wait). Plain TCP only: under TLS the frame goes through crypto/tls.
// Called with mu held.
func (s *Session) writeIdleLocked(p packet) bool {
	if !s.webSocket || s.ws == nil || s.flushing || len(s.queue) > 0 || len(p.data) > 0 || s.state != stateOpen {
		return false
	}
	conn := s.ws
	if conn.raw == nil || conn.isTLS || !conn.wmu.TryLock() {
		return false
	}
	if conn.closeSent {
		conn.wmu.Unlock()
		return false
	}
	frame := controlFrames[p.typ-packetOpen][:] // not on the stack: writeNow keeps it a moment
	n := conn.writeNow(frame)
	switch {
	case n == 0:
		conn.wmu.Unlock()
		return false // the socket's buffer is full (or it failed): the flusher waits, or meets the error
	case n < len(frame):
		// Part of it went: the rest must follow before any other frame.
		// The flusher's role is taken, so no data frame comes between,
		// and finishFrame keeps the write lock until the rest went.
		s.flushing = true
		rest := append([]byte(nil), frame[n:]...)
		go s.finishFrame(conn, rest)
	default:
		conn.wmu.Unlock()
	}
	s.server.stats.sent(s, 1, 1, 1)
	return true
}

// finishFrame writes the rest of a frame writeIdleLocked began, with the
// write lock it left held, then goes on as the flusher (whose role
// writeIdleLocked took).
func (s *Session) finishFrame(conn *wsConn, rest []byte) {
	growStack()
	conn.setWriteDeadlineKey(time.Now().Add(s.writeTimeout()).UnixNano())
	_, err := conn.Conn.Write(rest)
	conn.wmu.Unlock()
	if err != nil {
		s.mu.Lock()
		s.flushing = false
		s.mu.Unlock()
		s.terminate("transport error")
		return
	}
	s.flushWS()
}

// readWS reads the session's WebSocket on this goroutine until it closes.
func (s *Session) readWS(conn *wsConn) {
	for {
		if ok, _ := s.readMessage(conn); !ok {
			return
		}
	}
}

// readMessage reads and handles one message; ok false means the session
// has ended, heartbeat that the message was a heartbeat packet.
func (s *Session) readMessage(conn *wsConn) (ok, heartbeat bool) {
	kind, data, err := conn.readMessage()
	if err != nil {
		s.terminate(readErrorReason(err))
		return false, false
	}
	s.server.stats.received(s, 1, 1, len(data))
	p, err := decodeWS(int(s.protocol), kind, data)
	if errors.Is(err, errInvalidUTF8) {
		// As ws does in Node: 1007, and the session ends with a transport
		// error. The close frame goes first; terminate's own is then a
		// no-op (one close frame per connection).
		s.opts.Logger.Debug("engine: websocket text message is not UTF-8", zap.String("sid", s.id))
		conn.writeControl(opClose, closeFramePayload(closeInvalidPayload, "invalid UTF-8 sequence"), time.Now().Add(closeGrace))
		s.terminate("transport error")
		return false, false
	}
	if err != nil {
		s.opts.Logger.Debug("engine: malformed websocket message", zap.String("sid", s.id), zap.Error(err))
		s.terminate("parse error")
		return false, false
	}
	s.mu.Lock()
	s.readerFlushes = true
	s.mu.Unlock()
	s.handlePacket(p)
	s.mu.Lock()
	s.readerFlushes = false
	write := s.flushDeferred && !s.flushing && s.ws != nil
	s.flushDeferred = false
	if write {
		s.flushing = true
	}
	s.mu.Unlock()
	if write {
		s.writeQueuedWS()
	}
	return true, p.typ == packetPong || p.typ == packetPing
}

// readErrorReason maps a read error to Node's close reason: the peer going
// away is a "transport close", a protocol violation (such as a message over
// the size limit) a "transport error".
func readErrorReason(err error) string {
	if errors.Is(err, errReadLimit) {
		return "transport error"
	}
	return "transport close"
}

// probe reads a WebSocket opened to upgrade a polling session: it answers
// "2probe" with "3probe", and on "5" makes the WebSocket the session's
// transport and goes on reading it. Anything else, or the upgrade timeout,
// drops the WebSocket and leaves the session on polling.
func (s *Session) probe(conn *wsConn) {
	for {
		kind, data, err := conn.readMessage()
		if err != nil {
			s.abortUpgrade(conn)
			return
		}
		p, err := decodeWS(int(s.protocol), kind, data)
		switch {
		case err == nil && p.typ == packetPing && string(p.data) == "probe":
			conn.SetWriteDeadline(time.Now().Add(s.writeTimeout()))
			if err := writePacketWS(conn, int(s.protocol), packet{typ: packetPong, data: []byte("probe")}, false); err != nil {
				s.abortUpgrade(conn)
				return
			}
			// If more input came with the probe (a client that sends "5"
			// without waiting for "3probe"), read it before answering a
			// parked GET, so that GET sees the upgrade done.
			more := conn.inputPending()
			s.mu.Lock()
			if s.polling.probeWS == conn {
				s.probed = true
				if !more {
					// The client now pauses polling; a noop ends its
					// pending GET.
					s.wakePollLocked()
				}
			}
			s.mu.Unlock()
		case err == nil && p.typ == packetUpgrade:
			if !s.completeUpgrade(conn) {
				closeWebSocket(conn)
				return
			}
			s.serveWS(conn)
			return
		default:
			s.abortUpgrade(conn)
			return
		}
	}
}

// completeUpgrade switches the session to conn.
func (s *Session) completeUpgrade(conn *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.polling
	if p.probeWS != conn || s.state == stateClosed {
		return false
	}
	if p.upgradeTimer != nil {
		p.upgradeTimer.Stop()
		p.upgradeTimer = nil
	}
	p.probeWS = nil
	s.upgrading, s.probed, s.upgraded = false, false, true
	s.webSocket = true
	s.ws = conn
	s.server.stats.upgraded(s)
	s.wakePollLocked() // a GET still parked gets a noop
	if p.closeTimer != nil {
		p.closeTimer.Stop() // the flusher closes the WebSocket instead
		p.closeTimer = nil
	}
	if len(s.queue) > 0 || s.state == stateClosing {
		s.startFlushLocked()
	}
	s.opts.Logger.Debug("engine: upgraded to websocket", zap.String("sid", s.id))
	return true
}

// abortUpgrade drops conn, an upgrade that did not complete.
func (s *Session) abortUpgrade(conn *wsConn) {
	s.mu.Lock()
	if p := s.polling; p.probeWS == conn {
		p.probeWS = nil
		s.upgrading, s.probed = false, false
		if p.upgradeTimer != nil {
			p.upgradeTimer.Stop()
			p.upgradeTimer = nil
		}
	}
	s.mu.Unlock()
	closeWebSocket(conn)
}
