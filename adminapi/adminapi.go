package adminapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// Server is one live server as the API shows it.
type Server struct {
	// Name is the server's name, the path segment after the prefix.
	Name string
	// Options are shown as they are (any JSON value); they must hold no
	// secret.
	Options any
	IO      *socketio.Server
}

// Handler serves the API under Prefix:
//
//	GET <prefix>                                     the servers
//	GET <prefix><name>/namespaces                    a server's namespaces
//	GET <prefix><name>/rooms?namespace=              a namespace's rooms (paged)
//	GET <prefix><name>/sockets?namespace=&room=      its sockets, or a room's (paged)
//
// Pages take offset (0 by default) and limit (100 by default, at most
// 1000); the answer says the total.
type Handler struct {
	// Prefix is where the API is mounted, ending in a slash: "/socketio/".
	Prefix string
	// Servers lists the live servers, in any order; names are unique.
	Servers func() []Server
	// Timeout bounds the questions to the adapter (other nodes answer
	// within the cluster's requests timeout anyway); 10 s when zero.
	Timeout time.Duration
}

// Error is an answer other than 200: its status and a message for people.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// Serve answers one request; a non-nil error is what to send instead
// (an *Error for a request that was wrong or a server that could not
// answer).
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return &Error{http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: the Socket.IO admin API is read-only (GET)", r.Method)}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, h.Prefix)
	if !ok {
		return &Error{http.StatusNotFound, "not found: " + r.URL.Path}
	}
	if rest == "" {
		return writeJSON(w, h.serverList())
	}
	// A name may contain slashes (it is the path by default, "/socket.io/"),
	// so the resource is the last segment and the name is what comes
	// before; a name with slashes is given escaped or as is.
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return &Error{http.StatusNotFound, fmt.Sprintf("not found: %s; use %s<name>/namespaces, /rooms or /sockets", r.URL.Path, h.Prefix)}
	}
	name, resource := rest[:i], rest[i+1:]
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	srv := h.find(name)
	if srv == nil {
		return &Error{http.StatusNotFound, fmt.Sprintf("no Socket.IO server named %q; GET %s lists them", name, h.Prefix)}
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	q := r.URL.Query()
	switch resource {
	case "namespaces":
		out, err := namespaces(ctx, srv.IO)
		if err != nil {
			return err
		}
		return writeJSON(w, out)
	case "rooms", "sockets":
		nsp, err := namespaceOf(srv.IO, q)
		if err != nil {
			return err
		}
		offset, limit, err := page(q)
		if err != nil {
			return err
		}
		if resource == "rooms" {
			out, err := rooms(ctx, nsp, offset, limit)
			if err != nil {
				return err
			}
			return writeJSON(w, out)
		}
		out, err := sockets(ctx, nsp, q.Get("room"), offset, limit)
		if err != nil {
			return err
		}
		return writeJSON(w, out)
	}
	return &Error{http.StatusNotFound, fmt.Sprintf("unknown resource %q; use namespaces, rooms or sockets", resource)}
}

// ServeHTTP is Serve with errors written as {"error": message}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.Serve(w, r); err != nil {
		status := http.StatusInternalServerError
		if e, ok := err.(*Error); ok {
			status = e.Status
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	}
}

