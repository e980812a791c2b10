package socketio

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/urlquery"
)

// Handshake describes how a socket connected, like socket.handshake in Node.
// A socket does not store it: Socket.Handshake builds it on each call from
// what the Engine.IO session keeps of its handshake request and the few
// values of the CONNECT, so that an idle socket carries no headers or
// query of its own. Keep the value rather than calling Socket.Handshake
// per event. The query, URL and time are computed on each call of their
// methods.
type Handshake struct {
	// Headers are those of the Engine.IO handshake request.
	Headers http.Header
	// Auth is the payload of the client's CONNECT packet (the auth option
	// of socket.io-client), {} when there was none. Clients of protocol
	// revision 4 (socket.io-client 2.x) have no auth: their namespace's
	// query string (the query option) takes its place, as an object of
	// strings, as in Node.
	Auth json.RawMessage
	// Address is the client's IP address as the server saw it.
	Address string
	// Issued is the connection time in milliseconds since the epoch.
	Issued int64
	// Secure tells whether the handshake came over TLS; XDomain whether it
	// carried an Origin header.
	Secure  bool
	XDomain bool

	// path and rawQuery make up the request target (URL, Query).
	path, rawQuery string
	// reported is set for a socket of another server (RemoteHandshake):
	// the query and time as that server gave them.
	reported *reportedHandshake
}

// reportedHandshake holds what another server said of its socket's
// handshake that this one would otherwise compute.
type reportedHandshake struct {
	query url.Values
	time  string
}

// jsDateLayout is what `new Date() + ""` prints in Node.
const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"

// emptyAuth is the Auth of a CONNECT without payload.
var emptyAuth = json.RawMessage("{}")

// newHandshake describes a socket connecting through the Engine.IO
// handshake request r with the CONNECT payload auth at issued
// (milliseconds since the epoch). It allocates nothing: the strings and
// headers are r's.
func newHandshake(r *http.Request, auth json.RawMessage, issued int64) Handshake {
	if len(auth) == 0 {
		auth = emptyAuth
	}
	h := Handshake{Auth: auth, Issued: issued}
	if r == nil {
		return h
	}
	h.Headers = r.Header
	h.path, h.rawQuery = r.URL.EscapedPath(), r.URL.RawQuery
	h.Secure = r.TLS != nil
	h.XDomain = r.Header.Get("Origin") != ""
	h.Address = r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h.Address = host
	}
	return h
}

// RemoteHandshake is the handshake of a socket of another server, as a
// cluster adapter receives it: the request target (URL), the query as that
// server parsed it, the time as it formatted it. Set the other fields on
// the result.
func RemoteHandshake(target string, query url.Values, time string) Handshake {
	path, rawQuery, _ := strings.Cut(target, "?")
	return Handshake{path: path, rawQuery: rawQuery, reported: &reportedHandshake{query: query, time: time}}
}

// Query is the query of the Engine.IO handshake request, parsed on each
// call (the caller owns the map); malformed pairs are skipped.
func (h Handshake) Query() url.Values {
	if h.reported != nil {
		q := make(url.Values, len(h.reported.query))
		for k, v := range h.reported.query {
			q[k] = slices.Clone(v)
		}
		return q
	}
	q, _ := url.ParseQuery(h.rawQuery)
	return q
}

// QueryValue is Query().Get(key) without building the map: the first value
// of key in the query, "" when there is none.
func (h Handshake) QueryValue(key string) string {
	if h.reported != nil {
		return h.reported.query.Get(key)
	}
	return urlquery.Get(h.rawQuery, key)
}

// URL is the request target of the Engine.IO handshake request, path and
// query, like req.url in Node.
func (h Handshake) URL() string {
	if h.rawQuery == "" {
		return h.path
	}
	return h.path + "?" + h.rawQuery
}

// Time is the connection time formatted as JavaScript's Date#toString
// (local time zone).
func (h Handshake) Time() string {
	if h.reported != nil {
		return h.reported.time
	}
	return time.UnixMilli(h.Issued).Format(jsDateLayout)
}

// AuthValue returns one field of Auth, decoded as encoding/json decodes
// into an any (strings, float64, bool, nil, maps and slices).
func (h Handshake) AuthValue(name string) (any, bool) {
	var fields map[string]any
	if json.Unmarshal(h.Auth, &fields) != nil {
		return nil, false
	}
	v, ok := fields[name]
	return v, ok
}
