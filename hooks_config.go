package caddysocketio

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/hooks"
)

// Hooks is the JSON form of a namespace's `hooks` block: the application's
// backend authorizes connections, answers events and hears lifecycle
// notifications, over HTTP requests that Transport (any Caddy handler,
// such as reverse_proxy or a php_fastcgi subroute) carries. The contract
// of those requests is in the README and in package hooks.
type Hooks struct {
	// Connect asks the backend before a socket joins the namespace.
	Connect bool `json:"connect,omitempty"`
	// Events (Go path.Match globs, such as "chat:*") that go to the
	// backend; its answer is the ack.
	Events []string `json:"events,omitempty"`
	// Notify lists the lifecycle notifications sent, batched and
	// asynchronously: connect, disconnect, join, leave.
	Notify []string `json:"notify,omitempty"`
	// PathPrefix of the hook requests, which go to <prefix>/connect,
	// <prefix>/event and <prefix>/notify; "/socketio" by default.
	PathPrefix string `json:"path_prefix,omitempty"`
	// Timeout of one hook request; 5s by default.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// MaxConcurrent hook requests in flight; past it, callers wait (up to
	// Timeout), then fail. 64 by default.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// Secrets sign every request (Socketio-Signature, one v1 per secret,
	// so that a backend can rotate keys); placeholders such as
	// {env.SOCKETIO_HOOK_SECRET} or {file./run/secrets/hook} are replaced
	// when the config is loaded. Without one, nothing is signed, and a
	// warning is logged.
	Secrets []string `json:"secrets,omitempty"`
	// ForwardHeaders lists the handshake headers passed on with connect
	// and event requests; none by default.
	ForwardHeaders []string `json:"forward_headers,omitempty"`
	// TransportRaw is the handler that carries the hook requests, as
	// forward_auth runs reverse_proxy: load balancing, health checks, TLS
	// and unix sockets come with it.
	TransportRaw json.RawMessage `json:"transport,omitempty" caddy:"namespace=http.handlers inline_key=handler"`

	// provisioned is set once TransportRaw is loaded (which empties it):
	// Caddy validates a module after provisioning it.
	provisioned bool
}

// unprovisioned stands for the transport when a config is validated
// before its modules are loaded.
type unprovisioned struct{}

func (unprovisioned) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("the hooks transport is not provisioned")
}

const (
	// defaultHooksPathPrefix is where hook requests go without path_prefix.
	defaultHooksPathPrefix = "/socketio"
	// defaultMaxPayload is the engine's max_payload when none is set: the
	// largest backend answer too.
	defaultMaxPayload = 1e6
)

// validate checks what can be checked without loading the transport, for
// Handler.Validate; relay is the namespace's relay (nil: none).
func (hk *Hooks) validate(namespace string, relay *Relay) error {
	if hk.TransportRaw == nil && !hk.provisioned {
		return fmt.Errorf("namespace %s: the hooks block has no transport; add a handler that reaches the backend, such as: reverse_proxy 127.0.0.1:8000, or php_fastcgi unix//run/php/php-fpm.sock", namespace)
	}
	cfg, err := hk.config(namespace, unprovisioned{}, 0, nil)
	if err != nil {
		return err
	}
	return relayOverlap(namespace, cfg, relay)
}

// config is the hooks package's configuration for a namespace; transport
// is the provisioned TransportRaw, maxPayload the server's max_payload
// (0: the engine's default). Secret placeholders are replaced here, and
// their values appear in no error.
func (hk *Hooks) config(namespace string, transport http.RoundTripper, maxPayload int64, logger *zap.Logger) (*hooks.Config, error) {
	prefix := hk.PathPrefix
	if prefix == "" {
		prefix = defaultHooksPathPrefix
	}
	if !strings.HasPrefix(prefix, "/") || strings.ContainsAny(prefix, "?#") {
		return nil, fmt.Errorf("namespace %s: hooks path_prefix %q must be a path starting with /, such as /socketio", namespace, prefix)
	}
	if hk.MaxConcurrent < 0 {
		return nil, fmt.Errorf("namespace %s: hooks max_concurrent %d must be positive", namespace, hk.MaxConcurrent)
	}
	if hk.Timeout < 0 {
		return nil, fmt.Errorf("namespace %s: hooks timeout %s must be positive", namespace, time.Duration(hk.Timeout))
	}
	if maxPayload <= 0 {
		maxPayload = defaultMaxPayload
	}
	secrets, err := resolveSecrets(hk.Secrets)
	if err != nil {
		return nil, fmt.Errorf("namespace %s: hooks %v", namespace, err)
	}
	cfg := &hooks.Config{
		Transport:      transport,
		URL:            "http://localhost" + strings.TrimSuffix(prefix, "/"),
		Connect:        hk.Connect,
		Events:         hk.Events,
		Notify:         hk.Notify,
		Timeout:        time.Duration(hk.Timeout),
		MaxConcurrent:  hk.MaxConcurrent,
		Secrets:        secrets,
		ForwardHeaders: hk.ForwardHeaders,
		MaxAnswerBytes: maxPayload,
		Logger:         logger,
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("namespace %s: %v", namespace, err)
	}
	return cfg, nil
}