func (h *Handler) find(name string) *Server {
	// A server named by its path ("/socket.io/") may be asked for as
	// "socket.io": the admin endpoint's mux cleans double slashes away.
	for _, s := range h.Servers() {
		if s.Name == name || strings.Trim(s.Name, "/") == strings.Trim(name, "/") {
			return &s
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(append(b, '\n'))
	return err
}

// ServerInfo is an entry of GET <prefix>.
type ServerInfo struct {
	Name    string `json:"name"`
	Options any    `json:"options"`
	// Sockets connected to this node, over all namespaces.
	Sockets int `json:"sockets"`
	// Sessions are this node's Engine.IO sessions by transport.
	Sessions   map[string]int64 `json:"sessions"`
	Namespaces []string         `json:"namespaces"`
}

func (h *Handler) serverList() map[string][]ServerInfo {
	list := h.Servers()
	slices.SortFunc(list, func(a, b Server) int { return strings.Compare(a.Name, b.Name) })
	out := make([]ServerInfo, 0, len(list))
	for _, s := range list {
		info := ServerInfo{Name: s.Name, Options: s.Options, Sessions: map[string]int64{}, Namespaces: []string{}}
		for _, ns := range s.IO.Stats().Namespaces {
			info.Sockets += ns.Sockets
			info.Namespaces = append(info.Namespaces, ns.Name)
		}
		slices.Sort(info.Namespaces)
		st := s.IO.Engine().Stats().Snapshot()
		for t, name := range engine.Transports {
			for p := range st.Sessions {
				info.Sessions[name] += st.Sessions[p][t]
			}
		}
		out = append(out, info)
	}
	return map[string][]ServerInfo{"servers": out}
}

// NamespaceInfo is an entry of GET <prefix><name>/namespaces.
type NamespaceInfo struct {
	Name string `json:"name"`
	// Sockets in the namespace on every node (the adapter's Sockets);
	// LocalSockets those on this one.
	Sockets      int `json:"sockets"`
	LocalSockets int `json:"local_sockets"`
}

func namespaces(ctx context.Context, io *socketio.Server) (map[string][]NamespaceInfo, error) {
	stats := io.Stats().Namespaces
	slices.SortFunc(stats, func(a, b socketio.NamespaceStats) int { return strings.Compare(a.Name, b.Name) })
	out := make([]NamespaceInfo, 0, len(stats))
	for _, ns := range stats {
		ids, err := io.Of(ns.Name).Adapter().Sockets(ctx, nil)
		if err != nil {
			return nil, adapterError(ns.Name, err)
		}
		out = append(out, NamespaceInfo{Name: ns.Name, Sockets: len(ids), LocalSockets: ns.Sockets})
	}
	return map[string][]NamespaceInfo{"namespaces": out}, nil
}

// namespaceOf is the namespace the query names; it must exist (the API
// never creates one).
func namespaceOf(io *socketio.Server, q url.Values) (*socketio.Namespace, error) {
	name := q.Get("namespace")
	if name == "" {
		name = "/"
	}
	for _, ns := range io.Stats().Namespaces {
		if ns.Name == name {
			return io.Of(name), nil
		}
	}
	return nil, &Error{http.StatusNotFound, fmt.Sprintf("no namespace %q on this server; GET .../namespaces lists them", name)}
}

func page(q url.Values) (offset, limit int, err error) {
	limit = defaultLimit
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return 0, 0, &Error{http.StatusBadRequest, fmt.Sprintf("offset %q: want a number from 0", v)}
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxLimit {
			return 0, 0, &Error{http.StatusBadRequest, fmt.Sprintf("limit %q: want a number from 1 to %d", v, maxLimit)}
		}
	}
	return offset, limit, nil
}

// Page is the frame of a paged answer.
type Page struct {
	Namespace string `json:"namespace"`
	Room      string `json:"room,omitempty"`
	Total     int    `json:"total"`
	Offset    int    `json:"offset"`
	Limit     int    `json:"limit"`
}

// RoomInfo is an entry of GET .../rooms: a room and how many sockets are
// in it, on every node. A socket's own room (its id) is not listed.
type RoomInfo struct {
	Name    string `json:"name"`
	Sockets int    `json:"sockets"`
}

// RoomPage is the answer of GET .../rooms.
type RoomPage struct {
	Page
	Rooms []RoomInfo `json:"rooms"`
}

func rooms(ctx context.Context, nsp *socketio.Namespace, offset, limit int) (*RoomPage, error) {
	all, err := nsp.FetchSockets(ctx)
	if err != nil {
		return nil, adapterError(nsp.Name(), err)
	}
	counts := map[string]int{}
	for _, s := range all {
		for _, room := range s.Rooms {
			if room != s.ID {
				counts[room]++
			}
		}
	}
	list := make([]RoomInfo, 0, len(counts))
	for name, n := range counts {
		list = append(list, RoomInfo{Name: name, Sockets: n})
	}
	slices.SortFunc(list, func(a, b RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return &RoomPage{Page: Page{Namespace: nsp.Name(), Total: len(list), Offset: offset, Limit: limit}, Rooms: window(list, offset, limit)}, nil
}

// SocketInfo is an entry of GET .../sockets.
type SocketInfo struct {
	ID    string   `json:"id"`
	Rooms []string `json:"rooms"`
	// Local: the socket is on this node; Transport is known only then.
	Local     bool            `json:"local"`
	Transport string          `json:"transport,omitempty"`
	Handshake HandshakeInfo   `json:"handshake"`
	Data      json.RawMessage `json:"data,omitempty"`
}

// HandshakeInfo is what the API shows of a socket's handshake: not its
// headers, query or auth, which may carry credentials.
type HandshakeInfo struct {
	Address string `json:"address"`
	Time    string `json:"time"`
	Issued  int64  `json:"issued"`
	Secure  bool   `json:"secure"`
	XDomain bool   `json:"xdomain"`
}

// SocketPage is the answer of GET .../sockets.
type SocketPage struct {
	Page
	Sockets []SocketInfo `json:"sockets"`
}

func sockets(ctx context.Context, nsp *socketio.Namespace, room string, offset, limit int) (*SocketPage, error) {
	var all []socketio.RemoteSocket
	var err error
	if room == "" {
		all, err = nsp.FetchSockets(ctx)
	} else {
		all, err = nsp.In(room).FetchSockets(ctx)
	}
	if err != nil {
		return nil, adapterError(nsp.Name(), err)
	}
	slices.SortFunc(all, func(a, b socketio.RemoteSocket) int { return strings.Compare(a.ID, b.ID) })
	shown := window(all, offset, limit)
	list := make([]SocketInfo, 0, len(shown))
	for _, s := range shown {
		info := SocketInfo{
			ID:    s.ID,
			Rooms: []string{},
			Local: s.Local != nil,
			Handshake: HandshakeInfo{
				Address: s.Handshake.Address, Time: s.Handshake.Time(), Issued: s.Handshake.Issued,
				Secure: s.Handshake.Secure, XDomain: s.Handshake.XDomain,
			},
			Data: s.Data,
		}
		for _, r := range s.Rooms {
			if r != s.ID {
				info.Rooms = append(info.Rooms, r)
			}
		}
		slices.Sort(info.Rooms)
		if s.Local != nil {
			info.Transport = s.Local.Transport()
		}
		list = append(list, info)
	}
	return &SocketPage{Page: Page{Namespace: nsp.Name(), Room: room, Total: len(all), Offset: offset, Limit: limit}, Sockets: list}, nil
}

func window[T any](list []T, offset, limit int) []T {
	if offset >= len(list) {
		return []T{}
	}
	return list[offset:min(offset+limit, len(list))]
}

// adapterError is a failure of the adapter to answer (another node late,
// Redis down).
func adapterError(nsp string, err error) error {
	return &Error{http.StatusBadGateway, fmt.Sprintf("namespace %q: the adapter could not answer for every node: %v", nsp, err)}
}
