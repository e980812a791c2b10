// Package metrics exposes the running totals of Socket.IO servers (package
// engine's Stats, package socketio's Server.Stats, package redisadapter's
// Stats, and package hooks' Stats of the namespaces with backend hooks,
// given by Server.AddHooks) as Prometheus metrics.
//
// The servers keep their totals in atomic counters bumped where the event
// happens anyway; this package reads them only when the registry is
// scraped, so serving traffic costs no Prometheus call, no label lookup and
// no lock.
//
// Collector is one package-level collector: register it (Register) into
// every registry that should serve the metrics, such as the registry of
// each new Caddy configuration, and add each live server to it (Add) with
// its name. Registering it again is not an error, and a server that lives
// on across registries keeps counting, so values survive configuration
// reloads. A server that is removed (Remove) leaves its counters behind:
// a new server of the same name goes on from them, so a counter never goes
// back while the process runs.
//
// Labels are bounded: the server name, the namespace, the transport
// ("polling", "websocket"), the Engine.IO protocol, the hook, and fixed
// sets of outcomes and reasons; never a socket id, a room or an event
// name.
//
// Concurrency: Add, Remove, Register, AddHooks and scrapes may run
// concurrently; a mutex guards the set of servers and the totals of removed
// ones, and each Server has one for its hooks, taken after it.
package metrics
