package adminui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Options configure an Instrument.
type Options struct {
	// Authenticate checks a login from the UI; nil means no login at all
	// (anyone who reaches the admin namespace can use it).
	Authenticate func(username, password string) bool
	// ReadOnly leaves out the UI's commands (emit, join, leave, disconnect).
	ReadOnly bool
	// Production sends what Node's production mode sends: the statistics,
	// not the sockets nor their events.
	Production bool
	// ServerID names this server in the UI; hostname#pid when empty.
	ServerID string
	// Logger receives the refused logins, with the client's address.
	Logger *zap.Logger
}

// StatsInterval is how often the statistics go to the UI, as in Node.
const StatsInterval = 2 * time.Second

// maxSessions bounds the session ids kept: past it the oldest go (their
// UI logs in again), so that logins cannot grow memory without bound.
const maxSessions = 1000

// Instrument serves the Admin UI's protocol on one namespace of a server.
type Instrument struct {
	io       *socketio.Server
	admin    *socketio.Namespace
	opts     atomic.Pointer[Options]
	start    time.Time
	hostname string
	stopped  atomic.Bool
	stop     chan struct{}
	done     chan struct{}
	pending  sync.Map // *socketio.Socket -> session id to send once connected

	mu           sync.Mutex
	sessions     map[string]struct{}         // guarded by mu
	sessionOrder []string                    // guarded by mu: oldest first
	instrumented map[string]bool             // guarded by mu: namespaces observed
	polling      map[*socketio.Socket]string // guarded by mu: sockets last seen on polling, to their namespace
	last         engine.StatsSnapshot        // guarded by mu: the totals at the last statistics
}

// New instruments io: the namespace called namespace ("/admin" when
// empty) becomes the Admin UI's, and the statistics start.
func New(io *socketio.Server, namespace string, o Options) *Instrument {
	if namespace == "" {
		namespace = "/admin"
	}
	in := &Instrument{
		io:           io,
		admin:        io.Of(namespace),
		start:        time.Now(),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
		sessions:     map[string]struct{}{},
		instrumented: map[string]bool{},
		polling:      map[*socketio.Socket]string{},
	}
	in.hostname, _ = os.Hostname()
	in.SetOptions(o)
	in.last = io.Engine().Stats().Snapshot()
	// The password check (bcrypt, argon2id) takes tens of milliseconds:
	// on a goroutine of its own, not on the connection's read loop.
	in.admin.UseAsync(in.authenticate)
	in.admin.OnConnection(in.onAdminConnection)
	go in.run()
	return in
}

// SetOptions replaces the options (a configuration reload); they apply to
// the next login, command and statistics.
func (in *Instrument) SetOptions(o Options) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.ServerID == "" {
		o.ServerID = in.hostname + "#" + strconv.Itoa(os.Getpid())
	}
	in.opts.Store(&o)
}

// Namespace is the admin namespace's name.
func (in *Instrument) Namespace() string { return in.admin.Name() }

// Stop ends the statistics and disconnects the UIs; the admin namespace
// refuses connections from then on.
func (in *Instrument) Stop() {
	if in.stopped.Swap(true) {
		return
	}
	close(in.stop)
	<-in.done
	for _, s := range in.admin.Sockets() {
		s.Disconnect(false)
	}
}

func (in *Instrument) authenticate(s *socketio.Socket) error {
	if in.stopped.Load() {
		return &socketio.ConnectError{Message: "Invalid namespace"}
	}
	o := in.opts.Load()
	if o.Authenticate == nil {
		return nil
	}
	var auth struct {
		SessionID string `json:"sessionId"`
		Username  string `json:"username"`
		Password  string `json:"password"`
	}
	_ = json.Unmarshal(s.Handshake().Auth, &auth) // not an object: no credentials
	if auth.SessionID != "" && in.hasSession(auth.SessionID) {
		return nil
	}
	if auth.Username != "" && o.Authenticate(auth.Username, auth.Password) {
		in.pending.Store(s, in.newSession())
		return nil
	}
	o.Logger.Warn("Admin UI login refused: invalid credentials",
		zap.String("remote_addr", s.Handshake().Address), zap.String("username", auth.Username),
		zap.String("namespace", in.admin.Name()))
	// The UI shows this message as its own "invalid credentials" error.
	return &socketio.ConnectError{Message: "invalid credentials"}
}

