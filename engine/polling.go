package engine

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// servePolling handles a request of an established polling session.
func (s *Session) servePolling(w http.ResponseWriter, r *http.Request) {
	if s.heartbeatOverdue() {
		// The client's deadline passed and the heartbeat has not caught
		// up yet: the session is over for this request too.
		s.terminate("ping timeout")
		writeError(w, codeUnknownSID, "")
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.servePoll(w, r)
	case http.MethodPost:
		s.serveData(w, r)
	default:
		writeStatus(w, http.StatusInternalServerError) // as Node answers
	}
}

// servePoll answers a long-polling GET with the queued packets, waiting for
// some if there are none.
func (s *Session) servePoll(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.state == stateClosed {
		lingering := s.lingering
		s.lingering = false
		s.mu.Unlock()
		if lingering {
			s.server.remove(s)
			s.writePayload(w, r, noopPayload)
			return
		}
		writeError(w, codeUnknownSID, "")
		return
	}
	if s.pollActive {
		// Two GETs at once mean two clients share the sid, or a broken
		// client: Node answers the newcomer 400 and closes the session,
		// which answers the first GET with a close packet.
		s.mu.Unlock()
		s.opts.Logger.Debug("engine: overlapping poll requests", zap.String("sid", s.id))
		writeStatus(w, http.StatusBadRequest)
		s.terminate("transport error")
		return
	}
	s.pollActive = true
	if len(s.queue) == 0 && s.state == stateOpen && !s.webSocket {
		wake := make(chan struct{})
		s.polling.pollWake = wake
		if s.probed {
			// Mid-upgrade the client should have paused polling; end this
			// GET with a noop soon, without letting it spin (Node checks
			// every 100 ms).
			time.AfterFunc(100*time.Millisecond, func() {
				s.mu.Lock()
				if s.polling.pollWake == wake {
					s.wakePollLocked()
				}
				s.mu.Unlock()
			})
		}
		s.mu.Unlock()
		// A long-poll lasts up to a ping interval: keep the server's write
		// timeout from cutting it (ignored where unsupported).
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.PingInterval + s.opts.PingTimeout + 10*time.Second))
		deadline, timer := pollDeadline(r.Context())
		if timer != nil {
			defer timer.Stop()
		}
		select {
		case <-wake:
		case <-deadline:
			// The server would cut this GET soon: end it now; with nothing
			// queued, pollResponseLocked answers a noop.
			s.mu.Lock()
			if s.polling.pollWake == wake {
				s.polling.pollWake = nil
			}
			s.mu.Unlock()
		case <-r.Context().Done():
			s.mu.Lock()
			if s.polling.pollWake == wake {
				s.polling.pollWake = nil
				s.pollActive = false
				s.mu.Unlock()
				s.terminate("transport error") // Node: poll connection closed prematurely
				return
			}
			s.mu.Unlock()
		}
		s.mu.Lock()
		if s.state != stateClosed && s.webSocket {
			// Upgraded while this GET waited. engine.io-client finishes
			// its GET before it sends the upgrade packet, so this GET
			// raced the "5" of a client that did not: answer it as any
			// polling request of an upgraded session (Node, reading the
			// "5" first on its one thread, would have).
			s.pollActive = false
			s.mu.Unlock()
			writeError(w, codeBadRequest, "")
			return
		}
	}
	pkts, closeAfter := s.pollResponseLocked()
	s.mu.Unlock()

	s.writePayload(w, r, pkts)
	s.server.releaseBytes(pkts) // the queue's, or a fixed payload without messages

	s.mu.Lock()
	s.pollActive = false
	s.mu.Unlock()
	if closeAfter {
		s.terminate("forced close")
	}
}

var (
	closePayload = []packet{{typ: packetClose}}
	noopPayload  = []packet{{typ: packetNoop}}
)

// pollResponseLocked decides what a GET carries, and whether the session
// ends once it is written.
func (s *Session) pollResponseLocked() (pkts []packet, closeAfter bool) {
	switch {
	case s.state == stateClosed:
		if CloseReasons[s.closeReason] == "transport close" {
			return noopPayload, false // the client closed; just end its GET
		}
		return closePayload, false
	case s.webSocket:
		return noopPayload, false // upgraded: end the old transport's GET cleanly
	case len(s.queue) > 0:
		pkts = s.takeQueueLocked()
		if s.state == stateClosing && s.polling.closeTimer == nil {
			// The close packet rides on the next GET, not on this payload,
			// as Node sends it: socket.io-client handles the packets of a
			// payload a tick after the engine handles a close, so a close
			// in the same payload would overtake a DISCONNECT before it.
			s.polling.closeTimer = time.AfterFunc(pollingCloseTimeout, func() { s.terminate("forced close") })
		}
		return pkts, false
	case s.state == stateClosing:
		return closePayload, true
	default:
		// An upgrade is under way (or a spurious wake-up): a noop ends this
		// GET so the client can pause polling and switch.
		return noopPayload, false
	}
}

// wakePollLocked wakes the parked GET, if any.
func (s *Session) wakePollLocked() {
	if p := s.polling; p != nil && p.pollWake != nil {
		close(p.pollWake)
		p.pollWake = nil
	}
}

