package caddysocketio

import (
	"net"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-socketio/caddy-socketio/handover"
)

func init() {
	caddy.RegisterModule(ListenerHandover{})
}

// ListenerHandover is the listener wrapper caddy.listeners.socketio_handover:
// during a config reload, connections that reach the old config's socket
// are served by the new config's server, so that polling clients (a new
// connection per request, in Node) lose no request to the old server's
// shutdown. See the handover package for why.
type ListenerHandover struct{}

// CaddyModule returns the Caddy module information.
func (ListenerHandover) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.listeners.socketio_handover",
		New: func() caddy.Module { return new(ListenerHandover) },
	}
}

// WrapListener makes ln the newest listener of its address.
func (ListenerHandover) WrapListener(ln net.Listener) net.Listener { return handover.Wrap(ln) }

// UnmarshalCaddyfile sets up the wrapper from Caddyfile tokens. Syntax,
// in the global options' servers block:
//
//	listener_wrappers {
//	    socketio_handover
//	    tls
//	}
func (*ListenerHandover) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the wrapper's name
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("socketio_handover takes no options, got %q", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddy.ListenerWrapper = ListenerHandover{}
	_ caddyfile.Unmarshaler = (*ListenerHandover)(nil)
)
