// Package caddysocketio is the Caddy handler http.handlers.socketio: a
// Socket.IO server (wire-compatible with Node's socket.io 4 and, with
// allow_eio3, socket.io-client 2) inside Caddy, with CORS, request matchers
// as allow_request, and live servers that survive config reloads.
package caddysocketio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/cors"
	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler serves Socket.IO under Path and passes every other request to the
// next handler, so that it sits beside file_server or reverse_proxy.
//
// The Socket.IO server itself (its sessions, namespaces and rooms) lives in
// a pool keyed by Name, outside the handler: a config reload provisions a
// new Handler that picks up the same server, so connected clients keep
// their socket id while new handshakes see the new options, CORS policy and
// allow_request matchers.
type Handler struct {
	// Name keys the live server in the pool that survives reloads; the path
	// by default. Handlers with the same name share one Socket.IO server
	// and must be configured alike, so give each application its own name
	// when two sites use the same path.
	Name string `json:"name,omitempty"`
	// Path is where clients connect (their `path` option), "/socket.io/" by
	// default. A trailing slash is added, as Node does.
	Path string `json:"path,omitempty"`
	// Transports allowed: "polling", "websocket"; both by default.
	Transports []string `json:"transports,omitempty"`
	// AllowUpgrades lets polling clients upgrade to WebSocket (on by
	// default; Node's allowUpgrades).
	AllowUpgrades *bool `json:"allow_upgrades,omitempty"`
	// AllowEIO3 accepts socket.io-client 2.x (Engine.IO protocol 3).
	AllowEIO3 bool `json:"allow_eio3,omitempty"`
	// JSONP accepts JSONP polling, the fallback of socket.io-client 2.x in
	// browsers without CORS (off by default; needs allow_eio3). A page of
	// any site can make JSONP requests (a <script> sends no Origin), so
	// each one must come from a page the origin check allows, judged by
	// its Origin, Sec-Fetch-Site and Referer headers; a browser that sends
	// none of them cannot be checked.
	JSONP bool `json:"jsonp,omitempty"`
	// PingInterval, PingTimeout, UpgradeTimeout: Node's options of the same
	// names (25s, 20s, 10s by default).
	PingInterval   caddy.Duration `json:"ping_interval,omitempty"`
	PingTimeout    caddy.Duration `json:"ping_timeout,omitempty"`
	UpgradeTimeout caddy.Duration `json:"upgrade_timeout,omitempty"`
	// ConnectTimeout closes an Engine.IO session that joins no namespace in
	// time (45s by default; Node's connectTimeout). It is fixed when the
	// live server starts: a reload does not change it.
	ConnectTimeout caddy.Duration `json:"connect_timeout,omitempty"`
	// MaxPayload is the largest message or POST body in bytes (1e6 by
	// default; Node's maxHttpBufferSize).
	MaxPayload int64 `json:"max_payload,omitempty"`
	// HTTPCompression of polling responses (Node's httpCompression): on
	// with a 1024-byte threshold by default.
	HTTPCompression *HTTPCompression `json:"http_compression,omitempty"`
	// PerMessageDeflate negotiates WebSocket compression (off by default).
	PerMessageDeflate bool `json:"per_message_deflate,omitempty"`
	// Cookie sends the session id in a cookie, for sticky load balancing.
	Cookie *Cookie `json:"cookie,omitempty"`
	// CORS headers, as the Node server's `cors` option; none when absent.
	CORS *CORS `json:"cors,omitempty"`
	// DisableOriginCheck lets browsers from any origin open a WebSocket or a
	// polling session, as the Node server does. By default a handshake or
	// upgrade whose Origin is neither the request's own host nor allowed by
	// CORS is refused with 403, since browsers apply no CORS to WebSocket.
	DisableOriginCheck bool `json:"disable_origin_check,omitempty"`
	// AllowRequest is a set of request matchers every handshake must
	// match (Node's allowRequest): a refusal is 403 {"code":4,...} on
	// polling and 400 on a WebSocket upgrade.
	AllowRequestRaw caddy.ModuleMap `json:"allow_request,omitempty" caddy:"namespace=http.matchers"`
	// Namespaces configured without application code.
	Namespaces []Namespace `json:"namespaces,omitempty"`
	// Adapter connects the server to others (Node's adapter option), such
	// as socketio.adapters.redis; in memory (one server) when absent. A
	// reload that changes its settings (a Redis address, say) keeps the
	// server and its connections and moves it to the new settings before
	// `caddy reload` returns (when the old config is cleaned up, or with
	// the new config's first request if that comes earlier). A reload that
	// adds or removes the adapter, or changes its kind, starts a new
	// server: the socketio package cannot swap a namespace's adapter in
	// place, so the clients get a close packet and reconnect to the new
	// one.
	AdapterRaw json.RawMessage `json:"adapter,omitempty" caddy:"namespace=socketio.adapters inline_key=adapter"`
	// AdminUI serves the official Socket.IO Admin UI's protocol on a
	// namespace; see admin_ui.go.
	AdminUI *AdminUI `json:"admin_ui,omitempty"`

	// ConnectionStateRecovery lets clients that lost their connection
	// recover their state and missed events; off when absent.
	ConnectionStateRecovery *ConnectionStateRecovery `json:"connection_state_recovery,omitempty"`

	// Limits: what one client, or all of them, may cost the server. The
	// connection limits and max_events_per_second are off by default; see
	// the README's Limits section for a recipe.

	// MaxConnections bounds the Engine.IO sessions this server holds at
	// once; a handshake beyond it gets 429 {"code":6,"message":"Too many
	// connections"}, which socket.io-client reports as a connect_error
	// (and retries with its reconnection delay). No limit when zero.
	MaxConnections int `json:"max_connections,omitempty"`
	// MaxConnectionsPerIP bounds the sessions of one client IP, the one
	// Caddy resolves (so trusted_proxies applies: behind a proxy, set it,
	// or every client counts as the proxy). No limit when zero. Offices
	// and mobile carriers put many users behind one address: set it well
	// above one page's connections.
	MaxConnectionsPerIP int `json:"max_connections_per_ip,omitempty"`
	// MaxEventsPerSecond bounds the events a socket may send: see
	// EventRate. Off when absent; a namespace can set its own.
	MaxEventsPerSecond *EventRate `json:"max_events_per_second,omitempty"`
	// MaxRoomsPerSocket bounds the rooms a socket may be in (its own id
	// room aside): join templates beyond it are not joined, and neither
	// are rooms the application joins. No limit when zero.
	MaxRoomsPerSocket int `json:"max_rooms_per_socket,omitempty"`
	// MaxBufferedBytes is the server-wide budget of outbound bytes queued
	// for clients that have not read them yet. When it is reached, the
	// clients with the oldest, largest backlog are closed first; clients
	// that keep up lose nothing. 128MiB by default; -1 (off in the
	// Caddyfile) turns it off, leaving only the per-client bound (16 ×
	// max_payload).
	MaxBufferedBytes int64 `json:"max_buffered_bytes,omitempty"`

	logger       *zap.Logger
	policy       *cors.Policy          // nil: no CORS headers, same-origin browsers only
	allowRequest caddyhttp.MatcherSet  // nil: every handshake is allowed
	adapter      Adapter               // nil: the in-memory adapter
	poolKey      string                // the live server's key in servers
	live         *liveServer           // shared with other configs through servers
	generation   uint64                // this handler's hold on live
	refused      *refusedOrigins       // origins already logged
	namespaces   map[string]*nsHandler // compiled Namespaces, by name
}

