package socketio

import (
	"context"
	"encoding/json"
	"time"
)

// Adapter keeps the rooms of one namespace and carries its broadcasts, like
// the Adapter of Node's socket.io-adapter. The in-memory default,
// MemoryAdapter, serves one server; an adapter spanning several servers
// (such as one wire-compatible with @socket.io/redis-adapter) embeds a
// *MemoryAdapter for the local part and adds the messaging between servers:
//
//   - Broadcast and BroadcastWithAck receive the packet as an object (type
//     PacketEvent, the namespace, the event name and Args, whose binary
//     values Args.Values returns as []byte) and the options (rooms, except,
//     flags), before anything is encoded. A cluster adapter publishes them
//     unless opts.Flags.Local is set, then delivers locally with the
//     embedded MemoryAdapter's method of the same name; a broadcast
//     received from another server goes through that same method, so every
//     broadcast is encoded once and the same bytes go to every local
//     receiver.
//   - Sockets, FetchSockets, AddSockets, DelSockets, DisconnectSockets,
//     ServerSideEmit and ServerCount ask or tell the other servers; the
//     embedded MemoryAdapter answers for this one.
//
// Methods are called from many goroutines at once (every connection's read
// loop, plus any goroutine of the application); an implementation guards
// its state. AddAll, Del, DelAll and SocketRooms concern local sockets only
// and must not block on the network.
type Adapter interface {
	// AddAll puts the local socket id in rooms (socket.join).
	AddAll(id string, rooms ...string)
	// Del takes the local socket id out of room (socket.leave).
	Del(id, room string)
	// DelAll takes the local socket id out of every room, when it
	// disconnects.
	DelAll(id string)
	// SocketRooms lists the rooms of a local socket, its own id room
	// included; nil for an unknown id.
	SocketRooms(id string) []string

	// Broadcast sends p to the sockets opts selects, on every server
	// unless opts.Flags.Local is set.
	Broadcast(p *Packet, opts *BroadcastOptions) error
	// BroadcastWithAck sends p, whose ID the caller has set, and reports:
	// clientCount once per server with the number of sockets the packet
	// went to there, and ack once per socket that acknowledged, with its
	// arguments. (Node's cluster adapters carry only the first argument of
	// each answer between servers; a wire-compatible adapter passes a
	// remote answer on as an Args of that one value.)
	BroadcastWithAck(p *Packet, opts *BroadcastOptions, clientCount func(int), ack func(Args)) error

	// Sockets lists the ids of the sockets in rooms (all when empty).
	Sockets(ctx context.Context, rooms []string) ([]string, error)
	// FetchSockets describes the sockets opts selects.
	FetchSockets(ctx context.Context, opts *BroadcastOptions) ([]RemoteSocket, error)
	// AddSockets makes the sockets opts selects join rooms.
	AddSockets(ctx context.Context, opts *BroadcastOptions, rooms []string) error
	// DelSockets makes the sockets opts selects leave rooms.
	DelSockets(ctx context.Context, opts *BroadcastOptions, rooms []string) error
	// DisconnectSockets disconnects the sockets opts selects; close also
	// closes their underlying connections.
	DisconnectSockets(ctx context.Context, opts *BroadcastOptions, close bool) error
	// ServerSideEmit sends an event (p.Type PacketEvent) to the other
	// servers' namespace of the same name, whose Namespace.OnServerSideEmit
	// handlers receive it.
	ServerSideEmit(ctx context.Context, p *Packet) error
	// ServerCount is the number of servers sharing this namespace.
	ServerCount(ctx context.Context) (int, error)

	// Close releases the adapter's resources when the server shuts down.
	Close() error
}

// AdapterFactory makes the Adapter of a namespace when it is created
// (Node's `adapter` option, a class constructed with the namespace).
type AdapterFactory func(nsp *Namespace) Adapter

// BroadcastOptions selects the receivers of a broadcast: the sockets in any
// of Rooms (every socket of the namespace when Rooms is empty) that are in
// none of Except.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  BroadcastFlags
}

// BroadcastFlags are the modifiers of a broadcast, named as in Node.
type BroadcastFlags struct {
	// Volatile marks a packet that is dropped for a receiver whose
	// transport cannot write it at once (Node's volatile flag): a polling
	// client with no GET waiting, a WebSocket with a write under way.
	// Cluster adapters carry it to the other servers; local delivery
	// (MemoryAdapter) applies it with engine.Session.SendPreparedVolatile.
	Volatile bool
	// Local keeps the broadcast on this server.
	Local bool
	// Timeout bounds a broadcast with acknowledgements.
	Timeout time.Duration
}

// RemoteSocket describes a socket that may live on another server, as
// FetchSockets returns it. Local is the socket itself when it lives on
// this one.
type RemoteSocket struct {
	ID        string
	Handshake Handshake
	Rooms     []string
	// Data is the socket's data (Socket.Data, Node's socket.data) as
	// JSON; nil when it has none.
	Data  json.RawMessage
	Local *Socket
}
