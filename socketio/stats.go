package socketio

import "sync/atomic"

// DisconnectReasons are the reasons a socket disconnects with (Node's, as
// Socket.OnDisconnect receives them), in the order of
// NamespaceStats.Disconnects: the Engine.IO session's close reasons, then
// Socket.IO's own.
var DisconnectReasons = [...]string{
	"transport close", "transport error", "ping timeout", "parse error", "forced close",
	"client namespace disconnect", "server namespace disconnect", "server shutting down",
}

const numDisconnectReasons = len(DisconnectReasons)

// namespaceStats are a namespace's running totals: atomic counters bumped
// where the event happens anyway, read when metrics are scraped.
type namespaceStats struct {
	connects    atomic.Uint64
	broadcasts  atomic.Uint64
	deliveries  atomic.Uint64
	disconnects [numDisconnectReasons]atomic.Uint64
}

func (st *namespaceStats) disconnected(reason string) {
	if !counting {
		return
	}
	for i, r := range DisconnectReasons {
		if r == reason {
			st.disconnects[i].Add(1)
			return
		}
	}
	st.disconnects[4].Add(1) // not reached; "forced close" is the catch-all
}

// connected counts a socket that joined the namespace.
func (st *namespaceStats) connected() {
	if !counting {
		return
	}
	st.connects.Add(1)
}

// broadcast counts one local fan-out of a packet to receivers sockets.
func (st *namespaceStats) broadcast(receivers int) {
	if !counting {
		return
	}
	st.broadcasts.Add(1)
	if receivers > 0 { // a relay to a room with no one else in it: one add, not two
		st.deliveries.Add(uint64(receivers))
	}
}

// NamespaceStats is a copy of a namespace's totals at one moment.
type NamespaceStats struct {
	Name string
	// Sockets connected now, on this server.
	Sockets int
	// Connects counts sockets that joined (passed the middlewares).
	Connects uint64
	// Broadcasts counts packets fanned out to this server's sockets by the
	// adapter (Emit on a namespace or room, relays, and broadcasts from
	// other servers of a cluster); Deliveries the sockets they were queued
	// for.
	Broadcasts, Deliveries uint64
	// Disconnects by reason, indexed as DisconnectReasons.
	Disconnects [numDisconnectReasons]uint64
}

// ServerStats is a copy of a server's totals at one moment.
type ServerStats struct {
	Namespaces []NamespaceStats
	// ConnectTimeouts counts connections closed because they joined no
	// namespace within the connect timeout.
	ConnectTimeouts uint64
}

// Stats reads the server's totals, namespace by namespace. It takes each
// namespace's lock briefly (to count its sockets) and nothing else, so it
// may be called at any time, as metrics scrapes do.
func (srv *Server) Stats() ServerStats {
	srv.mu.RLock()
	nsps := make([]*Namespace, 0, len(srv.namespaces))
	for _, n := range srv.namespaces {
		nsps = append(nsps, n)
	}
	srv.mu.RUnlock()
	out := ServerStats{Namespaces: make([]NamespaceStats, 0, len(nsps)), ConnectTimeouts: srv.connectDeadlines.timeouts.Load()}
	for _, n := range nsps {
		n.mu.RLock()
		sockets := n.sockets.Len()
		n.mu.RUnlock()
		ns := NamespaceStats{
			Name:       n.name,
			Sockets:    sockets,
			Connects:   n.stats.connects.Load(),
			Broadcasts: n.stats.broadcasts.Load(),
			Deliveries: n.stats.deliveries.Load(),
		}
		for i := range ns.Disconnects {
			ns.Disconnects[i] = n.stats.disconnects[i].Load()
		}
		out.Namespaces = append(out.Namespaces, ns)
	}
	return out
}
