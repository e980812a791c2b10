package caddysocketio

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("socketio", parseCaddyfile)
	// Before encode, so that basic_auth and forward_auth (which come
	// earlier) still protect the endpoint, and so that encode does not
	// wrap a WebSocket upgrade.
	httpcaddyfile.RegisterDirectiveOrder("socketio", httpcaddyfile.Before, "encode")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	s := new(Handler)
	err := s.unmarshalCaddyfile(h.Dispenser, &h)
	return s, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax
// (every subdirective is optional; the Node option each one stands for is
// in parentheses):
//
//	socketio [<matcher>] {
//	    name <name>                      # pool key kept across reloads; default: the path
//	    path <path>                      # (path) default /socket.io/
//	    transports polling|websocket...  # (transports) default both
//	    allow_upgrades on|off            # (allowUpgrades) default on
//	    allow_eio3                       # (allowEIO3) accept socket.io-client 2.x
//	    jsonp                            # accept JSONP polling (2.x clients without CORS); see README
//	    ping_interval <duration>         # (pingInterval) default 25s
//	    ping_timeout <duration>          # (pingTimeout) default 20s
//	    upgrade_timeout <duration>       # (upgradeTimeout) default 10s
//	    connect_timeout <duration>       # (connectTimeout) default 45s
//	    max_payload <size>               # (maxHttpBufferSize) default 1MB; alias max_http_buffer_size
//	    http_compression off|<threshold> # (httpCompression) default on above 1KB
//	    per_message_deflate              # (perMessageDeflate) default off
//	    cookie [<name>] {                # (cookie) the session id in a cookie, default name io
//	        path <path>                  # default /
//	        http_only [on|off]           # default on
//	        same_site lax|strict|none    # default lax; none needs secure
//	        secure
//	        max_age <duration>           # default: a session cookie
//	    }
//	    cors {                           # (cors) no block: no CORS headers
//	        origin <origin>... | *       # exact origins, https://*.example.com, or *; repeatable
//	        origin_regexp <regexp>...    # must match the whole origin; repeatable
//	        methods <method>...          # default GET HEAD PUT PATCH POST DELETE
//	        allowed_headers <header>...  # default: reflect Access-Control-Request-Headers
//	        exposed_headers <header>...
//	        credentials                  # not with origin *
//	        max_age <duration>           # whole seconds; 0 is sent
//	        preflight_continue           # pass OPTIONS on to the next handler
//	        options_success_status <code> # default 204
//	    }
//	    disable_origin_check             # let browsers of any origin open a WebSocket, as Node does
//	    allow_request [<matchers>] {     # (allowRequest) request matchers a handshake must match
//	        <matchers>
//	    }
//	    adapter <name> { ... }           # (adapter) e.g. adapter redis or redis_streams, see socketio.adapters.*
//	    connection_state_recovery {      # (connectionStateRecovery) off without it
//	        max_disconnection_duration <duration> # default 2m
//	        skip_middlewares             # recovered sockets skip join and the connect hook
//	        max_log_size <size>          # stored events per namespace, default 32MiB
//	    }
//	    namespace <name> {               # repeatable; "/" exists without being declared
//	        relay [<event>...]           # forward events to the sender's rooms; all events when none named
//	        join <room>...               # rooms joined on connection; {query.*} {header.*} {auth.*}
//	        hooks { ... }                # the backend authorizes, answers events, hears lifecycle; see parseHooks

//	        max_events_per_second <n> [burst <m>] [drop|disconnect] | off  # this namespace's own rate
//	    }
//	    # limits (see the README's Limits section)
//	    max_connections <n>              # Engine.IO sessions at once; default: no limit
//	    max_connections_per_ip <n>       # sessions per client IP (trusted_proxies applies); default: no limit
//	    max_events_per_second <n> [burst <m>] [drop|disconnect]  # per socket; default: no limit
//	    max_rooms_per_socket <n>         # rooms a socket may be in; default: no limit
//	    max_buffered_bytes <size>|off    # outbound bytes queued server-wide; default 128MiB
//	}
//
// A typo must not silently loosen a policy, so every unknown subdirective
// is an error, and so is a subdirective given twice (except origin,
// origin_regexp, join and namespace, which add up).
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return h.unmarshalCaddyfile(d, nil)
}

