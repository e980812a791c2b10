package caddysocketio

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// ConnectionStateRecovery is Node's connectionStateRecovery option: a
// socket.io-client 4.6+ that loses its connection for less than
// MaxDisconnectionDuration gets back its socket id, rooms and data, and
// the events it missed (see socketio.RecoveryOptions). The sessions and
// stored events live with the live server: a `caddy reload` keeps them
// (and applies changed values to them; a reload that removes the block
// drops them), `caddy stop` ends them. With an adapter, each node keeps
// its own: a client recovers on the node it was connected to.
type ConnectionStateRecovery struct {
	// MaxDisconnectionDuration is how long a disconnected socket's session
	// and the stored events are kept; 2m by default, as in Node.
	MaxDisconnectionDuration caddy.Duration `json:"max_disconnection_duration,omitempty"`
	// SkipMiddlewares lets a recovered socket connect without the
	// namespace's connection checks (the join rooms, which it has back,
	// and the backend connect hook); never without the origin check or
	// allow_request, which guard every handshake. Off by default (Node's
	// default is on).
	SkipMiddlewares bool `json:"skip_middlewares,omitempty"`
	// MaxLogSize caps, in bytes, the stored events of each namespace (the
	// oldest go first); 32MiB by default. A client whose missed events were
	// dropped gets a fresh socket (recovered false), as one away too long.
	MaxLogSize int64 `json:"max_log_size,omitempty"`
}

// options are the socketio package's options for c; nil (recovery off)
// when c is.
func (c *ConnectionStateRecovery) options() *socketio.RecoveryOptions {
	if c == nil {
		return nil
	}
	return &socketio.RecoveryOptions{
		MaxDisconnectionDuration: time.Duration(c.MaxDisconnectionDuration),
		SkipMiddlewares:          c.SkipMiddlewares,
		MaxLogBytes:              int(c.MaxLogSize),
	}
}

func (c *ConnectionStateRecovery) validate() error {
	if c == nil {
		return nil
	}
	if c.MaxDisconnectionDuration < 0 {
		return fmt.Errorf("connection_state_recovery: max_disconnection_duration %s must be positive", time.Duration(c.MaxDisconnectionDuration))
	}
	if c.MaxLogSize < 0 {
		return fmt.Errorf("connection_state_recovery: max_log_size %d must be positive", c.MaxLogSize)
	}
	return nil
}

// parseConnectionStateRecovery reads
//
//	connection_state_recovery {
//	    max_disconnection_duration <duration>  # default 2m
//	    skip_middlewares                       # recovered sockets skip join and the connect hook
//	    max_log_size <size>                    # stored events per namespace, default 32MiB
//	}
//
// The block is optional: connection_state_recovery alone turns recovery on
// with the defaults.
func parseConnectionStateRecovery(d *caddyfile.Dispenser) (*ConnectionStateRecovery, error) {
	if d.NextArg() {
		return nil, d.Errf("connection_state_recovery takes no argument, got %q; its options go in its block", d.Val())
	}
	c := &ConnectionStateRecovery{}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return nil, d.Errf("connection_state_recovery: %s is set twice", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "max_disconnection_duration":
			err = positiveDuration(d, &c.MaxDisconnectionDuration)
		case "skip_middlewares":
			err = noArgs(d)
			c.SkipMiddlewares = true
		case "max_log_size":
			c.MaxLogSize, err = size(d)
		default:
			return nil, d.Errf("unknown subdirective %q of connection_state_recovery (max_disconnection_duration, skip_middlewares, max_log_size)", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}
