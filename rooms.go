package caddysocketio

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// roomTemplate is a room name from a `join` line, split into literal text
// and placeholders once at provision time, so that a connection only
// concatenates strings.
type roomTemplate struct {
	parts []roomPart
}

// roomPart is literal text (source == "") or a placeholder: a value taken
// from the handshake's query, headers or auth payload.
type roomPart struct {
	text   string // the literal, or the key of the placeholder
	source string // "", "query", "header" or "auth"
}

// handshakeValues is what placeholders are taken from: the handshake of a
// Socket.IO connection.
type handshakeValues struct {
	// query is the query's Get: a socket's Handshake.QueryValue, which
	// finds a key without building the whole url.Values of every
	// connection's handshake.
	query  func(key string) string
	header http.Header
	auth   map[string]any
}

// longPlaceholders maps the names the Caddyfile adapter expands the
// shorthands {query.*} and {header.*} to back to them: both spellings mean
// the handshake request's query and headers.
var longPlaceholders = strings.NewReplacer("http.request.uri.query.", "query.", "http.request.header.", "header.")

func parseRoomTemplate(s string) (roomTemplate, error) {
	var t roomTemplate
	for s != "" {
		open := strings.IndexByte(s, '{')
		if open < 0 {
			if strings.IndexByte(s, '}') >= 0 {
				return t, fmt.Errorf("room %q has a '}' without '{'", s)
			}
			t.parts = append(t.parts, roomPart{text: s})
			break
		}
		if open > 0 {
			if strings.IndexByte(s[:open], '}') >= 0 {
				return t, fmt.Errorf("room %q has a '}' without '{'", s)
			}
			t.parts = append(t.parts, roomPart{text: s[:open]})
		}
		end := strings.IndexByte(s[open:], '}')
		if end < 0 {
			return t, fmt.Errorf("room %q has a '{' without '}'", s)
		}
		name := s[open+1 : open+end]
		source, key, ok := strings.Cut(longPlaceholders.Replace(name), ".")
		switch {
		case !ok || key == "":
			return t, fmt.Errorf("placeholder {%s} is not one of {query.<key>}, {header.<Name>}, {auth.<key>}", name)
		case source != "query" && source != "header" && source != "auth":
			return t, fmt.Errorf("placeholder {%s} is not one of {query.<key>}, {header.<Name>}, {auth.<key>}; rooms are named when a socket connects, from its handshake", name)
		}
		t.parts = append(t.parts, roomPart{text: key, source: source})
		s = s[open+end+1:]
	}
	return t, nil
}

// expand returns the room name for one handshake, and false when a
// placeholder is empty: a client that did not send ?room= joins nothing
// rather than a room shared by everyone who left it out. A room made from
// placeholders that has the shape of a socket id is not joined either:
// that room is the socket's own, and joining it would receive what is
// sent to that socket alone.
func (t roomTemplate) expand(h handshakeValues) (string, bool) {
	if len(t.parts) == 1 && t.parts[0].source == "" {
		return t.parts[0].text, true
	}
	var b strings.Builder
	for _, p := range t.parts {
		v := p.text
		switch p.source {
		case "query":
			v = h.query(p.text)
		case "header":
			v = h.header.Get(p.text)
		case "auth":
			v = authString(h.auth[p.text])
		}
		if v == "" {
			return "", false
		}
		b.WriteString(v)
	}
	if socketio.LooksLikeSocketID(b.String()) {
		return "", false
	}
	return b.String(), true
}

// authString turns a scalar from the auth payload into text; objects,
// arrays and null give "" (no room), since a room named after a JSON
// object is never what was meant.
func authString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}