// unmarshalCaddyfile is UnmarshalCaddyfile with the HTTP Caddyfile's
// helper, which a hooks block needs to parse its transport's directives
// (nil: no hooks).
func (h *Handler) unmarshalCaddyfile(d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.Errf("unexpected argument %q: socketio takes only a matcher, the options go in its block", d.Val())
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if opt != "namespace" {
			if seen[opt] {
				return d.Errf("%s is set twice", opt)
			}
			seen[opt] = true
		}
		var err error
		switch opt {
		case "name":
			h.Name, err = oneArg(d)
		case "path":
			h.Path, err = oneArg(d)
			if err == nil && !strings.HasPrefix(h.Path, "/") {
				err = d.Errf("path %q must start with /", h.Path)
			}
		case "transports":
			h.Transports, err = transports(d)
		case "allow_upgrades":
			var on bool
			on, err = onOff(d)
			h.AllowUpgrades = &on
		case "allow_eio3":
			err = noArgs(d)
			h.AllowEIO3 = true
		case "jsonp":
			err = noArgs(d)
			h.JSONP = true
		case "ping_interval":
			err = positiveDuration(d, &h.PingInterval)
		case "ping_timeout":
			err = positiveDuration(d, &h.PingTimeout)
		case "upgrade_timeout":
			err = positiveDuration(d, &h.UpgradeTimeout)
		case "connect_timeout":
			err = positiveDuration(d, &h.ConnectTimeout)
		case "max_payload", "max_http_buffer_size":
			if seen["max_payload"] && seen["max_http_buffer_size"] {
				return d.Errf("max_payload and max_http_buffer_size are the same option; keep one")
			}
			h.MaxPayload, err = size(d)
		case "http_compression":
			h.HTTPCompression, err = httpCompression(d)
		case "per_message_deflate":
			err = noArgs(d)
			h.PerMessageDeflate = true
		case "cookie":
			h.Cookie, err = parseCookie(d)
		case "cors":
			h.CORS, err = parseCORS(d)
		case "disable_origin_check":
			err = noArgs(d)
			h.DisableOriginCheck = true
		case "allow_request":
			h.AllowRequestRaw, err = parseAllowRequest(d)
		case "adapter":
			h.AdapterRaw, err = parseAdapter(d)
		case "admin_ui":
			h.AdminUI, err = parseAdminUI(d)
		case "namespace":
			var ns Namespace
			ns, err = parseNamespace(d, helper)
			for _, other := range h.Namespaces {
				if err == nil && other.Name == ns.Name {
					err = d.Errf("namespace %q is declared twice; merge the two blocks", ns.Name)
				}
			}
			h.Namespaces = append(h.Namespaces, ns)
		case "connection_state_recovery":
			h.ConnectionStateRecovery, err = parseConnectionStateRecovery(d)

		case "max_connections", "max_connections_per_ip", "max_events_per_second", "max_rooms_per_socket", "max_buffered_bytes":
			err = h.parseLimit(d, opt)
		default:
			return d.Errf("unknown subdirective %q of socketio", opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// oneArg reads exactly one argument and no block.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	opt := d.Val()
	if !d.NextArg() {
		return "", d.Errf("%s needs a value", opt)
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.Errf("%s takes one value, got another: %q", opt, d.Val())
	}
	return v, noBlock(d, opt)
}

// someArgs reads one or more arguments and no block.
func someArgs(d *caddyfile.Dispenser) ([]string, error) {
	opt := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return nil, d.Errf("%s needs at least one value", opt)
	}
	return args, noBlock(d, opt)
}

// noArgs checks that a flag has no argument and no block.
func noArgs(d *caddyfile.Dispenser) error {
	opt := d.Val()
	if d.NextArg() {
		return d.Errf("%s takes no value, got %q", opt, d.Val())
	}
	return noBlock(d, opt)
}

func noBlock(d *caddyfile.Dispenser, opt string) error {
	if d.NextBlock(d.Nesting()) {
		return d.Errf("%s takes no block", opt)
	}
	return nil
}

func onOff(d *caddyfile.Dispenser) (bool, error) {
	opt := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return false, err
	}
	switch v {
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, d.Errf("%s %q: use on or off", opt, v)
}

func positiveDuration(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	opt := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return d.Errf("%s %q is not a duration (such as 25s or 1m30s): %v", opt, v, err)
	}
	if dur <= 0 {
		return d.Errf("%s %q must be positive", opt, v)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// size reads a byte size such as 1MB, 512KiB or 1000000.
func size(d *caddyfile.Dispenser) (int64, error) {
	opt := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<40 {
		return 0, d.Errf("%s %q is not a size in bytes (such as 1MB, 100KiB or 1000000)", opt, v)
	}
	return int64(n), nil
}

func transports(d *caddyfile.Dispenser) ([]string, error) {
	args, err := someArgs(d)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range args {
		if t != "polling" && t != "websocket" {
			return nil, d.Errf("transport %q is not one of polling, websocket", t)
		}
		if seen[t] {
			return nil, d.Errf("transport %s is listed twice", t)
		}
		seen[t] = true
	}
	return args, nil
}

func httpCompression(d *caddyfile.Dispenser) (*HTTPCompression, error) {
	opt := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return nil, err
	}
	if v == "off" {
		return &HTTPCompression{Disabled: true}, nil
	}
	n, err := humanize.ParseBytes(v)
	if err != nil || n == 0 || n > 1<<30 {
		return nil, d.Errf("%s %q: use off, or the threshold size above which responses are compressed (such as 1KB)", opt, v)
	}
	return &HTTPCompression{Threshold: int(n)}, nil
}

func parseCookie(d *caddyfile.Dispenser) (*Cookie, error) {
	at := d.Token()
	c := &Cookie{}
	args := d.RemainingArgs()
	switch len(args) {
	case 0:
	case 1:
		c.Name = args[0]
	default:
		return nil, d.Errf("cookie takes at most a name, got %q", args)
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return nil, d.Errf("cookie %s is set twice", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "path":
			c.Path, err = oneArg(d)
		case "http_only":
			on := true
			if d.CountRemainingArgs() > 0 {
				on, err = onOff(d)
			} else {
				err = noBlock(d, opt)
			}
			c.HTTPOnly = &on
		case "same_site":
			c.SameSite, err = oneArg(d)
		case "secure":
			err = noArgs(d)
			c.Secure = true
		case "max_age":
			err = positiveDuration(d, &c.MaxAge)
		default:
			return nil, d.Errf("unknown cookie subdirective %q (expected path, http_only, same_site, secure or max_age)", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := c.validate(); err != nil {
		return nil, errAt(at, err)
	}
	return c, nil
}

func parseCORS(d *caddyfile.Dispenser) (*CORS, error) {
	at := d.Token()
	if d.NextArg() {
		return nil, d.Errf("cors takes no argument, got %q; write the origins inside its block: origin %s", d.Val(), d.Val())
	}
	c := &CORS{}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if opt != "origin" && opt != "origin_regexp" {
			if seen[opt] {
				return nil, d.Errf("cors %s is set twice", opt)
			}
			seen[opt] = true
		}
		var err error
		var args []string
		switch opt {
		case "origin":
			args, err = someArgs(d)
			c.Origins = append(c.Origins, args...)
		case "origin_regexp":
			args, err = someArgs(d)
			c.OriginRegexps = append(c.OriginRegexps, args...)
		case "methods":
			c.Methods, err = someArgs(d)
		case "allowed_headers":
			c.AllowedHeaders, err = someArgs(d)
		case "exposed_headers":
			c.ExposedHeaders, err = someArgs(d)
		case "credentials":
			err = noArgs(d)
			c.Credentials = true
		case "max_age":
			var v string
			v, err = oneArg(d)
			if err == nil {
				var dur time.Duration
				if dur, err = caddy.ParseDuration(v); err != nil || dur < 0 {
					return nil, d.Errf("cors max_age %q is not a duration (such as 10m, or 0 to disable caching)", v)
				}
				md := caddy.Duration(dur)
				c.MaxAge = &md
			}
		case "preflight_continue":
			err = noArgs(d)
			c.PreflightContinue = true
		case "options_success_status":
			var v string
			if v, err = oneArg(d); err == nil {
				if c.OptionsSuccessStatus, err = strconv.Atoi(v); err != nil {
					return nil, d.Errf("cors options_success_status %q is not a status code", v)
				}
			}
		default:
			return nil, d.Errf("unknown cors subdirective %q (expected origin, origin_regexp, methods, allowed_headers, exposed_headers, credentials, max_age, preflight_continue or options_success_status)", opt)
		}
		if err != nil {
			return nil, err
		}
		for i, o := range args {
			if opt == "origin" && contains(c.Origins[:len(c.Origins)-len(args)+i], o) {
				return nil, d.Errf("cors origin %s is listed twice", o)
			}
		}
	}
	// Checked here too, so that the error points at the block.
	if _, err := c.policy(); err != nil {
		return nil, errAt(at, err)
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func parseAllowRequest(d *caddyfile.Dispenser) (caddy.ModuleMap, error) {
	at := d.Token()
	set, err := caddyhttp.ParseCaddyfileNestedMatcherSet(d)
	if err != nil {
		return nil, err
	}
	if len(set) == 0 {
		return nil, errAt(at, errors.New("allow_request needs at least one matcher, such as: header !Origin"))
	}
	return set, nil
}

// parseAdapter reads `adapter <name> ...`, handing the rest of the segment
// to the module socketio.adapters.<name>.
func parseAdapter(d *caddyfile.Dispenser) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.Errf("adapter needs a name, such as: adapter redis")
	}
	name := d.Val()
	// The segment from the name on goes to the module, which reads its
	// name first.
	unm, err := caddyfile.UnmarshalModule(d, "socketio.adapters."+name)
	if err != nil {
		return nil, err
	}
	return caddyconfig.JSONModuleObject(unm, "adapter", name, nil), nil
}

func parseNamespace(d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) (Namespace, error) {
	name, err := oneArgThenBlock(d)
	if err != nil {
		return Namespace{}, err
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	ns := Namespace{Name: name}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch opt := d.Val(); opt {
		case "relay":
			if ns.Relay != nil {
				return ns, d.Errf("relay is set twice in namespace %s; list every event on one line", name)
			}
			ns.Relay = &Relay{Events: d.RemainingArgs()}
		case "join":
			rooms, err := someArgs(d)
			if err != nil {
				return ns, err
			}
			for _, room := range rooms {
				if _, err := parseRoomTemplate(room); err != nil {
					return ns, d.Errf("namespace %s: join: %v", name, err)
				}
			}
			ns.Join = append(ns.Join, rooms...)
		case "hooks":
			if ns.Hooks != nil {
				return ns, d.Errf("hooks is set twice in namespace %s; merge the two blocks", name)
			}
			if ns.Hooks, err = parseHooks(d, helper); err != nil {
				return ns, err
			}
		case "max_events_per_second":
			if ns.MaxEventsPerSecond != nil {
				return ns, d.Errf("max_events_per_second is set twice in namespace %s", name)
			}
			if ns.MaxEventsPerSecond, err = parseEventRate(d, true); err != nil {
				return ns, err
			}
		default:
			return ns, d.Errf("unknown namespace subdirective %q (expected relay, join, hooks or max_events_per_second)", opt)
		}
	}
	return ns, nil
}

// Limits: max_connections, max_connections_per_ip, max_events_per_second,
// max_rooms_per_socket, max_buffered_bytes.

// parseLimit reads one of the limits of the socketio block.
func (h *Handler) parseLimit(d *caddyfile.Dispenser, opt string) error {
	var err error
	switch opt {
	case "max_connections":
		h.MaxConnections, err = positiveInt(d)
	case "max_connections_per_ip":
		h.MaxConnectionsPerIP, err = positiveInt(d)
	case "max_rooms_per_socket":
		h.MaxRoomsPerSocket, err = positiveInt(d)
	case "max_events_per_second":
		h.MaxEventsPerSecond, err = parseEventRate(d, false)
	case "max_buffered_bytes":
		if d.CountRemainingArgs() == 1 && d.NextArg() {
			if d.Val() == "off" {
				h.MaxBufferedBytes = -1
				return noBlock(d, opt)
			}
			d.Prev()
		}
		h.MaxBufferedBytes, err = size(d)
		if err == nil && h.MaxBufferedBytes < 1<<20 {
			err = d.Errf("max_buffered_bytes %s is too small to hold one client's backlog; use at least 1MiB (or off)", d.Val())
		}
	}
	return err
}

// positiveInt reads one whole number of at least 1.
func positiveInt(d *caddyfile.Dispenser) (int, error) {
	opt := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, d.Errf("%s %q must be a whole number of at least 1; leave it out for no limit", opt, v)
	}
	return n, nil
}

// parseEventRate reads `max_events_per_second <n> [burst <m>] [drop|disconnect]`;
// in a namespace (allowOff), `off` stands for no limit there, whatever the
// socketio block says.
func parseEventRate(d *caddyfile.Dispenser, allowOff bool) (*EventRate, error) {
	opt := d.Val()
	args := d.RemainingArgs()
	if err := noBlock(d, opt); err != nil {
		return nil, err
	}
	const usage = "max_events_per_second <n> [burst <m>] [drop|disconnect]"
	if allowOff && len(args) == 1 && args[0] == "off" {
		return &EventRate{}, nil
	}
	if len(args) == 0 {
		return nil, d.Errf("max_events_per_second needs a rate: %s", usage)
	}
	r := &EventRate{}
	n, err := strconv.ParseFloat(args[0], 64)
	if err != nil || n < 1 {
		return nil, d.Errf("max_events_per_second %q must be a number of events of at least 1: %s", args[0], usage)
	}
	r.Events = n
	for rest := args[1:]; len(rest) > 0; rest = rest[1:] {
		switch rest[0] {
		case "burst":
			if r.Burst != 0 || len(rest) < 2 {
				return nil, d.Errf("max_events_per_second: burst needs one number: %s", usage)
			}
			m, err := strconv.Atoi(rest[1])
			if err != nil || m < 1 {
				return nil, d.Errf("max_events_per_second burst %q must be a whole number of at least 1", rest[1])
			}
			r.Burst = m
			rest = rest[1:]
		case "drop", "disconnect":
			if r.Action != "" {
				return nil, d.Errf("max_events_per_second: choose one of drop and disconnect")
			}
			r.Action = rest[0]
		default:
			return nil, d.Errf("max_events_per_second: unexpected %q: %s", rest[0], usage)
		}
	}
	return r, nil
}

// oneArgThenBlock reads exactly one argument; a block may follow.
func oneArgThenBlock(d *caddyfile.Dispenser) (string, error) {
	opt := d.Val()
	if !d.NextArg() {
		return "", d.Errf("%s needs a name", opt)
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.Errf("%s takes one name, got another: %q", opt, d.Val())
	}
	return v, nil
}

// errAt reports err at tok: a check of a whole block points at the line
// that opens it rather than at its closing brace.
func errAt(tok caddyfile.Token, err error) error {
	d := caddyfile.NewDispenser([]caddyfile.Token{tok})
	d.Next()
	return d.Err(err.Error())
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