// Adapter is what a socketio.adapters.* module gives the handler.
type Adapter interface {
	// AdapterFactory makes the adapter of each namespace.
	AdapterFactory() socketio.AdapterFactory
	// PoolKey names what a live server cannot change in place, such as
	// the kind of adapter: a reload that changes it starts a new server.
	PoolKey() string
	// Attach moves srv (a live server started under this config or an
	// earlier one) to this adapter's settings, and keeps what they need
	// (a connection) until detach is called, even after the config that
	// made the adapter is cleaned up: the server, not the config, is what
	// uses it.
	Attach(srv *socketio.Server) (detach func())
}

// HTTPCompression is Node's httpCompression option.
type HTTPCompression struct {
	Disabled bool `json:"disabled,omitempty"`
	// Threshold in bytes below which a response is not compressed; 1024 by
	// default.
	Threshold int `json:"threshold,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.socketio",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision compiles the configuration, then takes (or starts) the live
// server from the pool and hands it the new options.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.Validate(); err != nil {
		return err
	}
	h.Path = normalizePath(h.Path)
	if h.Name == "" {
		h.Name = h.Path
	}
	var err error
	if h.policy, err = h.CORS.policy(); err != nil {
		return err
	}
	if h.AllowRequestRaw != nil {
		mods, err := ctx.LoadModule(h, "AllowRequestRaw")
		if err != nil {
			return fmt.Errorf("loading allow_request matchers: %v", err)
		}
		for _, m := range mods.(map[string]any) {
			h.allowRequest = append(h.allowRequest, m)
		}
	}
	h.namespaces = make(map[string]*nsHandler, len(h.Namespaces))
	for _, ns := range h.Namespaces {
		c, err := compileNamespace(ns)
		if err != nil {
			return err
		}
		h.namespaces[c.name] = c
		if ns.Hooks != nil {
			if c.hooks, err = h.provisionHooks(ctx, c.name, ns.Hooks); err != nil {
				return err
			}
		}
	}
	h.refused = newRefusedOrigins()
	h.poolKey = h.Name
	if h.AdapterRaw != nil {
		mod, err := ctx.LoadModule(h, "AdapterRaw")
		if err != nil {
			return fmt.Errorf("loading the adapter: %v", err)
		}
		a, ok := mod.(Adapter)
		if !ok {
			return fmt.Errorf("module %T is not a Socket.IO adapter", mod)
		}
		h.adapter = a
		h.poolKey = h.Name + " adapter " + a.PoolKey()
	}

	if err := registerMetrics(ctx); err != nil {
		return err
	}
	val, loaded, err := servers.LoadOrNew(h.poolKey, func() (caddy.Destructor, error) {
		return newLiveServer(h.Name, h.engineOptions(), h.socketOptions(), h.adapter), nil
	})
	if err != nil {
		return err
	}
	h.live = val.(*liveServer)
	h.generation = h.live.hold(h, ctx.Context)
	handlerJSON, err := json.Marshal(h)
	if err != nil {
		return err
	}
	// The new options reach a shared server with this handler's first
	// request, or when the config it replaces is cleaned up (see activate
	// and release), not here: if another part of this config fails to
	// load, Caddy keeps the running config, and its server must keep its
	// options. A server this handler just started serves no
	// other config, and takes them now: its namespaces exist (and, with
	// an adapter, listen to the other nodes) before any client comes.
	if !loaded {
		h.live.activate(h)
	}
	return h.live.claim(ctx.Context, handlerJSON)
}

// Validate reports configuration errors with the value and the fix.
func (h *Handler) Validate() error {
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		return fmt.Errorf("path %q must start with /", h.Path)
	}
	for _, t := range h.Transports {
		if t != "polling" && t != "websocket" {
			return fmt.Errorf("transport %q is not one of polling, websocket", t)
		}
	}
	for name, d := range map[string]caddy.Duration{
		"ping_interval": h.PingInterval, "ping_timeout": h.PingTimeout,
		"upgrade_timeout": h.UpgradeTimeout, "connect_timeout": h.ConnectTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("%s %s must be positive", name, time.Duration(d))
		}
	}
	if h.JSONP && !h.AllowEIO3 {
		return fmt.Errorf("jsonp needs allow_eio3: only socket.io-client 2.x (Engine.IO protocol 3) polls over JSONP")
	}
	if h.MaxPayload < 0 {
		return fmt.Errorf("max_payload %d must be positive", h.MaxPayload)
	}
	if c := h.HTTPCompression; c != nil && c.Threshold < 0 {
		return fmt.Errorf("http_compression threshold %d must be positive", c.Threshold)
	}
	if err := h.Cookie.validate(); err != nil {
		return err
	}
	if err := h.ConnectionStateRecovery.validate(); err != nil {
		return err
	}
	if _, err := h.CORS.policy(); err != nil {
		return err
	}
	if err := h.validateLimits(); err != nil {
		return err
	}
	if err := h.AdminUI.validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, ns := range h.Namespaces {
		c, err := compileNamespace(ns)
		if err != nil {
			return err
		}
		if seen[c.name] {
			return fmt.Errorf("namespace %q is configured twice; merge the two blocks", c.name)
		}
		seen[c.name] = true
		if ns.Hooks != nil {
			if err := ns.Hooks.validate(c.name, ns.Relay); err != nil {
				return err
			}
		}
	}
	return nil
}

// Cleanup releases this config's hold on the live server; the last holder
// (a `caddy stop`, or a reload that removed the handler) shuts it down.
func (h *Handler) Cleanup() error {
	if h.live == nil {
		return nil
	}
	h.live.release(h.generation)
	_, err := servers.Delete(h.poolKey)
	return err
}

// ServeHTTP serves requests under Path and passes the others on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !strings.HasPrefix(r.URL.Path, h.Path) {
		return next.ServeHTTP(w, r)
	}
	// CORS headers go on every response under the path, errors included,
	// as the Node server sets them before engine.io looks at the request:
	// without them a browser shows a CORS error instead of the real one.
	if h.policy != nil {
		if h.policy.Apply(w, r) {
			return nil
		}
		if r.Method == http.MethodOptions && h.policy.PreflightContinue() {
			return next.ServeHTTP(w, r)
		}
	}
	upgrade := websocket.IsWebSocketUpgrade(r)
	handshake := !hasSID(r.URL.RawQuery)
	if (upgrade || handshake) && !h.DisableOriginCheck && !h.policy.CheckOrigin(r) {
		h.refuseOrigin(w, r, upgrade)
		return nil
	}
	if (handshake && h.allowRequest != nil) || h.JSONP {
		// The engine (shared with other configs) asks the handler that
		// served the request, so each config's matchers and origins apply
		// to its own requests only.
		r = r.WithContext(context.WithValue(r.Context(), handlerKey{}, h))
	}
	h.live.activate(h)
	if r.Method == http.MethodGet {
		// Long-polls are GETs: the server they are on must have the hook
		// that ends them when it shuts down, and they must end before its
		// write timeout.
		h.live.watch(r, h)
		r = withPollDeadline(r)
	}
	h.live.engine.ServeHTTP(w, r)
	return nil
}

// withPollDeadline ends a long-poll before the server's write timeout would
// cut it. Go's HTTP server arms that timeout when it reads the request, and
// in Caddy a handler cannot lift it, while a long-poll waits up to
// ping_interval for something to send: answered with a noop a little
// earlier, the client simply polls again and loses nothing.
func withPollDeadline(r *http.Request) *http.Request {
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil || srv.WriteTimeout <= 0 {
		return r
	}
	write := time.Duration(srv.WriteTimeout)
	margin := min(write/4, time.Second)
	return r.WithContext(engine.WithPollDeadline(r.Context(), time.Now().Add(write-margin)))
}

// handlerKey carries the Handler in a handshake's context, for allowRequest.
type handlerKey struct{}

// errForbidden is the refusal of allow_request; the engine sends its text
// as the message, as Node sends "Forbidden".
var errForbidden = errors.New("Forbidden")

// allowRequest is the engine's AllowRequest: the matchers of the handler
// that served the handshake.
func allowRequest(r *http.Request) error {
	h, _ := r.Context().Value(handlerKey{}).(*Handler)
	if h == nil || h.allowRequest == nil {
		return nil
	}
	ok, err := h.allowRequest.MatchWithError(r)
	if err != nil {
		h.logger.Error("allow_request matcher failed; refusing the handshake", zap.Error(err))
		return errForbidden
	}
	if !ok {
		if ce := h.logger.Check(zap.DebugLevel, "handshake refused by allow_request"); ce != nil {
			ce.Write(zap.String("remote_addr", r.RemoteAddr), zap.String("origin", r.Header.Get("Origin")))
		}
		return errForbidden
	}
	return nil
}

// errJSONPOff refuses the requests of a JSONP session that a reload turned
// jsonp off for.
var errJSONPOff = errors.New("JSONP polling is disabled on this server")

// allowJSONP is the engine's AllowJSONP: a JSONP request must come from a
// page the handler that served it lets connect (cors.CheckScriptRequest).
func allowJSONP(r *http.Request) error {
	h, _ := r.Context().Value(handlerKey{}).(*Handler)
	if h == nil || !h.JSONP {
		return errJSONPOff
	}
	if h.DisableOriginCheck || h.policy.CheckScriptRequest(r) {
		return nil
	}
	page := r.Header.Get("Origin")
	if page == "" {
		page = r.Header.Get("Referer")
		if u, err := url.Parse(page); err == nil && u.Host != "" {
			page = u.Scheme + "://" + u.Host // the path may hold secrets
		}
	}
	if h.refused.first("jsonp " + page) {
		h.logger.Warn("refused a JSONP request from a page that is not allowed to connect",
			zap.String("page", page), zap.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")), zap.String("host", r.Host),
			zap.String("hint", "JSONP requests must come from a page of this host or an origin of the cors block"))
	}
	return errForbidden
}

// refuseOrigin answers a browser handshake or upgrade from an origin the
// policy does not allow: 403, with Node's JSON error body on polling so
// that a script reading it sees the usual shape.
func (h *Handler) refuseOrigin(w http.ResponseWriter, r *http.Request, upgrade bool) {
	h.live.metrics.RefusedOrigin()
	origin := r.Header.Get("Origin")
	if h.refused.first(origin) {
		hint := `add it to the socketio directive's cors block: "origin ` + origin + `"`
		if h.CORS == nil {
			hint = `add a cors block to the socketio directive with "origin ` + origin + `" (without one, only same-origin pages may connect)`
		}
		h.logger.Warn("refused a Socket.IO connection from an origin that is not allowed",
			zap.String("origin", origin), zap.String("host", r.Host), zap.String("hint", hint))
	}
	if upgrade {
		w.Header().Set("Connection", "close")
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	const body = `{"code":4,"message":"Forbidden"}`
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(body))
}

