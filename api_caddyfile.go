package caddysocketio

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("socketio_api", parseAPICaddyfile)
	// Like socketio: after basic_auth and forward_auth, which then guard
	// it, and outside encode.
	httpcaddyfile.RegisterDirectiveOrder("socketio_api", httpcaddyfile.Before, "encode")
}

func parseAPICaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	a := new(APIHandler)
	err := a.UnmarshalCaddyfile(h.Dispenser)
	return a, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	socketio_api [<matcher>] {
//	    server <name>    # the socketio handler's name; default /socket.io/ (its default path)
//	    key <key>...     # accepted Authorization: Bearer keys, e.g. {env.SOCKETIO_API_KEY}; repeatable
//	}
//
// Put it under handle_path, which strips the prefix of the API's routes
// (/emit, /sockets, ...). Every unknown subdirective is an error.
func (a *APIHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.Errf("unexpected argument %q: socketio_api takes only a matcher, the options go in its block", d.Val())
	}
	seen := false
	for d.NextBlock(0) {
		switch d.Val() {
		case "server":
			if seen {
				return d.Errf("server is set twice")
			}
			seen = true
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			a.Server = v
		case "key":
			keys, err := someArgs(d)
			if err != nil {
				return err
			}
			a.Keys = append(a.Keys, keys...)
		default:
			return d.Errf("unknown subdirective %q of socketio_api (expected server or key)", d.Val())
		}
	}
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*APIHandler)(nil)