func (in *Instrument) hasSession(id string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	_, ok := in.sessions[id]
	return ok
}

func (in *Instrument) newSession() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	in.mu.Lock()
	defer in.mu.Unlock()
	in.sessions[id] = struct{}{}
	in.sessionOrder = append(in.sessionOrder, id)
	if len(in.sessionOrder) > maxSessions {
		delete(in.sessions, in.sessionOrder[0])
		in.sessionOrder = in.sessionOrder[1:]
	}
	return id
}

// features is the UI's "supportedFeatures".
func (o *Options) features() []string {
	var f []string
	if !o.ReadOnly {
		f = append(f, "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")
	}
	f = append(f, "AGGREGATED_EVENTS")
	if !o.Production {
		f = append(f, "ALL_EVENTS")
	}
	return f
}

func (in *Instrument) onAdminConnection(s *socketio.Socket) {
	if id, ok := in.pending.LoadAndDelete(s); ok {
		// After the CONNECT answer: the 0.5.1 UI listens for it only once
		// connected, and keeps it for the next page load.
		_ = s.Emit("session", id)
	}
	o := in.opts.Load()
	if !o.ReadOnly {
		in.registerCommands(s)
	}
	_ = s.Emit("config", map[string]any{"supportedFeatures": o.features()})
	if !o.Production {
		go func() { // FetchSockets may ask other nodes: not on the read loop
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Emit("all_sockets", in.allSockets(ctx))
		}()
	}
}

// namespace returns the existing namespace called name, or nil: the UI's
// commands never create one.
func (in *Instrument) namespace(name string) *socketio.Namespace {
	for _, ns := range in.io.Stats().Namespaces {
		if ns.Name == name {
			return in.io.Of(name)
		}
	}
	return nil
}

// registerCommands handles the UI's commands, as Node's v4 handlers do:
// filter, when given, is a room (a socket's id is its own room).
func (in *Instrument) registerCommands(s *socketio.Socket) {
	str := func(e *socketio.Event, i int) string {
		v, _ := e.Args.String(i)
		return v
	}
	selected := func(nsp *socketio.Namespace, filter string) *socketio.BroadcastOperator {
		if filter != "" {
			return nsp.In(filter)
		}
		return nsp.Except()
	}
	ctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 10*time.Second)
	}
	s.On("emit", func(e *socketio.Event) {
		nsp := in.namespace(str(e, 0))
		if nsp == nil || in.opts.Load().ReadOnly || e.Args.Len() < 3 {
			return
		}
		args := socketio.Args{JSON: e.Args.JSON[3:], Attachments: e.Args.Attachments}
		_ = selected(nsp, str(e, 1)).Emit(str(e, 2), args)
	})
	for _, cmd := range []string{"join", "leave"} {
		s.On(cmd, func(e *socketio.Event) {
			nsp, room := in.namespace(str(e, 0)), str(e, 1)
			if nsp == nil || room == "" || in.opts.Load().ReadOnly {
				return
			}
			go func() {
				c, cancel := ctx()
				defer cancel()
				if cmd == "join" {
					_ = selected(nsp, str(e, 2)).SocketsJoin(c, room)
				} else {
					_ = selected(nsp, str(e, 2)).SocketsLeave(c, room)
				}
			}()
		})
	}
	s.On("_disconnect", func(e *socketio.Event) {
		nsp := in.namespace(str(e, 0))
		if nsp == nil || in.opts.Load().ReadOnly {
			return
		}
		var closeConn bool
		_ = e.Args.Decode(1, &closeConn)
		go func() {
			c, cancel := ctx()
			defer cancel()
			_ = selected(nsp, str(e, 2)).DisconnectSockets(c, closeConn)
		}()
	})
}

// run sends the statistics every StatsInterval until Stop; it owns the
// ticker.
func (in *Instrument) run() {
	defer close(in.done)
	t := time.NewTicker(StatsInterval)
	defer t.Stop()
	in.tick()
	for {
		select {
		case <-t.C:
			in.tick()
		case <-in.stop:
			return
		}
	}
}

func (in *Instrument) tick() {
	o := in.opts.Load()
	if !o.Production {
		in.observeNewNamespaces()
		in.reportUpgrades()
	}
	in.emitStats(o)
}