// engineOptions is the Engine.IO part of the configuration.
func (h *Handler) engineOptions() engine.Options {
	o := engine.Options{
		PingInterval:      time.Duration(h.PingInterval),
		PingTimeout:       time.Duration(h.PingTimeout),
		UpgradeTimeout:    time.Duration(h.UpgradeTimeout),
		MaxPayload:        h.MaxPayload,
		Transports:        h.Transports,
		DisableUpgrades:   h.AllowUpgrades != nil && !*h.AllowUpgrades,
		AllowEIO3:         h.AllowEIO3,
		PerMessageDeflate: h.PerMessageDeflate,
		Cookie:            h.Cookie.httpCookie(),
		AllowRequest:      allowRequest,
		JSONP:             h.JSONP,
		AllowJSONP:        allowJSONP,
		Logger:            h.logger,

		MaxConnections:      h.MaxConnections,
		MaxConnectionsPerIP: h.MaxConnectionsPerIP,
		ClientIP:            clientIP,
		MaxBufferedBytes:    h.maxBufferedBytes(),
	}
	if c := h.HTTPCompression; c != nil {
		o.HTTPCompression = &engine.CompressionOptions{Disabled: c.Disabled, Threshold: c.Threshold}
	}
	return o
}

// clientIP is the client address Caddy resolved for the request (the
// peer's, or with trusted_proxies the one a trusted proxy forwarded), for
// max_connections_per_ip.
func clientIP(r *http.Request) string {
	if ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// normalizePath gives the path Node's engine.io matches: the default, and a
// trailing slash so that /socket.io does not also match /socket.iox.
func normalizePath(p string) string {
	if p == "" {
		return "/socket.io/"
	}
	return strings.TrimSuffix(p, "/") + "/"
}

// hasSID reports whether the query has a non-empty sid, without parsing the
// whole query: handshakes are the requests without one.
func hasSID(rawQuery string) bool {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		if v, ok := strings.CutPrefix(kv, "sid="); ok && v != "" {
			return true
		}
	}
	return false
}

// refusedOrigins remembers which refused origins were logged, so that a page
// retrying every few seconds does not flood the log. It is bounded: past
// maxRefusedOrigins distinct origins (someone forging them), nothing more is
// remembered or logged above debug.
type refusedOrigins struct {
	mu   sync.Mutex
	seen map[string]bool // guarded by mu
}

const maxRefusedOrigins = 1000

func newRefusedOrigins() *refusedOrigins { return &refusedOrigins{seen: map[string]bool{}} }

// first reports whether origin is refused for the first time.
func (r *refusedOrigins) first(origin string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[origin] || len(r.seen) >= maxRefusedOrigins {
		return false
	}
	r.seen[origin] = true
	return true
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