// resolveSecrets replaces the placeholders of the configured secrets, such
// as {env.SOCKETIO_HOOK_SECRET}. A secret that comes out empty (an unset
// variable) is an error: signing with it would let anyone forge requests.
// Errors name the secret as configured (the placeholder), never its value.
func resolveSecrets(configured []string) ([]string, error) {
	repl := caddy.NewReplacer()
	out := make([]string, 0, len(configured))
	for i, s := range configured {
		v, err := repl.ReplaceOrErr(s, false, true)
		if err != nil {
			return nil, fmt.Errorf("secret #%d (%s) cannot be resolved: %v", i+1, s, err)
		}
		if v == "" {
			return nil, fmt.Errorf("secret #%d (%s) is empty; set the variable or file it names", i+1, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// relayOverlap refuses an event that the namespace would both relay and
// send to the backend: the two would answer the client's ack twice, and
// which one wins would depend on timing.
func relayOverlap(namespace string, cfg *hooks.Config, relay *Relay) error {
	if relay == nil || len(cfg.Events) == 0 {
		return nil
	}
	if len(relay.Events) == 0 {
		return fmt.Errorf("namespace %s relays every event, and its hooks block sends events %s to the backend; name the relayed events (relay <event>...) or drop events from the hooks block", namespace, strings.Join(cfg.Events, " "))
	}
	for _, ev := range relay.Events {
		if cfg.MatchesEvent(ev) {
			return fmt.Errorf("namespace %s both relays event %q and sends it to the backend (hooks events %s); keep it in one of the two", namespace, ev, strings.Join(cfg.Events, " "))
		}
	}
	return nil
}

// provisionHooks loads the transport of hk and returns the namespace's
// hooks configuration.
func (h *Handler) provisionHooks(ctx caddy.Context, namespace string, hk *Hooks) (*hooks.Config, error) {
	maxConcurrent := hk.MaxConcurrent
	if maxConcurrent <= 0 {
		maxConcurrent = hooks.DefaultMaxConcurrent
	}
	hk.TransportRaw = keepIdle(hk.TransportRaw, maxConcurrent)
	mod, err := ctx.LoadModule(hk, "TransportRaw")
	if err != nil {
		return nil, fmt.Errorf("namespace %s: loading the hooks transport: %v", namespace, err)
	}
	handler, ok := mod.(caddyhttp.MiddlewareHandler)
	if !ok {
		return nil, fmt.Errorf("namespace %s: the hooks transport %T is not an HTTP handler", namespace, mod)
	}
	hk.provisioned = true
	maxPayload := h.MaxPayload
	if maxPayload <= 0 {
		maxPayload = defaultMaxPayload
	}
	// The handlers that reverse_proxy and php_fastcgi expand to read the
	// HTTP server from the request (its logging settings, named routes);
	// Caddy provisions the handlers of a server with it in the context.
	server, _ := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	logger := h.logger.Named("hooks").With(zap.String("namespace", namespace))
	var transport http.RoundTripper = newHookTransport(handler, server, maxPayload)
	if rp, ok := mod.(*reverseproxy.Handler); ok {
		if direct, why := newProxyTransport(rp, maxPayload); direct != nil {
			transport = direct
			if direct.netHTTPBecause != "" {
				logger.Debug("hook requests use net/http's client", zap.String("because", direct.netHTTPBecause))
			}
			// The lean client's idle connections go with this config.
			ctx.OnCancel(direct.Close)
		} else {
			logger.Debug("hook requests run reverse_proxy's whole handler", zap.String("because", why))
		}
	}
	cfg, err := hk.config(namespace, transport, maxPayload, logger)
	if err != nil {
		return nil, err
	}
	if len(cfg.Secrets) == 0 {
		logger.Warn("hook requests are not signed: anyone who can reach the backend can forge them; add a secret to the hooks block (secret {env.SOCKETIO_HOOK_SECRET}) and verify Socketio-Signature in the backend")
	}
	return cfg, nil
}

// keepIdle makes every plain-HTTP reverse_proxy in the transport raw (the
// hooks block's handler, or one in its subroute) keep n idle connections
// per upstream, unless the configuration says how many. reverse_proxy
// keeps 32 by default; with max_concurrent above that, every request past
// the 32nd finds no idle connection, and one is opened and closed per
// request (795 connections in 10 s in bench/compare.sh's hook-ack, where 50
// stay open with 64 kept). Other transports (fastcgi) and a raw that is
// not understood are left as they are.
func keepIdle(raw json.RawMessage, n int) json.RawMessage {
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return raw
	}
	var handler string
	_ = json.Unmarshal(m["handler"], &handler)
	switch handler {
	case "subroute":
		var routes []map[string]json.RawMessage
		if json.Unmarshal(m["routes"], &routes) != nil {
			return raw
		}
		for _, route := range routes {
			var handle []json.RawMessage
			if json.Unmarshal(route["handle"], &handle) != nil {
				continue
			}
			for i := range handle {
				handle[i] = keepIdle(handle[i], n)
			}
			route["handle"], _ = json.Marshal(handle)
		}
		m["routes"], _ = json.Marshal(routes)
	case "reverse_proxy":
		transport := map[string]json.RawMessage{"protocol": json.RawMessage(`"http"`)}
		if t, ok := m["transport"]; ok && json.Unmarshal(t, &transport) != nil {
			return raw
		}
		var protocol string
		_ = json.Unmarshal(transport["protocol"], &protocol)
		if protocol != "http" {
			return raw
		}
		keepAlive := map[string]any{}
		if k, ok := transport["keep_alive"]; ok && json.Unmarshal(k, &keepAlive) != nil {
			return raw
		}
		if _, set := keepAlive["max_idle_conns_per_host"]; set {
			return raw
		}
		keepAlive["max_idle_conns_per_host"] = n
		transport["keep_alive"], _ = json.Marshal(keepAlive)
		m["transport"], _ = json.Marshal(transport)
	default:
		return raw
	}
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}
