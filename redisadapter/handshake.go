package redisadapter

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// nodeHandshake is socket.handshake as Node's adapter sends it in answers
// to fetchSockets, fields in Node's order.
type nodeHandshake struct {
	Headers map[string]any  `json:"headers"`
	Time    string          `json:"time"`
	Address string          `json:"address"`
	XDomain bool            `json:"xdomain"`
	Secure  bool            `json:"secure"`
	Issued  int64           `json:"issued"`
	URL     string          `json:"url"`
	Query   map[string]any  `json:"query"`
	Auth    json.RawMessage `json:"auth"`
}

// describeSocket is a local socket as a Node server would describe it.
// Header names are lower case and repeated headers joined, as Node's
// http module presents them; a repeated query parameter is an array.
func describeSocket(s socketio.RemoteSocket) RemoteSocket {
	h := s.Handshake
	query := h.Query()
	nh := nodeHandshake{
		Headers: make(map[string]any, len(h.Headers)),
		Time:    h.Time(), Address: h.Address, XDomain: h.XDomain, Secure: h.Secure, Issued: h.Issued,
		URL: h.URL(), Query: make(map[string]any, len(query)), Auth: h.Auth,
	}
	for name, values := range h.Headers {
		name = strings.ToLower(name)
		switch {
		case name == "set-cookie":
			nh.Headers[name] = values
		case name == "cookie":
			nh.Headers[name] = strings.Join(values, "; ")
		default:
			nh.Headers[name] = strings.Join(values, ", ")
		}
	}
	for name, values := range query {
		if len(values) == 1 {
			nh.Query[name] = values[0]
		} else {
			nh.Query[name] = values
		}
	}
	if len(nh.Auth) == 0 {
		nh.Auth = json.RawMessage("{}")
	}
	hs, _ := json.Marshal(nh)
	rooms := append([]string(nil), s.Rooms...)
	sort.Strings(rooms)
	out := RemoteSocket{ID: s.ID, Handshake: hs, Rooms: nonNilStrings(rooms), Data: json.RawMessage("{}")}
	if s.Local != nil {
		if d := s.Local.Data(); d != nil {
			if b, err := json.Marshal(d); err == nil {
				out.Data = b
			}
		}
	}
	return out
}

// handshakeFromNode reads the handshake of a socket on another server.
func handshakeFromNode(raw json.RawMessage) socketio.Handshake {
	var nh struct {
		nodeHandshake
		Headers map[string]json.RawMessage `json:"headers"`
		Query   map[string]json.RawMessage `json:"query"`
		Issued  float64                    `json:"issued"`
	}
	_ = json.Unmarshal(raw, &nh)
	query := url.Values{}
	for name, v := range nh.Query {
		for _, s := range stringOrList(v) {
			query.Add(name, s)
		}
	}
	h := socketio.RemoteHandshake(nh.URL, query, nh.Time)
	h.Headers, h.Auth, h.Address, h.Issued = http.Header{}, nh.Auth, nh.Address, int64(nh.Issued)
	h.Secure, h.XDomain = nh.Secure, nh.XDomain
	for name, v := range nh.Headers {
		for _, s := range stringOrList(v) {
			h.Headers.Add(name, s)
		}
	}
	return h
}

func stringOrList(raw json.RawMessage) []string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	return nil
}
