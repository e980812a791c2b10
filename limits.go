package caddysocketio

import (
	"fmt"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// EventRate is the JSON form of max_events_per_second: a token bucket per
// socket that refills at Events per second and holds Burst.
type EventRate struct {
	// Events per second a socket may send on average; at least 1.
	Events float64 `json:"events"`
	// Burst is how many events may come at once after a quiet spell;
	// Events (rounded up) by default.
	Burst int `json:"burst,omitempty"`
	// Action on an event over the rate: "drop" (the default: the event is
	// ignored, and an acknowledgement it asked for never comes) or
	// "disconnect" (the socket is disconnected from the namespace).
	Action string `json:"action,omitempty"`
}

// defaultMaxBufferedBytes is max_buffered_bytes when unset: enough for
// the backlog of eight clients at the per-client bound with the default
// max_payload (16 × 1MB), small enough for a 512MB server.
const defaultMaxBufferedBytes = 128 << 20

func (r *EventRate) validate(where string, allowOff bool) error {
	if r == nil || allowOff && r.Events == 0 && r.Burst == 0 && r.Action == "" {
		return nil
	}
	if r.Events < 1 {
		return fmt.Errorf("%smax_events_per_second %v must be at least 1; to turn the limit off, leave it out", where, r.Events)
	}
	if r.Burst < 0 {
		return fmt.Errorf("%smax_events_per_second burst %d must be positive", where, r.Burst)
	}
	switch r.Action {
	case "", "drop", "disconnect":
	default:
		return fmt.Errorf("%smax_events_per_second action %q is not drop or disconnect", where, r.Action)
	}
	return nil
}

// rateLimit is r for the socketio package; nil when r is.
func (r *EventRate) rateLimit() *socketio.EventRateLimit {
	if r == nil {
		return nil
	}
	return &socketio.EventRateLimit{PerSecond: r.Events, Burst: r.Burst, Disconnect: r.Action == "disconnect"}
}

// validateLimits checks the limits' values, with the fix in the message.
func (h *Handler) validateLimits() error {
	if h.MaxConnections < 0 {
		return fmt.Errorf("max_connections %d must be positive; leave it out for no limit", h.MaxConnections)
	}
	if h.MaxConnectionsPerIP < 0 {
		return fmt.Errorf("max_connections_per_ip %d must be positive; leave it out for no limit", h.MaxConnectionsPerIP)
	}
	if h.MaxConnections > 0 && h.MaxConnectionsPerIP > h.MaxConnections {
		return fmt.Errorf("max_connections_per_ip %d is above max_connections %d, so it never applies; lower it or raise max_connections", h.MaxConnectionsPerIP, h.MaxConnections)
	}
	if h.MaxRoomsPerSocket < 0 {
		return fmt.Errorf("max_rooms_per_socket %d must be positive; leave it out for no limit", h.MaxRoomsPerSocket)
	}
	if h.MaxBufferedBytes < -1 || h.MaxBufferedBytes > 0 && h.MaxBufferedBytes < 1<<20 {
		return fmt.Errorf("max_buffered_bytes %d is too small to hold one client's backlog; use at least 1MiB (or off)", h.MaxBufferedBytes)
	}
	if err := h.MaxEventsPerSecond.validate("", false); err != nil {
		return err
	}
	for _, ns := range h.Namespaces {
		if err := ns.MaxEventsPerSecond.validate(fmt.Sprintf("namespace %s: ", ns.Name), true); err != nil {
			return err
		}
	}
	return nil
}

// maxBufferedBytes is the engine's MaxBufferedBytes for h.
func (h *Handler) maxBufferedBytes() int64 {
	switch {
	case h.MaxBufferedBytes == 0:
		return defaultMaxBufferedBytes
	case h.MaxBufferedBytes < 0:
		return -1
	}
	return h.MaxBufferedBytes
}

// applyLimits hands the limits that live in the socketio package to a
// live server, on each activation: a reload changes them in place.
func (h *Handler) applyLimits(io *socketio.Server) {
	io.SetEventRateLimit(h.MaxEventsPerSecond.rateLimit())
	io.SetMaxRoomsPerSocket(h.MaxRoomsPerSocket)
}
