// Package engine is an Engine.IO server (protocols 4 and 3): HTTP
// long-polling, WebSocket, the upgrade between them and heartbeats,
// wire-compatible with Node's engine.io 6 and its clients.
package engine

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/internal/idset"
	"github.com/caddy-socketio/caddy-socketio/internal/urlquery"
)

// Server is an Engine.IO endpoint; mount it where the clients' path points
// (Node's default is /engine.io/, Socket.IO's /socket.io/).
type Server struct {
	opts         atomic.Pointer[settings]
	onConnection func(*Session)

	heartbeats heartbeats
	refusals   refusals     // handshakes refused by a connection limit, for the log
	buffered   atomic.Int64 // queued outbound payload bytes, each broadcast once (buffered.go)
	evicting   atomic.Bool  // an eviction round over MaxBufferedBytes is under way

	stats Stats

	mu       sync.Mutex
	sessions idset.Set[Session] // guarded by mu
	shutdown bool               // guarded by mu: refuse new handshakes
	drained  chan struct{}      // closed when sessions empties after shutdown
	admitted int                // guarded by mu: sessions counted against MaxConnections
	perIP    map[string]int32   // guarded by mu: sessions by client IP, while MaxConnectionsPerIP is set
}

// NewServer returns a server with the given options.
func NewServer(o Options) *Server {
	srv := &Server{sessions: idset.New(sessionID)}
	srv.opts.Store(newSettings(o))
	return srv
}

// OnConnection sets the function called for each new session, before the
// session can receive anything: set its OnMessage and OnClose there. Set it
// before serving.
func (srv *Server) OnConnection(fn func(*Session)) { srv.onConnection = fn }

// SetOptions replaces the options; they apply to new handshakes only
// (sessions keep the options they started with). Used on config reloads.
func (srv *Server) SetOptions(o Options) { srv.opts.Store(newSettings(o)) }

// ServeHTTP serves every Engine.IO request: handshakes, polls, posts and
// WebSocket upgrades.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	opts := srv.opts.Load()
	q := r.URL.RawQuery
	// The constant, not the query's value: that is a slice of the
	// request's target, which a session keeping it would keep whole.
	transport := internTransport(urlquery.Get(q, "transport"))
	isUpgrade := isWebSocketUpgrade(r)
	sid := urlquery.Get(q, "sid")
	fail := func(code int, message string) {
		if sid == "" {
			srv.stats.handshake(handshakeOutcome(code))
		}
		if isUpgrade {
			writeUpgradeError(w, code, message)
		} else {
			writeError(w, code, message)
		}
	}
	var s *Session
	if sid != "" {
		s = srv.lookup(sid)
		if s != nil {
			opts = s.opts // a session keeps the options of its handshake
		}
	}
	if !opts.allows(transport) {
		fail(codeUnknownTransport, "")
		return
	}
	if invalidHeaderValue(r.Header.Get("Origin")) {
		fail(codeBadRequest, "")
		return
	}
	protocol := 3
	if urlquery.Get(q, "EIO") == "4" {
		protocol = 4
	}

	if sid != "" {
		if s != nil && s.isJSONP && !isUpgrade && opts.AllowJSONP != nil {
			if err := opts.AllowJSONP(r); err != nil {
				fail(codeForbidden, err.Error())
				return
			}
		}
		switch {
		case s == nil:
			fail(codeUnknownSID, "")
		case int(s.protocol) != protocol:
			fail(codeBadRequest, "")
		case isUpgrade && transport == transportWebSocket:
			s.activate()
			srv.upgrade(w, r, s)
		case isUpgrade || transport != s.Transport():
			// Polling with the sid of an upgraded session, or a WebSocket
			// transport without an upgrade.
			fail(codeBadRequest, "")
		default:
			s.activate()
			s.servePolling(w, r)
		}
		return
	}

	// A handshake.
	switch {
	case r.Method != http.MethodGet:
		fail(codeBadHandshakeMethod, "")
		return
	case (transport == transportWebSocket) != isUpgrade:
		fail(codeBadRequest, "")
		return
	}
	if opts.AllowRequest != nil {
		if err := opts.AllowRequest(r); err != nil {
			fail(codeForbidden, err.Error())
			return
		}
	}
	if protocol == 3 && !opts.AllowEIO3 {
		fail(codeUnsupportedProtocol, "")
		return
	}
	if _, jsonp := urlquery.Lookup(q, "j"); jsonp && transport == transportPolling {
		if !opts.JSONP {
			fail(codeBadRequest, errJSONPOff)
			return
		}
		if opts.AllowJSONP != nil {
			if err := opts.AllowJSONP(r); err != nil {
				fail(codeForbidden, err.Error())
				return
			}
		}
	}
	srv.mu.Lock()
	closing := srv.shutdown
	srv.mu.Unlock()
	if closing {
		http.Error(w, "engine: server is shutting down", http.StatusServiceUnavailable)
		return
	}
	ip, refused := srv.admit(opts, r)
	if refused != "" {
		srv.refuseHandshake(w, r, opts, opts.ClientIP(r), refused, isUpgrade)
		return
	}
	srv.handshake(w, r, q, opts, protocol, transport, ip)
}

