package hooks

import (
	"encoding/json"
	"strconv"

	"github.com/caddy-socketio/caddy-socketio/internal/jsonstr"
)

// The request bodies are written by hand, byte for byte what json.Marshal
// makes of the structs in wire.go (encode_test.go checks it): reflection
// over the structs and the re-validation of every raw JSON field (the
// client's arguments, data, meta, the encoded handshake) were two thirds
// of building a body, a tenth of a hooked ack's CPU.

// appendEnvelope writes e's fields after the opening brace, without the
// closing one.
func appendEnvelope(b []byte, e *envelope) ([]byte, error) {
	var err error
	b = append(b, `"id":`...)
	b = jsonstr.AppendHTMLSafe(b, e.ID)
	b = append(b, `,"type":`...)
	b = jsonstr.AppendHTMLSafe(b, e.Type)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, e.Time, 10)
	b = append(b, `,"namespace":`...)
	b = jsonstr.AppendHTMLSafe(b, e.Namespace)
	s := &e.Socket
	b = append(b, `,"socket":{"id":`...)
	b = jsonstr.AppendHTMLSafe(b, s.ID)
	b = append(b, `,"transport":`...)
	b = jsonstr.AppendHTMLSafe(b, s.Transport)
	b = append(b, `,"protocol":`...)
	b = strconv.AppendInt(b, int64(s.Protocol), 10)
	b = append(b, `,"address":`...)
	b = jsonstr.AppendHTMLSafe(b, s.Address)
	b = append(b, `,"rooms":`...)
	if s.Rooms == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range s.Rooms {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.AppendHTMLSafe(b, r)
		}
		b = append(b, ']')
	}
	b = append(b, `,"data":`...)
	if b, err = appendRaw(b, s.Data); err != nil {
		return nil, err
	}
	b = append(b, `,"meta":`...)
	if b, err = appendRaw(b, s.Meta); err != nil {
		return nil, err
	}
	b = append(b, `,"recovered":`...)
	b = strconv.AppendBool(b, s.Recovered)
	b = append(b, `},"handshake":`...)
	return appendRaw(b, e.Handshake)
}

// encodeEnvelope is json.Marshal(e).
func encodeEnvelope(e *envelope) ([]byte, error) {
	b, err := appendEnvelope(append(make([]byte, 0, bodySize(e, 0)), '{'), e)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// encodeEvent is json.Marshal(e).
func encodeEvent(e *eventRequest) ([]byte, error) {
	extra := len(e.Event) + 32
	for _, a := range e.Args {
		extra += len(a) + 1
	}
	b, err := appendEnvelope(append(make([]byte, 0, bodySize(&e.envelope, extra)), '{'), &e.envelope)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"event":`...)
	b = jsonstr.AppendHTMLSafe(b, e.Event)
	b = append(b, `,"args":`...)
	if e.Args == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range e.Args {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendRaw(b, a); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"ack":`...)
	b = strconv.AppendBool(b, e.Ack)
	return append(b, '}'), nil
}

// encodeNotification is json.Marshal(n).
func encodeNotification(n *notification) ([]byte, error) {
	b, err := appendEnvelope(append(make([]byte, 0, bodySize(&n.envelope, len(n.Reason)+len(n.Room)+24)), '{'), &n.envelope)
	if err != nil {
		return nil, err
	}
	if n.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonstr.AppendHTMLSafe(b, n.Reason)
	}
	if n.Room != "" {
		b = append(b, `,"room":`...)
		b = jsonstr.AppendHTMLSafe(b, n.Room)
	}
	return append(b, '}'), nil
}

// bodySize is a guess of the encoded size, so that the body is allocated
// once.
func bodySize(e *envelope, extra int) int {
	n := 256 + len(e.ID) + len(e.Type) + len(e.Namespace) + len(e.Socket.ID) + len(e.Socket.Transport) +
		len(e.Socket.Address) + len(e.Socket.Data) + len(e.Socket.Meta) + len(e.Handshake) + extra
	for _, r := range e.Socket.Rooms {
		n += len(r) + 3
	}
	return n
}

// appendRaw writes a raw JSON value as json.Marshal writes a
// json.RawMessage: null when empty, else compacted, with <, >, &, U+2028
// and U+2029 escaped in its strings. The values here are valid JSON
// already (the socketio package checked the client's arguments, the
// answer decoder the backend's data and meta; the handshake is ours), and
// almost always compact with nothing to escape, which one scan tells; the
// others go through json.Marshal, as before.
func appendRaw(b []byte, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return append(b, "null"...), nil
	}
	if plainJSON(raw) {
		return append(b, raw...), nil
	}
	m, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	return append(b, m...), nil
}

// plainJSON tells that valid JSON raw has no whitespace outside its
// strings and nothing json.Marshal would escape within them.
func plainJSON(raw []byte) bool {
	in := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '"':
			in = !in
		case '\\':
			if in {
				i++ // the escaped character (a quote, say)
			}
		case ' ', '\t', '\n', '\r':
			if !in {
				return false
			}
		case '<', '>', '&':
			return false
		case 0xE2: // the first byte of U+2028 and U+2029 (E2 80 A8/A9)
			if i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9) {
				return false
			}
		}
	}
	return true
}
