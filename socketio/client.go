package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/internal/jsonstr"
	"go.uber.org/zap"
)

// client is one Engine.IO session seen from Socket.IO: it decodes the
// session's messages, routes packets to the socket of their namespace,
// and keeps the parts of each outgoing packet together.
type client struct {
	server  *Server
	session *engine.Session

	// dec is used by the session's message handler only, which the engine
	// never calls concurrently; so is attachments (see attachments.go),
	// nil until the client's first binary packet.
	dec         decoder
	attachments *attachmentDeadline

	// writeMu keeps the text part of a packet and its attachments
	// contiguous in the session's queue when several goroutines emit to
	// the same client.
	writeMu sync.Mutex

	// mu guards sockets, pending, joined and closed.
	mu sync.Mutex
	// sockets are the connected sockets, one per namespace: a slice, as
	// most clients join one namespace and a map would cost far more.
	sockets []*Socket
	// pending are the namespaces whose asynchronous middlewares (UseAsync)
	// are still running: their packets are ignored until the answer, as
	// Node ignores packets for a namespace the client has not joined yet.
	// Nil while there are none, as for most clients all along: one word
	// instead of a slice's three.
	pending *[]*Namespace

	// The small fields end the struct, together in one word: a client
	// lives as long as its connection, and packed so it is 96 bytes, one
	// of the allocator's size classes.

	// deadlineSeq is the client's place in the server's connect timeout
	// queue; connectDeadlines.mu guards it.
	deadlineSeq uint32
	joined      bool  // a namespace was joined: the connect timeout is over
	closed      bool  // the session closed
	protocol    uint8 // Socket.IO revision: 5 over Engine.IO 4, 4 over Engine.IO 3
}

func newClient(srv *Server, sess *engine.Session) *client {
	c := &client{server: srv, session: sess, protocol: 5}
	c.dec.maxBytes = srv.maxPacketSize.Load()
	if sess.Protocol() == 3 {
		c.protocol = 4
	}
	return c
}

// address is the client's address, for log lines (the session id is
// secret).
func (c *client) address() string { return c.session.RemoteAddr() }

// socketLocked returns the client's socket in namespace name, or nil;
// c.mu is held.
func (c *client) socketLocked(name string) *Socket {
	for _, s := range c.sockets {
		if s.nsp.name == name {
			return s
		}
	}
	return nil
}

// start wires the client to its session; called in the engine's
// connection callback, before any message can arrive.
func (c *client) start() {
	c.session.SetHandler(c)
	// Node's connectTimeout: a session that joins no namespace in time is
	// closed, so that bare Engine.IO sessions do not pile up.
	c.server.connectDeadlines.add(c)
	if c.protocol == 4 {
		// socket.io-client 2.x never sends CONNECT for "/": the server
		// connects it implicitly. Node does it at the handshake; doing it
		// when the client first comes back (its first poll, or at once
		// on WebSocket) looks the same to the client, whose "40" travels
		// on that poll either way, and spares abandoned handshakes the
		// namespace's middlewares and a socket.
		c.session.OnActive(func() {
			defer c.recoverHandler()
			c.connect("/", nil)
		})
	}
}

// neverConnected tells whether the client is still open without having
// joined a namespace, for the connect timeout. As in Node, the timeout
// ends at the first namespace joined, even if the client leaves it.
func (c *client) neverConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.joined && !c.closed
}

// HandleMessage is the session's message handler (engine.Handler).
func (c *client) HandleMessage(m engine.Message) {
	defer c.recoverHandler()
	p, err := c.dec.add(m.Data, m.Binary)
	if errors.Is(err, errIncomplete) {
		if !m.Binary { // a binary packet's text part: its attachments follow
			c.armAttachmentDeadline()
		}
		return
	}
	c.disarmAttachmentDeadline()
	if err != nil {
		c.protocolError("invalid packet", err)
		return
	}
	c.onPacket(p)
}

// recoverHandler, deferred around application callbacks, keeps a
// panicking handler from taking the server down with it: the client it
// was serving is closed, the others go on.
func (c *client) recoverHandler() {
	if v := recover(); v != nil {
		c.server.logger.Error("socketio: an application handler panicked; closing its client connection",
			zap.String("remote", c.address()), zap.Any("panic", v), zap.Stack("stack"))
		c.session.Close()
	}
}

// protocolError closes the connection of a client that broke the
// protocol, like Node's client.onerror: only this client is affected.
func (c *client) protocolError(msg string, err error) {
	c.server.logger.Info("socketio: closing a client connection: "+msg,
		zap.String("remote", c.address()), zap.Error(err))
	c.session.Close()
}

