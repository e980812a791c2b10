package socketio

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Handshake describes how a socket connected, like socket.handshake in Node.
// It is built once at CONNECT and not changed afterwards.
type Handshake struct {
	// Headers, Query and URL are those of the Engine.IO handshake request.
	Headers http.Header
	Query   url.Values
	URL     string
	// Auth is the payload of the client's CONNECT packet (the auth option
	// of socket.io-client), {} when there was none. Clients of protocol
	// revision 4 (socket.io-client 2.x) have no auth: their namespace's
	// query string (the query option) takes its place, as an object of
	// strings, as in Node.
	Auth json.RawMessage
	// Address is the client's IP address as the server saw it.
	Address string
	// Time is the connection time formatted as JavaScript's Date#toString;
	// Issued is the same instant in milliseconds since the epoch.
	Time   string
	Issued int64
	// Secure tells whether the handshake came over TLS; XDomain whether it
	// carried an Origin header.
	Secure  bool
	XDomain bool
}

// jsDateLayout is what `new Date() + ""` prints in Node.
const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700 (MST)"

func newHandshake(r *http.Request, auth json.RawMessage, now time.Time) Handshake {
	if len(auth) == 0 {
		auth = json.RawMessage("{}")
	}
	h := Handshake{Auth: auth, Time: now.Format(jsDateLayout), Issued: now.UnixMilli()}
	if r == nil {
		return h
	}
	h.Headers = r.Header
	h.Query = r.URL.Query()
	h.URL = r.URL.RequestURI()
	h.Secure = r.TLS != nil
	h.XDomain = r.Header.Get("Origin") != ""
	h.Address = r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h.Address = host
	}
	return h
}

// AuthValue returns one field of Auth, decoded as encoding/json decodes
// into an any (strings, float64, bool, nil, maps and slices).
func (h *Handshake) AuthValue(name string) (any, bool) {
	var fields map[string]any
	if json.Unmarshal(h.Auth, &fields) != nil {
		return nil, false
	}
	v, ok := fields[name]
	return v, ok
}