// jsDate is how a JavaScript Date travels in JSON.
func jsDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// emitStats sends "server_stats": the aggregated events are the changes of
// the engine's totals since the last time, stamped with this second.
func (in *Instrument) emitStats(o *Options) {
	now := in.io.Engine().Stats().Snapshot()
	in.mu.Lock()
	last := in.last
	in.last = now
	in.mu.Unlock()
	second := time.Now().Truncate(time.Second).UnixMilli()
	events := []map[string]any{}
	add := func(typ, subType string, n uint64) {
		if n == 0 {
			return
		}
		e := map[string]any{"timestamp": second, "type": typ, "count": n}
		if subType != "" {
			e["subType"] = subType
		}
		events = append(events, e)
	}
	add("rawConnection", "", now.Handshakes[engine.HandshakeAccepted]-last.Handshakes[engine.HandshakeAccepted])
	for i, reason := range engine.CloseReasons {
		add("rawDisconnection", reason, now.Closes[i]-last.Closes[i])
	}
	var sessions, polling int64
	for p := range now.Sessions {
		sessions += now.Sessions[p][0] + now.Sessions[p][1]
		polling += now.Sessions[p][0]
	}
	var pin, pout, bin, bout uint64
	for t := range now.PacketsIn {
		pin += now.PacketsIn[t] - last.PacketsIn[t]
		pout += now.PacketsOut[t] - last.PacketsOut[t]
		bin += now.BytesIn[t] - last.BytesIn[t]
		bout += now.BytesOut[t] - last.BytesOut[t]
	}
	add("packetsIn", "", pin)
	add("packetsOut", "", pout)
	add("bytesIn", "", bin)
	add("bytesOut", "", bout)
	namespaces := []map[string]any{}
	for _, ns := range in.io.Stats().Namespaces {
		namespaces = append(namespaces, map[string]any{"name": ns.Name, "socketsCount": ns.Sockets})
	}
	_ = in.admin.Emit("server_stats", map[string]any{
		"serverId":            o.ServerID,
		"hostname":            in.hostname,
		"pid":                 os.Getpid(),
		"uptime":              time.Since(in.start).Seconds(),
		"clientsCount":        sessions,
		"pollingClientsCount": polling,
		"aggregatedEvents":    events,
		"namespaces":          namespaces,
	})
}

// observeNewNamespaces adds the development-mode observers to namespaces
// not seen yet (at the first statistics, every namespace).
func (in *Instrument) observeNewNamespaces() {
	for _, ns := range in.io.Stats().Namespaces {
		in.mu.Lock()
		seen := in.instrumented[ns.Name]
		in.instrumented[ns.Name] = true
		in.mu.Unlock()
		if !seen {
			in.observe(in.io.Of(ns.Name))
		}
	}
}

// verbose reports whether the development-mode events are to be sent.
func (in *Instrument) verbose() bool { return !in.stopped.Load() && !in.opts.Load().Production }

// observe reports nsp's sockets and their events to the UI, as Node's
// verbose listeners do.
func (in *Instrument) observe(nsp *socketio.Namespace) {
	name := nsp.Name()
	nsp.OnConnection(func(s *socketio.Socket) {
		if !in.verbose() {
			return
		}
		if s.Transport() == "polling" {
			in.mu.Lock()
			in.polling[s] = name
			in.mu.Unlock()
		}
		_ = in.admin.Emit("socket_connected", serializeLocal(s), jsDate(time.Now()))
	})
	nsp.OnDisconnect(func(s *socketio.Socket, reason string) {
		in.mu.Lock()
		delete(in.polling, s)
		in.mu.Unlock()
		if in.verbose() {
			_ = in.admin.Emit("socket_disconnected", name, s.ID(), reason, jsDate(time.Now()))
		}
	})
	nsp.OnJoin(func(s *socketio.Socket, room string) {
		if in.verbose() {
			_ = in.admin.Emit("room_joined", name, room, s.ID(), jsDate(time.Now()))
		}
	})
	nsp.OnLeave(func(s *socketio.Socket, room string) {
		if in.verbose() {
			_ = in.admin.Emit("room_left", name, room, s.ID(), jsDate(time.Now()))
		}
	})
	if nsp == in.admin {
		return // the UI's own commands are not shown as events
	}
	nsp.OnEvent(func(e *socketio.Event) {
		if !in.verbose() {
			return
		}
		_ = in.admin.Emit("event_received", name, e.Socket().ID(), eventArray(e), jsDate(time.Now()))
	})
}

