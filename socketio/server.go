package socketio

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"go.uber.org/zap"
)

// Options configures a Server.
type Options struct {
	// ConnectTimeout closes a connection that joined no namespace in time
	// (Node's connectTimeout). 45 s when zero.
	ConnectTimeout time.Duration
	// Logger receives the server's logs; nothing is logged when nil.
	Logger *zap.Logger
	// Adapter makes each namespace's adapter; NewMemoryAdapter when nil.
	Adapter AdapterFactory
	// ConnectionStateRecovery, when set, lets clients that lost their
	// connection get their state and missed packets back (see
	// RecoveryOptions); Server.SetRecoveryOptions changes it later.
	ConnectionStateRecovery *RecoveryOptions

	// EventRateLimit bounds the events each socket may send; none when
	// nil. A namespace may set its own (Namespace.SetEventRateLimit).
	EventRateLimit *EventRateLimit
	// MaxRoomsPerSocket bounds the rooms a socket may be in, its own id
	// room aside: Socket.Join ignores (and logs once per socket) rooms
	// beyond it. No limit when zero.
	MaxRoomsPerSocket int

	// MaxPacketSize bounds the bytes one packet may hold, its text part
	// and binary attachments together (the engine bounds each message
	// alone): a client that sends more is closed. 1e6 when zero (Node's
	// maxHttpBufferSize default); give it the engine's MaxPayload.
	// SetMaxPacketSize changes it for clients that connect afterwards.
	MaxPacketSize int64
	// AttachmentTimeout bounds how long a binary packet may wait for its
	// attachments, which a client sends right after its text part; the
	// client is closed then. 30 s when zero.
	AttachmentTimeout time.Duration
}

// Server is a Socket.IO server on top of an Engine.IO server. Serve HTTP
// with the engine server (or this server's ServeHTTP, the same thing).
type Server struct {
	engine           *engine.Server
	opts             Options
	logger           *zap.Logger
	connectDeadlines *connectDeadlines
	shuttingDown     atomic.Bool // set once, by Shutdown
	recovery         serverRecovery

	// limits (limits.go)
	eventRate   atomic.Pointer[EventRateLimit]
	rateLimited atomic.Uint64 // events over a rate limit
	maxRooms    atomic.Int64
	nanotime    func() int64 // the rate limits' clock; tests replace it

	maxPacketSize atomic.Int64
	// startTimer arms the deadline of an incomplete binary packet; tests
	// replace it to fire deadlines themselves.
	startTimer func(d time.Duration, f func()) (stop func() bool)

	// mu guards namespaces. The server keeps no list of its clients: the
	// engine has the sessions, the namespaces the sockets.
	mu         sync.RWMutex
	namespaces map[string]*Namespace
}

// NewServer makes a Socket.IO server of eng, taking over its connection
// callback. The main namespace "/" exists from the start.
func NewServer(eng *engine.Server, opts Options) *Server {
	srv := &Server{
		engine:     eng,
		opts:       opts,
		logger:     opts.Logger,
		namespaces: make(map[string]*Namespace),
	}
	if srv.logger == nil {
		srv.logger = zap.NewNop()
	}
	srv.nanotime = monotonicNanos
	srv.eventRate.Store(opts.EventRateLimit)
	srv.maxRooms.Store(int64(opts.MaxRoomsPerSocket))
	timeout := opts.ConnectTimeout
	if timeout <= 0 {
		timeout = 45 * time.Second
	}
	srv.connectDeadlines = newConnectDeadlines(timeout, srv.logger)
	if opts.ConnectionStateRecovery != nil {
		srv.SetRecoveryOptions(opts.ConnectionStateRecovery)
	}

	if srv.opts.AttachmentTimeout <= 0 {
		srv.opts.AttachmentTimeout = 30 * time.Second
	}
	srv.SetMaxPacketSize(opts.MaxPacketSize)
	srv.startTimer = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	srv.Of("/")
	eng.OnConnection(srv.onConnection)
	return srv
}

// SetMaxPacketSize sets Options.MaxPacketSize (1e6 when n <= 0) for the
// clients that connect from now on, for configuration reloads.
func (srv *Server) SetMaxPacketSize(n int64) {
	if n <= 0 {
		n = 1e6
	}
	srv.maxPacketSize.Store(n)
}

// ServeHTTP hands the request to the Engine.IO server.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	srv.engine.ServeHTTP(w, r)
}

// Engine is the underlying Engine.IO server.
func (srv *Server) Engine() *engine.Server { return srv.engine }

// Of returns the namespace called name, creating it if needed; a name
// without a leading slash gets one, as in Node. Clients can only connect
// to namespaces created this way ("Invalid namespace" otherwise).
func (srv *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if n := srv.namespaces[name]; n != nil {
		return n
	}
	n := newNamespace(srv, name)
	srv.namespaces[name] = n
	return n
}

func (srv *Server) namespace(name string) *Namespace {
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	return srv.namespaces[name]
}

// OnConnection adds a connection handler to the main namespace, like
// io.on("connection") in Node.
func (srv *Server) OnConnection(fn func(*Socket)) { srv.Of("/").OnConnection(fn) }

// Use adds a middleware to the main namespace.
func (srv *Server) Use(fn func(*Socket) error) { srv.Of("/").Use(fn) }

// Emit sends an event to every socket of the main namespace.
func (srv *Server) Emit(event string, args ...any) error { return srv.Of("/").Emit(event, args...) }

// To starts a broadcast to rooms of the main namespace.
func (srv *Server) To(rooms ...string) *BroadcastOperator { return srv.Of("/").To(rooms...) }

func (srv *Server) onConnection(sess *engine.Session) {
	if srv.shuttingDown.Load() {
		sess.Close()
		return
	}
	newClient(srv, sess).start()
}

// Shutdown disconnects every socket with reason "server shutting down",
// shuts the Engine.IO server down (the clients are told), and closes the
// adapters. It waits for the connections to end until ctx does.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.shuttingDown.Store(true)
	srv.connectDeadlines.stop()
	srv.stopRecovery()
	srv.mu.RLock()
	namespaces := make([]*Namespace, 0, len(srv.namespaces))
	for _, n := range srv.namespaces {
		namespaces = append(namespaces, n)
	}
	srv.mu.RUnlock()
	for _, n := range namespaces {
		for _, s := range n.Sockets() {
			s.onClose("server shutting down")
		}
	}
	err := srv.engine.Shutdown(ctx)
	for _, n := range namespaces {
		err = errors.Join(err, n.adapter.Close())
	}
	return err
}
