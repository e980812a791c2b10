package caddysocketio

import (
	"bytes"
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

	"github.com/caddy-socketio/caddy-socketio/adminui"
	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/hooks"

	"github.com/caddy-socketio/caddy-socketio/metrics"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// servers holds the live Socket.IO servers by name. A config reload
// provisions the new handlers (taking a second reference) before cleaning
// up the old ones, so a server whose name survives the reload is never
// stopped and its clients never notice.
var servers = caddy.NewUsagePool()

// shutdownTimeout bounds how long a stopping server waits for clients to
// receive their close packet before cutting the connections. Clients on
// WebSocket and those with a pending long-poll get it at once; a polling
// client between two requests may find the listener already closed, so
// waiting longer would only delay `caddy stop`.
var shutdownTimeout = 2 * time.Second

// hooksFlushTimeout bounds how long a stopping server tries to deliver
// the hook notifications still queued (the disconnects of its last
// sockets among them): one default hook timeout.
var hooksFlushTimeout = 5 * time.Second

// liveServersStarted counts the live servers started by this process, so
// that of two servers sharing a name during a reload the newer is known.
var liveServersStarted atomic.Uint64

// liveServer is an Engine.IO server with its Socket.IO server on top. It is
// owned by the pool: the last Handler to release it (Cleanup) destroys it.
type liveServer struct {
	born    uint64 // liveServersStarted when it started: later servers have higher numbers
	name    string
	engine  *engine.Server
	io      *socketio.Server
	metrics *metrics.Server // reported from newLiveServer until Destruct

	// namespaces is the current config's namespace setup, replaced on each
	// provision; connection callbacks read it when a socket connects.
	namespaces atomic.Pointer[map[string]*nsHandler]

	// watched holds the *http.Server values that have our shutdown hook; a
	// sync.Map because every GET looks, and only the first one per server
	// stores.
	watched sync.Map

	mu         sync.Mutex
	registered map[string]bool   // guarded by mu: namespaces with our callbacks
	logger     *zap.Logger       // guarded by mu: the newest config's logger
	holders    map[uint64]holder // guarded by mu: the handlers holding it, by generation
	active     atomic.Uint64     // the generation whose options apply; only grows
	lastGen    uint64            // guarded by mu: the newest generation handed out
	config     context.Context   // guarded by mu: the config that last claimed it
	configJSON []byte            // guarded by mu: that config's handler, as JSON
	adapter    Adapter           // guarded by mu: the adapter whose settings apply; nil: in memory
	detach     func()            // guarded by mu: releases what adapter holds for this server
	stopped    bool              // guarded by mu: Destruct ran; nothing may attach any more

	// hooks guarded by mu: the namespaces with backend hooks attached.
	hooks map[string]*hooks.Hooks

	stopOnce sync.Once

	adminUI *adminui.Instrument // guarded by mu: the Admin UI, when configured
}

// newLiveServer starts a server; so.Adapter, if any, is adapter's factory.
func newLiveServer(name string, eo engine.Options, so socketio.Options, adapter Adapter) *liveServer {
	// name is the handler's name, for messages.
	eng := engine.NewServer(eo)
	l := &liveServer{
		born:       liveServersStarted.Add(1),
		name:       name,
		engine:     eng,
		io:         socketio.NewServer(eng, so),
		registered: map[string]bool{},
		hooks:      map[string]*hooks.Hooks{},
		holders:    map[uint64]holder{},
		logger:     eo.Logger,
		adapter:    adapter,
		detach:     func() {},
	}
	if adapter != nil {
		l.detach = adapter.Attach(l.io)
	}
	l.metrics = metrics.NewServer(name, eng, l.io)
	metrics.Add(l.metrics)
	empty := map[string]*nsHandler{}
	l.namespaces.Store(&empty)
	return l
}

// socketOptions is the Socket.IO part of the configuration; it is fixed
// when the live server starts.
func (h *Handler) socketOptions() socketio.Options {
	o := socketio.Options{ConnectTimeout: time.Duration(h.ConnectTimeout), Logger: h.logger,
		EventRateLimit: h.MaxEventsPerSecond.rateLimit(), MaxRoomsPerSocket: h.MaxRoomsPerSocket}
	o.ConnectionStateRecovery = h.ConnectionStateRecovery.options()
	o.MaxPacketSize = h.MaxPayload
	if h.adapter != nil {
		o.Adapter = h.adapter.AdapterFactory()
	}
	return o
}

// activate makes h's options, namespaces and adapter settings those of the
// server, unless a newer config's handler already did: during a reload the
// old handlers still finish their requests, and must not take the server
// back. It runs once per generation, on whichever comes first: h's first
// request, or the cleanup of the config h replaces (see release).
func (l *liveServer) activate(h *Handler) {
	if l.active.Load() >= h.generation {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active.Load() >= h.generation {
		return
	}
	l.engine.SetOptions(h.engineOptions())
	// Kept sessions and stored events stay with the server across reloads.
	l.io.SetRecoveryOptions(h.ConnectionStateRecovery.options())
	h.applyLimits(l.io)                 // limits.go
	l.io.SetMaxPacketSize(h.MaxPayload) // a packet holds no more than a message may
	l.attachLocked(h.adapter)
	l.configureLocked(h.namespaces, h.logger)
	l.configureAdminUILocked(h.AdminUI, h.logger)
	l.active.Store(h.generation)
}

// attachLocked moves the server to a reloaded config's adapter settings
// (before configureLocked creates new namespaces, so that they start on
// them). The pool key holds the adapter's kind, so a and l.adapter are
// both nil or both of one kind; with unchanged settings, Attach only takes
// a new hold on the same connection.
func (l *liveServer) attachLocked(a Adapter) {
	if a == nil || a == l.adapter || l.stopped {
		return // (a late request after a stop must not hold a connection again)
	}
	detach := a.Attach(l.io)
	l.detach()
	l.adapter, l.detach = a, detach
}

// configureLocked installs a config's namespaces. Callbacks are registered once
// per namespace name and read the current setup, because the socketio
// package has no way to remove one; a namespace dropped from the config
// refuses new connections with Node's "Invalid namespace", and its
// connected sockets stay but relay nothing any more. The relay setting is
// replaced, not added to, so a reload that narrows or removes `relay`
// applies to the sockets already connected too.
func (l *liveServer) configureLocked(namespaces map[string]*nsHandler, logger *zap.Logger) {
	l.namespaces.Store(&namespaces)
	l.logger = logger
	l.configureHooksLocked(namespaces)
	for name := range l.registered {
		if namespaces[name] == nil {
			l.io.Of(name).SetRelay(false)
		}
	}
	for name, c := range namespaces {
		ns := l.io.Of(name)
		ns.SetEventRateLimit(c.eventRate) // limits.go
		ns.SetRelay(c.relay != nil, c.relay...)
		// Where `join` names the rooms, they are what separates the
		// clients: one that joined none (an empty placeholder) must not
		// reach them all.
		ns.RelayWithinRooms(len(c.join) > 0)
		if l.registered[name] {
			continue
		}
		l.registered[name] = true
		ns.Use(func(s *socketio.Socket) error { return l.onConnect(name, s) })
	}
}

// configureHooksLocked hands each namespace its hooks block, or nil when
// the config has none for it (any more): a reload's settings apply from the
// next hook call, and live sockets keep their data and meta. Hooks are
// attached to a namespace the first time a config gives it a hooks block,
// and stay (the socketio package cannot remove an observer); without a
// config they do nothing. A namespace that starts with hooks has them
// attached before the join middleware, so the backend decides first.
func (l *liveServer) configureHooksLocked(namespaces map[string]*nsHandler) {
	for name, c := range namespaces {
		if c.hooks != nil && l.hooks[name] == nil && !l.stopped {
			l.hooks[name] = hooks.Attach(l.io.Of(name))
			l.metrics.AddHooks(name, l.hooks[name])
		}
	}
	for name, hk := range l.hooks {
		var cfg *hooks.Config
		if c := namespaces[name]; c != nil {
			cfg = c.hooks
		}
		hk.SetConfig(cfg)
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
	var values handshakeValues
	if c.placeholders {
		// Only then: the handshake is rebuilt from the session's record
		// on each call, its headers in a map of their own.
		hs := s.Handshake()
		values = handshakeValues{query: hs.QueryValue, header: hs.Headers}
		if c.usesAuth {
			values.auth = authObject(hs.Auth)
		}
	}
	var rooms []string // allocated only when a room is joined
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

// authObject is a CONNECT's auth payload as the placeholders {auth.*} see
// it: nil when it is not a JSON object.
func authObject(raw json.RawMessage) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// holder is a provisioned handler that holds the server, with the config
// (its caddy.Context's context) that provisioned it.
type holder struct {
	handler *Handler
	config  context.Context
}

// hold records a provisioned handler of config and returns its
// generation: handlers of newer configs get higher numbers.
func (l *liveServer) hold(h *Handler, config context.Context) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastGen++
	l.holders[l.lastGen] = holder{handler: h, config: config}
	return l.lastGen
}

// claim checks that the handlers of one config which share this server
// (same name) are configured alike: otherwise the last one would silently
// impose its options, origins and namespaces on the other's clients. The
// handlers of one config share its caddy.Context's context.
func (l *liveServer) claim(config context.Context, handlerJSON []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.config == config && !bytes.Equal(l.configJSON, handlerJSON) {
		return fmt.Errorf("two socketio handlers share the name %q (the path, unless name is set) but are configured differently; give each its own name, or configure them the same", l.name)
	}
	l.config, l.configJSON = config, handlerJSON
	return nil
}

// release forgets a handler that is cleaned up. When a handler of another,
// newer config holds the server, the config of gen is being replaced by a
// reload that succeeded (Caddy cleans the old config up once the new one
// runs), and the newest handler takes the server over now, if its first
// request has not done so already: a `caddy reload` then returns with the
// server on the new settings (a new Redis, say), while its old
// http.Servers may still be finishing requests. The handlers of a config
// that failed to load are released while the running config still holds
// the server; the newer handlers they see are of their own config, and
// nothing moves.
func (l *liveServer) release(gen uint64) {
	l.mu.Lock()
	gone := l.holders[gen]
	delete(l.holders, gen)
	var newest holder
	var newestGen uint64
	for g, hd := range l.holders {
		if g > newestGen {
			newest, newestGen = hd, g
		}
	}
	l.mu.Unlock()
	if newestGen > gen && newest.config != gone.config {
		l.activate(newest.handler)
	}
}

// superseded reports whether a handler newer than generation gen holds the
// server: then gen's config is being replaced by a reload.
func (l *liveServer) superseded(gen uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for g := range l.holders {
		if g > gen {
			return true
		}
	}
	return false
}

// watch registers, once per http.Server, a hook that runs when that server
// begins to shut down. On `caddy stop` the HTTP server would otherwise wait
// for every long-poll to end (up to ping_interval) before Caddy cleans the
// handlers up: when no newer config holds this live server, the hook closes
// the sessions at once, so polling clients get their close packet now.
// During a reload the new config's handler (a newer generation) already
// holds the server, and the hook does nothing.
func (l *liveServer) watch(r *http.Request, h *Handler) {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return
	}
	if _, seen := l.watched.LoadOrStore(srv, true); seen {
		return
	}
	gen := h.generation
	srv.RegisterOnShutdown(func() {
		if !l.superseded(gen) {
			_ = l.Destruct()
		}
	})
}

// Destruct closes every session (clients get a close packet, then their
// connections end) and refuses new ones. It is idempotent: the shutdown
// hook and the pool may both call it. Sessions still open at the deadline
// (polling clients that stopped polling) are cut; that is the expected end
// of an abandoned session, not an error of the stop.
func (l *liveServer) Destruct() error {
	l.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err := l.io.Shutdown(ctx) // shuts the engine down too
		l.mu.Lock()
		logger, detach := l.logger, l.detach
		l.detach, l.stopped = func() {}, true
		attached := l.hooks
		l.hooks = map[string]*hooks.Hooks{}

		l.configureAdminUILocked(nil, logger) // stops it
		l.mu.Unlock()
		// After the shutdown, so that the disconnect notifications of the
		// sockets it closed are sent too.
		flush, cancelFlush := context.WithTimeout(context.Background(), hooksFlushTimeout)
		defer cancelFlush()
		for name, hk := range attached {
			if err := hk.Close(flush); err != nil {
				logger.Warn("hook notifications not delivered before the server stopped",
					zap.String("namespace", name), zap.Error(err))
			}
		}
		detach() // after the namespaces left the adapter: nothing uses it now
		metrics.Remove(l.metrics)
		if err != nil {
			logger.Info("Socket.IO server stopped; clients that did not take their close packet in time were cut",
				zap.String("name", l.name), zap.Duration("waited", shutdownTimeout), zap.Error(err))
		}
	})
	return nil
}