func (c *client) onPacket(p *Packet) {
	name, auth := p.Namespace, json.RawMessage(p.Data)
	if c.protocol == 4 && p.Type == PacketConnect {
		// Revision 4 puts the query option in the namespace,
		// "/admin?token=x"; Node turns it into the auth object.
		var err error
		if name, auth, err = splitNamespaceQuery(p.Namespace); err != nil {
			c.protocolError("invalid namespace", err)
			return
		}
	}
	c.mu.Lock()
	s := c.socketLocked(name)
	pending := s == nil && c.pendingLocked(name)
	c.mu.Unlock()
	switch {
	case pending:
		// The client cannot know yet whether it joined; it does not emit
		// before the CONNECT answer, so this is a repeated CONNECT or a
		// late packet of a client that gave up: nothing to do.
		if ce := c.server.logger.Check(zap.DebugLevel, "packet for a namespace whose middlewares are running ignored"); ce != nil {
			ce.Write(zap.String("namespace", name), zap.Stringer("type", p.Type), zap.String("remote", c.address()))
		}
	case s == nil && p.Type == PacketConnect:
		c.connect(name, auth)
	case s != nil && p.Type != PacketConnect && p.Type != PacketConnectError:
		s.onPacket(p)
	case s != nil:
		c.protocolError("packet in an invalid state", fmt.Errorf("%s for namespace %q, which the client already joined", p.Type, name))
	default:
		c.protocolError("packet in an invalid state", fmt.Errorf("%s for namespace %q, which the client has not joined", p.Type, name))
	}
}

// splitNamespaceQuery parses a revision 4 namespace with its query string.
func splitNamespaceQuery(nsp string) (string, json.RawMessage, error) {
	u, err := url.Parse(nsp)
	if err != nil {
		return "", nil, err
	}
	if u.RawQuery == "" {
		return u.Path, nil, nil
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, err
	}
	fields := make(map[string]string, len(q))
	for k, v := range q {
		fields[k] = v[len(v)-1] // the last value wins, as in Object.fromEntries
	}
	auth, err := json.Marshal(fields)
	return u.Path, auth, err
}

// connect handles a CONNECT packet: unknown namespace, middlewares, then
// the socket.
func (c *client) connect(name string, auth json.RawMessage) {
	nsp := c.server.namespace(name)
	if nsp == nil {
		_ = c.write(&Packet{Type: PacketConnectError, Namespace: name, Data: []byte(`{"message":"Invalid namespace"}`)})
		return
	}
	// A copy: the auth object must not pin the whole message it came in.
	// An empty object needs none (the handshake's Auth is {} then).
	if string(auth) == "{}" {
		auth = nil
	}
	auth = append(json.RawMessage(nil), auth...)
	s := newSocket(nsp, c, auth, time.Now().UnixMilli())
	if sess := c.restoreSession(nsp, auth); sess != nil {
		s.restore(sess)
	} else if nsp.recovery.Load() != nil && c.protocol >= 5 {
		s.rareState().rec = &socketRecovery{pid: newSocketID()}
	}
	if nsp.asyncMiddlewares.Load() {
		// A middleware may wait on a backend: run the chain on a goroutine
		// of its own, so that this client's other packets (its pongs on
		// another namespace, say) and its session's read loop go on. It
		// ends when the chain returns.
		c.mu.Lock()
		if c.pending == nil {
			c.pending = new([]*Namespace)
		}
		*c.pending = append(*c.pending, nsp)
		c.mu.Unlock()
		go func() {
			defer c.recoverHandler()
			c.admit(nsp, s)
		}()
		return
	}
	c.admit(nsp, s)
}

// pendingLocked reports whether the middlewares of namespace name are
// running for this client; c.mu is held.
func (c *client) pendingLocked(name string) bool {
	if c.pending == nil {
		return false
	}
	for _, n := range *c.pending {
		if n.name == name {
			return true
		}
	}
	return false
}

// unpendLocked forgets that nsp's middlewares run; c.mu is held.
func (c *client) unpendLocked(nsp *Namespace) {
	if c.pending == nil {
		return
	}
	if i := slices.Index(*c.pending, nsp); i >= 0 {
		*c.pending = slices.Delete(*c.pending, i, i+1)
		if len(*c.pending) == 0 {
			c.pending = nil // an idle client keeps no array
		}
	}
}

// admit runs the namespace's middlewares for s and connects it, or sends
// the refusal.
func (c *client) admit(nsp *Namespace, s *Socket) {
	name := nsp.name
	var err error
	if !s.Recovered() || !nsp.skipsMiddlewares() {
		err = nsp.runMiddlewares(s)
	}
	if err != nil {
		s.abandonRecovery()
		c.mu.Lock()
		c.unpendLocked(nsp)
		c.mu.Unlock()
		if ce := c.server.logger.Check(zap.DebugLevel, "connection refused by a middleware"); ce != nil {
			ce.Write(zap.String("namespace", name), zap.String("remote", c.address()), zap.Error(err))
		}
		_ = c.write(&Packet{Type: PacketConnectError, Namespace: name, Data: c.connectErrorData(err)})
		s.onClose("middleware error")
		return
	}
	c.mu.Lock()
	// In the same critical section as the append: a repeated CONNECT finds
	// the namespace either pending or joined, never neither.
	c.unpendLocked(nsp)
	if c.closed || c.server.shuttingDown.Load() {
		c.mu.Unlock()
		s.abandonRecovery()
		// Never connected: this only forgets the rooms a middleware joined.
		s.onClose("transport close")
		return
	}
	c.sockets = append(c.sockets, s)
	first := !c.joined
	c.joined = true
	c.mu.Unlock()
	if first {
		c.server.connectDeadlines.remove(c)
	}
	if rec := s.rec(); rec != nil && rec.restoring != nil {
		if !c.connectRecovered(s) {
			c.session.Close()
			return
		}
	} else {
		s.markSince()
		nsp.add(s)
		s.onConnect()
	}
	if ce := c.server.logger.Check(zap.DebugLevel, "socket connected"); ce != nil {
		ce.Write(zap.String("namespace", name), zap.String("socket", s.id), zap.String("remote", c.address()))
	}
	nsp.connected(s)
	// After the connection handlers: the rooms and data they gave it are
	// in its first record.
	s.saveConnected()
}