// writePayload encodes packets for this session's polling flavour and writes
// them, compressed when large enough and the client accepts it.
func (s *Session) writePayload(w http.ResponseWriter, r *http.Request, pkts []packet) {
	var body []byte
	contentType := "text/plain; charset=UTF-8"
	switch {
	case s.protocol == 4:
		body = encodePayloadV4(pkts)
	case !s.b64 && !s.isJSONP && hasBinary(pkts):
		body = encodePayloadV3Binary(pkts)
		contentType = "application/octet-stream"
	default:
		body = encodePayloadV3Text(pkts)
	}
	if s.isJSONP {
		body = jsonpWrap(s.polling.jsonp, body)
	}
	s.server.stats.sent(s, 0, len(pkts), len(body))
	writeBody(w, r, s.opts, contentType, body)
}

// writeBody writes a polling response with the headers Node sets. Headers
// already set by outer middleware (CORS, for one) are left alone.
func writeBody(w http.ResponseWriter, r *http.Request, opts *settings, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	if ua := r.Header.Get("User-Agent"); strings.Contains(ua, ";MSIE") || strings.Contains(ua, "Trident/") {
		h.Set("X-XSS-Protection", "0") // Node's workaround for IE's XSS filter
	}
	if opts.compressThreshold >= 0 && len(body) >= opts.compressThreshold {
		if enc := chooseEncoding(r.Header.Get("Accept-Encoding")); enc != "" {
			if compressed, err := compress(enc, body); err == nil {
				h.Set("Content-Encoding", enc)
				body = compressed
			}
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// serveData handles a POST: the client's packets.
func (s *Session) serveData(w http.ResponseWriter, r *http.Request) {
	isBinary := r.Header.Get("Content-Type") == "application/octet-stream"
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		writeError(w, codeUnknownSID, "")
		return
	}
	if s.posting || (isBinary && s.protocol == 4) {
		// Overlapping POSTs (or a binary body, which protocol 4 never
		// sends) mean a broken or hostile client: Node closes the session.
		s.mu.Unlock()
		writeStatus(w, http.StatusBadRequest)
		s.terminate("transport error")
		return
	}
	// The body may take as long as a client may stay silent at all
	// (ping_interval + ping_timeout); a slower one (one byte a second, say)
	// is cut, and so is the body of a session that ends meanwhile. A
	// server's own shorter read timeout (Caddy's read_body) stays in
	// charge. Ignored where unsupported.
	rc := http.NewResponseController(w)
	bound := s.opts.PingInterval + s.opts.PingTimeout
	ownDeadline := true
	if hs, _ := r.Context().Value(http.ServerContextKey).(*http.Server); hs != nil && hs.ReadTimeout > 0 && hs.ReadTimeout <= bound {
		ownDeadline = false
	}
	if ownDeadline {
		_ = rc.SetReadDeadline(time.Now().Add(bound))
	}
	s.posting = true
	s.polling.postAbort = func() { _ = rc.SetReadDeadline(time.Now()) }
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.posting = false
		s.polling.postAbort = nil
		s.mu.Unlock()
	}()

	body, err := readBody(r, s.opts.MaxPayload)
	s.mu.Lock()
	s.polling.postAbort = nil
	closed := s.state == stateClosed
	s.mu.Unlock()
	if err == nil && ownDeadline {
		// What is left of the request is net/http's business again: its
		// background read must not trip over this deadline.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if errors.Is(err, errTooLarge) {
		// The body is refused, the session lives (as in Node).
		writeStatus(w, http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		// Node: data request connection closed prematurely. The client
		// may still be there to read an answer (a body cut by a read
		// timeout, Caddy's read_body or ours): never an empty 200.
		s.terminate("transport error")
		var ne net.Error
		switch {
		case closed:
			writeError(w, codeUnknownSID, "")
		case errors.As(err, &ne) && ne.Timeout():
			writeStatus(w, http.StatusRequestTimeout)
		default:
			writeStatus(w, http.StatusBadRequest)
		}
		return
	}

	var pkts []packet
	switch {
	case s.isJSONP:
		body, err = jsonpData(body)
		if err == nil {
			pkts, err = s.decodeTextPayload(body)
		}
	case isBinary:
		pkts, err = decodePayloadV3Binary(body)
	default:
		pkts, err = s.decodeTextPayload(body)
	}
	s.server.stats.received(s, 0, len(pkts), len(body))
	for _, p := range pkts {
		s.handlePacket(p)
		if p.typ == packetClose {
			break
		}
	}
	if err != nil {
		s.opts.Logger.Debug("engine: malformed payload", zap.String("sid", s.id), zap.Error(err))
		writeStatus(w, http.StatusBadRequest)
		s.terminate("parse error")
		return
	}
	h := w.Header()
	// text/html rather than text/plain: old user agents offered to download
	// a text/plain answer (Node's GH-43).
	h.Set("Content-Type", "text/html")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("ok"))
}

func (s *Session) decodeTextPayload(body []byte) ([]packet, error) {
	if s.protocol == 3 {
		return decodePayloadV3Text(body)
	}
	return decodePayloadV4(body)
}

var errTooLarge = errors.New("engine: request body exceeds the maximum payload")

// readBody reads at most limit bytes of the request body.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	size := r.ContentLength
	if size < 0 || size > 64<<10 {
		size = 512
	}
	buf := make([]byte, 0, size+1)
	lr := &io.LimitedReader{R: r.Body, N: limit + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
