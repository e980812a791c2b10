package caddysocketio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// servers holds the live Socket.IO servers by name. A config reload
// provisions the new handlers (taking a second reference) before cleaning
// up the old ones, so a server whose name survives the reload is never
// stopped and its clients never notice.
var servers = caddy.NewUsagePool()

// shutdownTimeout bounds how long a stopping server waits for clients to
// receive their close packet before cutting the connections.
const shutdownTimeout = 5 * time.Second

// liveServer is an Engine.IO server with its Socket.IO server on top. It is
// owned by the pool: the last Handler to release it (Cleanup) destroys it.
type liveServer struct {
	name   string
	engine *engine.Server
	io     *socketio.Server

	// namespaces is the current config's namespace setup, replaced on each
	// provision; connection callbacks read it when a socket connects.
	namespaces atomic.Pointer[map[string]*nsHandler]

	mu         sync.Mutex
	registered map[string]bool       // guarded by mu: namespaces with our callbacks
	watched    map[*http.Server]bool // guarded by mu: servers with our shutdown hook
	logger     *zap.Logger           // guarded by mu: the newest config's logger

	stopOnce sync.Once
	stopErr  error
}

func newLiveServer(name string, eo engine.Options, so socketio.Options) *liveServer {
	eng := engine.NewServer(eo)
	l := &liveServer{
		name:       name,
		engine:     eng,
		io:         socketio.NewServer(eng, so),
		registered: map[string]bool{},
		watched:    map[*http.Server]bool{},
		logger:     eo.Logger,
	}
	empty := map[string]*nsHandler{}
	l.namespaces.Store(&empty)
	return l
}

// socketOptions is the Socket.IO part of the configuration; it is fixed
// when the live server starts.
func (h *Handler) socketOptions() socketio.Options {
	return socketio.Options{ConnectTimeout: time.Duration(h.ConnectTimeout), Logger: h.logger}
}

// configure installs a config's namespaces. Callbacks are registered once
// per namespace name and read the current setup, because the socketio
// package has no way to remove one; a namespace dropped from the config
// refuses new connections with Node's "Invalid namespace".
func (l *liveServer) configure(namespaces map[string]*nsHandler, logger *zap.Logger) {
	l.namespaces.Store(&namespaces)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logger = logger
	for name, c := range namespaces {
		ns := l.io.Of(name)
		if c.relay != nil {
			// Relay settings add up in the socketio package: a reload can
			// relay more events, but fewer only after a restart.
			ns.Relay(c.relay...)
		}
		if l.registered[name] {
			continue
		}
		l.registered[name] = true
		ns.Use(func(s *socketio.Socket) error { return l.onConnect(name, s) })
	}
}

// onConnect joins a connecting socket to its namespace's rooms.
func (l *liveServer) onConnect(name string, s *socketio.Socket) error {
	c := (*l.namespaces.Load())[name]
	if c == nil {
		if name == "/" {
			return nil
		}
		return &socketio.ConnectError{Message: "Invalid namespace"}
	}
	if len(c.join) == 0 {
		return nil
	}
	hs := s.Handshake()
	values := handshakeValues{query: hs.Query, header: hs.Headers}
	if c.usesAuth {
		_ = json.Unmarshal(hs.Auth, &values.auth) // not an object: {auth.*} is empty
	}
	rooms := make([]string, 0, len(c.join))
	for _, t := range c.join {
		if room, ok := t.expand(values); ok {
			rooms = append(rooms, room)
		}
	}
	if len(rooms) > 0 {
		s.Join(rooms...)
	}
	return nil
}

// watch registers, once per http.Server, a hook that runs when that server
// begins to shut down. On `caddy stop` the HTTP server would otherwise wait
// for every long-poll to end (up to ping_interval): when no newer config
// holds this live server, the hook closes the sessions first, so polling
// clients get their close packet at once. During a reload the new config
// already holds a reference, and the hook does nothing.
func (l *liveServer) watch(r *http.Request) {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return
	}
	l.mu.Lock()
	seen := l.watched[srv]
	l.watched[srv] = true
	l.mu.Unlock()
	if seen {
		return
	}
	srv.RegisterOnShutdown(func() {
		if refs, ok := servers.References(l.name); ok && refs > 1 {
			return
		}
		_ = l.Destruct()
	})
}

// Destruct closes every session (clients get a close packet, then their
// connections end) and refuses new ones. It is idempotent: the shutdown
// hook and the pool may both call it.
func (l *liveServer) Destruct() error {
	l.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		l.stopErr = l.io.Shutdown(ctx) // shuts the engine down too
		l.mu.Lock()
		logger := l.logger
		l.mu.Unlock()
		if l.stopErr != nil {
			logger.Warn("Socket.IO server did not stop cleanly", zap.String("name", l.name), zap.Error(l.stopErr))
		}
	})
	return l.stopErr
}

// nsHandler is a compiled Namespace.
type nsHandler struct {
	name     string
	relay    []string // nil: no relay; empty: every event
	join     []roomTemplate
	usesAuth bool
}

func compileNamespace(ns Namespace) (*nsHandler, error) {
	name := ns.Name
	if name == "" {
		return nil, fmt.Errorf("namespace without a name; use \"/\" for the main namespace")
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name // as Node's io.of("chat")
	}
	c := &nsHandler{name: name}
	if ns.Relay != nil {
		c.relay = append([]string{}, ns.Relay.Events...)
	}
	for _, room := range ns.Join {
		t, err := parseRoomTemplate(room)
		if err != nil {
			return nil, fmt.Errorf("namespace %q: join: %v", name, err)
		}
		for _, p := range t.parts {
			c.usesAuth = c.usesAuth || p.source == "auth"
		}
		c.join = append(c.join, t)
	}
	return c, nil
}

// Interface guard
var _ caddy.Destructor = (*liveServer)(nil)
