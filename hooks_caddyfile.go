package caddysocketio

import (
	"encoding/json"
	"path"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// hooksOptions are the options of a hooks block; every other line is a
// handler directive of the transport.
var hooksOptions = map[string]bool{
	"connect": true, "events": true, "notify": true, "path_prefix": true, "timeout": true,
	"max_concurrent": true, "secret": true, "forward_headers": true,
}

// parseHooks reads a namespace's hooks block:
//
//	hooks {
//	    connect                        # ask the backend before a socket joins
//	    events <glob>...               # events sent to the backend (path.Match globs); its answer is the ack
//	    notify connect|disconnect|join|leave...  # lifecycle notifications, batched
//	    path_prefix <path>             # requests go to <path>/connect, /event, /notify; default /socketio
//	    timeout <duration>             # default 5s
//	    max_concurrent <n>             # hook requests in flight; default 64
//	    secret <secret>...             # sign with the first, {env.*} and {file.*} replaced at load
//	    forward_headers <name>...      # handshake headers passed on; none by default
//	    <handler directives>           # the transport: reverse_proxy, php_fastcgi, root, ...
//	}
//
// The handler directives are parsed as a `route` block is, and run on each
// hook request as forward_auth runs reverse_proxy. They need the Caddyfile's
// HTTP adapter (helper): a socketio block unmarshaled on its own cannot
// have hooks.
func parseHooks(d *caddyfile.Dispenser, helper *httpcaddyfile.Helper) (*Hooks, error) {
	at := d.Token()
	seg := d.NextSegment()
	if len(seg) < 3 { // hooks { ... }
		return nil, d.Errf("hooks needs a block with what to send and a transport, such as: hooks { connect; reverse_proxy 127.0.0.1:8000 }")
	}
	sd := caddyfile.NewDispenser(seg)
	sd.Next()
	if sd.NextArg() {
		return nil, sd.Errf("hooks takes no argument, got %q; write its options inside its block", sd.Val())
	}
	hk := &Hooks{}
	seen := map[string]bool{}
	var transport []caddyfile.Token
	var transportDirectives []caddyfile.Token
	for sd.NextBlock(0) {
		opt := sd.Val()
		if !hooksOptions[opt] {
			transportDirectives = append(transportDirectives, sd.Token())
			transport = append(transport, sd.NextSegment()...)
			continue
		}
		if seen[opt] {
			return nil, sd.Errf("hooks %s is set twice; list every value on one line", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "connect":
			err = noArgs(sd)
			hk.Connect = true
		case "events":
			if hk.Events, err = someArgs(sd); err == nil {
				err = checkGlobs(sd, hk.Events)
			}
		case "notify":
			if hk.Notify, err = someArgs(sd); err == nil {
				err = checkNotify(sd, hk.Notify)
			}
		case "path_prefix":
			if hk.PathPrefix, err = oneArg(sd); err == nil && !strings.HasPrefix(hk.PathPrefix, "/") {
				err = sd.Errf("hooks path_prefix %q must start with /", hk.PathPrefix)
			}
		case "timeout":
			err = positiveDuration(sd, &hk.Timeout)
		case "max_concurrent":
			var v string
			if v, err = oneArg(sd); err == nil {
				if hk.MaxConcurrent, err = strconv.Atoi(v); err != nil || hk.MaxConcurrent <= 0 {
					err = sd.Errf("hooks max_concurrent %q is not a positive number of requests", v)
				}
			}
		case "secret":
			hk.Secrets, err = someArgs(sd)
		case "forward_headers":
			hk.ForwardHeaders, err = someArgs(sd)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(transport) == 0 {
		return nil, errAt(at, errNoTransport)
	}
	if helper == nil {
		return nil, errAt(at, errNoHelper)
	}
	handler, err := parseHooksTransport(*helper, seg[0], seg[1], seg[len(seg)-1], transport)
	if err != nil {
		for _, tok := range transportDirectives {
			if strings.Contains(err.Error(), "unrecognized directive: "+tok.Text+" ") {
				return nil, errAt(tok, errUnknownHooksOption(tok.Text))
			}
		}
		return nil, err
	}
	hk.TransportRaw = handler
	return hk, nil
}

// parseHooksTransport parses the transport's directives (tokens) as the
// block of a `route` directive, hooks { <directives> }: matchers, directive
// order and php_fastcgi's expansion work as they do in a site.
func parseHooksTransport(helper httpcaddyfile.Helper, name, open, close caddyfile.Token, tokens []caddyfile.Token) (json.RawMessage, error) {
	all := make([]caddyfile.Token, 0, len(tokens)+3)
	all = append(all, name, open)
	all = append(all, tokens...)
	all = append(all, close)
	mh, err := httpcaddyfile.ParseSegmentAsSubroute(helper.WithDispenser(caddyfile.NewDispenser(all)))
	if err != nil {
		return nil, err
	}
	sr, ok := mh.(*caddyhttp.Subroute)
	if !ok {
		return caddyconfig.JSONModuleObject(mh, "handler", "subroute", nil), nil
	}
	// A lone handler without a matcher (reverse_proxy, the common case)
	// stands by itself, which reads better in JSON than a subroute.
	if len(sr.Routes) == 1 && len(sr.Routes[0].MatcherSetsRaw) == 0 && len(sr.Routes[0].HandlersRaw) == 1 && sr.Errors == nil {
		return sr.Routes[0].HandlersRaw[0], nil
	}
	return caddyconfig.JSONModuleObject(sr, "handler", "subroute", nil), nil
}

type hooksError string

func (e hooksError) Error() string { return string(e) }

const (
	errNoTransport = hooksError("hooks has no transport: add a handler directive that reaches the backend, such as reverse_proxy 127.0.0.1:8000 or php_fastcgi unix//run/php/php-fpm.sock")
	errNoHelper    = hooksError("hooks needs the Caddyfile's http directives for its transport; use socketio as a site directive")
)

func errUnknownHooksOption(opt string) error {
	return hooksError("unknown hooks option " + strconv.Quote(opt) + ": expected connect, events, notify, path_prefix, timeout, max_concurrent, secret, forward_headers, or a handler directive such as reverse_proxy or php_fastcgi")
}

// checkGlobs reports a malformed path.Match pattern at its line.
func checkGlobs(d *caddyfile.Dispenser, globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return d.Errf("hooks events %q is not a valid glob (path.Match syntax: * ? [a-z] \\x): %v", g, err)
		}
	}
	return nil
}

func checkNotify(d *caddyfile.Dispenser, types []string) error {
	seen := map[string]bool{}
	for _, t := range types {
		switch t {
		case "connect", "disconnect", "join", "leave":
		default:
			return d.Errf("hooks notify %q is not one of connect, disconnect, join, leave", t)
		}
		if seen[t] {
			return d.Errf("hooks notify %s is listed twice", t)
		}
		seen[t] = true
	}
	return nil
}