// handshake opens a session.
func (srv *Server) handshake(w http.ResponseWriter, r *http.Request, q string, opts *settings, protocol int, transport, ip string) {
	s := &Session{
		id:        newID(),
		protocol:  uint8(protocol),
		b64:       urlquery.Get(q, "b64") != "", // JavaScript truthiness: "b64=" means no
		server:    srv,
		opts:      opts,
		webSocket: transport == transportWebSocket,
		clientIP:  ip,
	}
	s.statsShard = trafficShardOf(s.id)
	if transport == transportPolling {
		s.polling = new(pollingState)
		if j, ok := urlquery.Lookup(q, "j"); ok {
			s.isJSONP, s.polling.jsonp = true, jsonpIndex(j)
		}
	}
	s.handshake = newHandshakeRecord(r)

	open := packet{typ: packetOpen, data: handshakeData(s.id, opts, transport)}
	if transport == transportWebSocket {
		conn, err := acceptWebSocket(w, r, opts, s.id)
		if err != nil {
			srv.mu.Lock()
			srv.unadmitLocked(ip)
			srv.mu.Unlock()
			return // acceptWebSocket answered the request
		}
		s.ws = conn
		// The open packet goes first, before anything the connection
		// callback sends.
		s.queue = append(s.queue, open)
	} else if opts.Cookie != nil {
		w.Header().Add("Set-Cookie", sessionCookie(opts.Cookie, s.id).String())
	}

	if srv.onConnection != nil {
		srv.onConnection(s)
	}
	// Registered only now: no request can reach the session before its
	// handlers are in place.
	srv.mu.Lock()
	srv.sessions.Put(s)
	srv.mu.Unlock()
	srv.stats.opened(s)
	if ce := s.opts.Logger.Check(zap.DebugLevel, "engine: handshake"); ce != nil {
		ce.Write(zap.String("sid", s.id), zap.String("transport", transport), zap.Int("protocol", protocol))
	}

	s.mu.Lock()
	if s.state == stateOpen {
		s.startHeartbeatLocked()
	}
	if s.ws != nil {
		s.startFlushLocked()
	}
	s.mu.Unlock()

	if s.ws != nil {
		s.activate()
		go s.serveWS(s.ws)
		return
	}
	// Polling: the handshake response carries the open packet only; what
	// the callback sent waits for the first GET, as in Node.
	s.writePayload(w, r, []packet{open})
}

// internTransport returns the transport's constant name; an unknown one
// is returned as it is (allows refuses it).
func internTransport(t string) string {
	switch t {
	case transportPolling:
		return transportPolling
	case transportWebSocket:
		return transportWebSocket
	}
	return t
}

// handshakeData is the open packet's JSON, its keys in Node's order.
func handshakeData(id string, opts *settings, transport string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"sid":"`...)
	b = append(b, id...)
	b = append(b, `","upgrades":[`...)
	if transport == transportPolling && opts.websocket && !opts.DisableUpgrades {
		b = append(b, `"websocket"`...)
	}
	b = append(b, `],"pingInterval":`...)
	b = strconv.AppendInt(b, opts.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, opts.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, opts.MaxPayload, 10)
	return append(b, '}')
}

// sessionCookie is the "io" cookie carrying the session id.
func sessionCookie(tmpl *http.Cookie, id string) *http.Cookie {
	c := *tmpl
	if c.Name == "" {
		c.Name = "io"
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if c.SameSite == 0 {
		c.SameSite = http.SameSiteLaxMode
	}
	c.Value = id
	return &c
}

// upgrade opens a WebSocket to upgrade the polling session s.
func (srv *Server) upgrade(w http.ResponseWriter, r *http.Request, s *Session) {
	opts := s.opts
	s.mu.Lock()
	if opts.DisableUpgrades || s.state != stateOpen || s.upgrading || s.upgraded || s.webSocket {
		s.mu.Unlock()
		// Node accepts the WebSocket, then closes it.
		if conn, err := acceptWebSocket(w, r, opts, ""); err == nil {
			closeWebSocket(conn)
		}
		return
	}
	s.upgrading = true // reserved, so a second upgrade is refused
	s.mu.Unlock()

	conn, err := acceptWebSocket(w, r, opts, "")
	s.mu.Lock()
	if err != nil || s.state != stateOpen {
		s.upgrading = false
		s.mu.Unlock()
		if conn != nil {
			closeWebSocket(conn)
		}
		return
	}
	s.polling.probeWS = conn
	s.polling.upgradeTimer = time.AfterFunc(opts.UpgradeTimeout, func() { s.abortUpgrade(conn) })
	s.mu.Unlock()
	go s.probe(conn)
}

func (srv *Server) lookup(id string) *Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessions.Get(id)
}

// remove forgets a closed session.
func (srv *Server) remove(s *Session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.sessions.Get(s.id) == s {
		srv.sessions.Delete(s.id)
		srv.unadmitLocked(s.clientIP)
	}
	if srv.shutdown && srv.sessions.Len() == 0 && srv.drained != nil {
		close(srv.drained)
		srv.drained = nil
	}
}

// Shutdown refuses new handshakes, closes every session (the clients are
// told: a close packet on polling, a close frame on WebSocket) and waits
// until they are gone or ctx ends; then it cuts the rest.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.shutdown = true
	sessions := make([]*Session, 0, srv.sessions.Len())
	for s := range srv.sessions.All() {
		sessions = append(sessions, s)
	}
	var drained chan struct{}
	if srv.sessions.Len() > 0 {
		if srv.drained == nil {
			srv.drained = make(chan struct{})
		}
		drained = srv.drained
	}
	srv.mu.Unlock()
	for _, s := range sessions {
		s.Close()
	}
	if drained == nil {
		return nil
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		for _, s := range sessions {
			s.end("forced close", false)
		}
		return ctx.Err()
	}
}

// sessionID is the id of s, by which the server keeps it.
func sessionID(s *Session) string { return s.id }
