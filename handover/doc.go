// Package handover hands the connections a listener accepts to the newest
// listener on the same address, so that a server being replaced by a
// config reload never starts on a request it would drop.
//
// Why: on Linux, Caddy binds each config's listener as its own socket with
// SO_REUSEPORT, and the kernel spreads new connections over every socket
// of the address. During a reload both sockets are open for a moment, the
// old one until the old http.Server's Shutdown closes it; and net/http
// drops, without an answer, a request it reads after Shutdown began. A
// client that opens a connection per request (socket.io-client's polling
// in Node, or any HTTP/1.1 client without keep-alive) sends requests into
// that moment at a high rate, and each one dropped closes its session
// ("xhr poll error", ECONNRESET).
//
// Wrap every listener of an address; a Listener wrapped later is newer.
// While a newer Listener is open:
//   - the older ones keep accepting on their sockets but hand every
//     connection to the newest, whose server reads it; their own Accept
//     only waits for Close;
//   - a connection an older server closes without having written a byte
//     (net/http drops so a request it read after Shutdown began, a moment
//     before it closes its listener) goes to the newest listener with what
//     was read of it replayed, and is served there;
//   - a closed older listener keeps its socket open, accepting for the
//     newest, because closing a socket resets the connections queued on it
//     and the kernel queues new ones on every SO_REUSEPORT socket of the
//     address. Up to 64 such sockets per address are kept (one per reload);
//     past that the oldest is closed, and all of them once the newest is.
//
// When the newest is closed, the next newest open one takes over. The
// replay needs the raw bytes: put the wrapper before tls. A connection
// that is hijacked (a WebSocket) is never handed over, and steps aside for
// the engine's poller (PassThrough).
//
// Concurrency: each Listener has one goroutine that accepts on its socket
// until Close; a group's mutex guards which Listener is newest. Accept and
// Close are safe for concurrent use, as net.Listener's must be.
package handover