// nsHandler is a compiled Namespace.
type nsHandler struct {
	name  string
	relay []string // nil: no relay; empty: every event
	join  []roomTemplate
	// placeholders: a join template takes a value from the handshake;
	// usesAuth: from its auth payload.
	placeholders bool
	usesAuth     bool
	hooks        *hooks.Config // nil: no hooks block

	// eventRate is the namespace's own max_events_per_second; nil: the
	// socketio block's.
	eventRate *socketio.EventRateLimit
}

func compileNamespace(ns Namespace) (*nsHandler, error) {
	name := ns.Name
	if name == "" {
		return nil, fmt.Errorf("namespace without a name; use \"/\" for the main namespace")
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name // as Node's io.of("chat")
	}
	c := &nsHandler{name: name, eventRate: ns.MaxEventsPerSecond.rateLimit()}
	if ns.Relay != nil {
		c.relay = append([]string{}, ns.Relay.Events...)
	}
	for _, room := range ns.Join {
		t, err := parseRoomTemplate(room)
		if err != nil {
			return nil, fmt.Errorf("namespace %q: join: %v", name, err)
		}
		for _, p := range t.parts {
			c.placeholders = c.placeholders || p.source != ""
			c.usesAuth = c.usesAuth || p.source == "auth"
		}
		c.join = append(c.join, t)
	}
	return c, nil
}

// Interface guard
var _ caddy.Destructor = (*liveServer)(nil)

// --- Lookups for the socketio_api handler (api.go) ---

// maxPayload is the max_payload of the handler whose options apply (the
// newest holder's until one is active), 1e6 by default.
func (l *liveServer) maxPayload() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	hd, ok := l.holders[l.active.Load()]
	if !ok {
		hd = l.holders[l.lastGen]
	}
	if hd.handler == nil || hd.handler.MaxPayload <= 0 {
		return 1e6
	}
	return hd.handler.MaxPayload
}