// connectErrorData is the CONNECT_ERROR payload for a middleware error:
// {"message":..,"data":..} in revision 5; in revision 4 the data alone, or
// the message when there is no data, as Node sends them.
func (c *client) connectErrorData(err error) []byte {
	msg, data := err.Error(), any(nil)
	var ce *ConnectError
	if errors.As(err, &ce) {
		msg, data = ce.Message, ce.Data
	}
	if c.protocol == 4 {
		if data == nil {
			data = msg
		}
		if b, err := appendValue(nil, data, new([][]byte)); err == nil {
			return b
		}
		return jsonstr.Append(nil, msg)
	}
	out := append([]byte(`{"message":`), jsonstr.Append(nil, msg)...)
	if data != nil {
		if b, err := appendValue(nil, data, new([][]byte)); err == nil {
			out = append(append(out, `,"data":`...), b...)
		}
	}
	return append(out, '}')
}

// write encodes p and queues its messages.
func (c *client) write(p *Packet) error {
	text := encodePacket(p)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.session.Send(engine.Message{Data: text}); err != nil {
		return err
	}
	for _, att := range p.Args.Attachments {
		if err := c.session.Send(engine.Message{Data: att, Binary: true}); err != nil {
			return err
		}
	}
	return nil
}

// writeVolatile encodes p and queues its messages only if the session's
// transport can write them at once (Node's volatile emit): the text part
// and its attachments go together or not at all. It reports whether they
// went.
func (c *client) writeVolatile(p *Packet) bool {
	msgs := make([]engine.Message, 1+len(p.Args.Attachments))
	msgs[0] = engine.Message{Data: encodePacket(p)}
	for i, att := range p.Args.Attachments {
		msgs[i+1] = engine.Message{Data: att, Binary: true}
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.session.SendVolatile(msgs...)
}

// writePrepared queues the messages of a broadcast, shared with the other
// receivers. A volatile broadcast skips this client unless its transport
// can write at once, as Node's does.
func (c *client) writePrepared(msgs []*engine.PreparedMessage, volatile bool) {
	c.writePreparedIn(nil, msgs, volatile)
}

// writePreparedIn is writePrepared as part of batch b (none when nil),
// which then starts the write. A volatile packet is never held: whether
// it is dropped depends on the transport being writable now.
func (c *client) writePreparedIn(b *engine.Batch, msgs []*engine.PreparedMessage, volatile bool) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if volatile {
		c.session.SendPreparedVolatile(msgs...)
		return
	}
	for _, m := range msgs {
		var err error
		if b != nil {
			err = b.SendPrepared(c.session, m)
		} else {
			err = c.session.SendPrepared(m)
		}
		if err != nil {
			return
		}
	}
}

// writeParts queues a text part and its attachments.
func (c *client) writeParts(text []byte, attachments [][]byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.session.Send(engine.Message{Data: text}); err != nil {
		return err
	}
	for _, att := range attachments {
		if err := c.session.Send(engine.Message{Data: att, Binary: true}); err != nil {
			return err
		}
	}
	return nil
}

// remove forgets a disconnected socket.
func (c *client) remove(s *Socket) {
	c.mu.Lock()
	if i := slices.Index(c.sockets, s); i >= 0 {
		c.sockets = slices.Delete(c.sockets, i, i+1)
	}
	c.mu.Unlock()
}

func (c *client) connectedSockets() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sockets)
}

// disconnectAll is Socket.Disconnect(true): every namespace is
// disconnected (the client is told), then the connection is closed.
func (c *client) disconnectAll() {
	for _, s := range c.connectedSockets() {
		s.Disconnect(false)
	}
	c.session.Close()
}

// HandleClose is the session's close handler (engine.Handler): every
// socket disconnects with the engine's reason.
func (c *client) HandleClose(reason string) {
	c.disarmAttachmentDeadline() // never concurrent with HandleMessage
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.server.connectDeadlines.remove(c)
	for _, s := range c.connectedSockets() {
		s.onClose(reason)
	}
}