// eventArray is [name, ...args] as one argument.
func eventArray(e *socketio.Event) any {
	if len(e.Args.Attachments) == 0 {
		name, _ := json.Marshal(e.Name)
		b := append([]byte{'['}, name...)
		for _, a := range e.Args.JSON {
			b = append(append(b, ','), a...)
		}
		return json.RawMessage(append(b, ']'))
	}
	values, err := e.Args.Values()
	if err != nil {
		return []any{e.Name}
	}
	return append([]any{e.Name}, values...)
}

// reportUpgrades sends "socket_updated" for the sockets that moved from
// polling to WebSocket since the last statistics (the engine has no
// upgrade callback; the UI learns of it within StatsInterval).
func (in *Instrument) reportUpgrades() {
	in.mu.Lock()
	var upgraded []*socketio.Socket
	var names []string
	for s, name := range in.polling {
		switch {
		case !s.Connected():
			delete(in.polling, s)
		case s.Transport() != "polling":
			delete(in.polling, s)
			upgraded, names = append(upgraded, s), append(names, name)
		}
	}
	in.mu.Unlock()
	for i, s := range upgraded {
		_ = in.admin.Emit("socket_updated", map[string]any{"id": s.ID(), "nsp": names[i], "transport": s.Transport()})
	}
}

// allSockets is "all_sockets": every namespace's sockets, on every node.
func (in *Instrument) allSockets(ctx context.Context) []map[string]any {
	out := []map[string]any{}
	for _, ns := range in.io.Stats().Namespaces {
		sockets, err := in.io.Of(ns.Name).FetchSockets(ctx)
		if err != nil {
			in.opts.Load().Logger.Info("Admin UI: some nodes did not list their sockets", zap.String("namespace", ns.Name), zap.Error(err))
		}
		for _, rs := range sockets {
			if rs.Local != nil {
				out = append(out, serializeLocal(rs.Local))
			} else {
				out = append(out, serialize(rs, ns.Name, ""))
			}
		}
	}
	return out
}

func serializeLocal(s *socketio.Socket) map[string]any {
	rs := socketio.RemoteSocket{ID: s.ID(), Handshake: s.Handshake(), Rooms: s.Rooms(), Local: s}
	if d := s.Data(); d != nil {
		rs.Data, _ = json.Marshal(d)
	}
	return serialize(rs, s.Namespace().Name(), s.Transport())
}

// redactedHeaders are shown as "[redacted]": they carry credentials.
var redactedHeaders = map[string]bool{"cookie": true, "authorization": true, "proxy-authorization": true}

// serialize is a socket as the UI reads it (Node's serialize).
func serialize(rs socketio.RemoteSocket, nsp, transport string) map[string]any {
	hs := rs.Handshake
	headers := map[string]string{}
	for k, v := range hs.Headers {
		name := strings.ToLower(k) // as Node's IncomingMessage.headers
		value := strings.Join(v, ", ")
		if redactedHeaders[name] {
			value = "[redacted]"
		}
		headers[name] = value
	}
	address := hs.Address
	if v := headers["cf-connecting-ip"]; v != "" {
		address = v
	} else if v := headers["x-forwarded-for"]; v != "" {
		address = v
	}
	query := map[string]string{}
	for k, v := range hs.Query() {
		if len(v) > 0 {
			query[k] = v[0]
		}
	}
	data := json.RawMessage(`{}`)
	if len(rs.Data) > 0 && rs.Data[0] == '{' {
		data = rs.Data
	}
	sum := sha256.Sum256([]byte(rs.ID))
	rooms := rs.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	out := map[string]any{
		"id": rs.ID,
		// Grouping by client in the UI needs an id per connection; Node
		// sends part of the Engine.IO id, a secret: a digest instead.
		"clientId": hex.EncodeToString(sum[:6]),
		"nsp":      nsp,
		"data":     data,
		"handshake": map[string]any{
			"address": address,
			"headers": headers,
			"query":   query,
			"issued":  hs.Issued,
			"secure":  hs.Secure,
			"time":    hs.Time(),
			"url":     hs.URL(),
			"xdomain": hs.XDomain,
		},
		"rooms": rooms,
	}
	if transport != "" {
		out["transport"] = transport
	}
	return out
}
