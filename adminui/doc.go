// Package adminui is the server side of the official Socket.IO Admin UI's
// protocol (@socket.io/admin-ui 0.5.1, whose Node part is `instrument`):
// an admin namespace ("/admin") that the UI connects to, with login and
// session ids, the server's configuration, statistics every 2 s, the list
// of sockets and the live changes to it, and the UI's commands (emit,
// join, leave, disconnect).
//
// It differs from the Node part where that helps: the session id is sent
// after the CONNECT answer, so that the 0.5.1 UI (which listens for it
// only once connected) keeps it and a page reload stays logged in; a
// socket's clientId is a digest of its socket id, where Node sends part of
// the Engine.IO session id (which authenticates the client's requests); and the handshake
// headers the UI shows have Cookie and Authorization redacted.
//
// Statistics come from the servers' running totals (engine.Stats), read
// every 2 s, so instrumenting a server adds nothing to its traffic's hot
// path; in development mode the namespace observers (OnEvent, OnJoin,
// OnLeave, OnDisconnect) report each socket's events, as Node's verbose
// listeners do.
//
// Concurrency: an Instrument owns one goroutine, the statistics ticker,
// stopped by Stop. Its options can be replaced at any time (SetOptions);
// the observers it added to namespaces stay (the socketio package cannot
// remove them) and do nothing once it is stopped.
package adminui
