package hooks

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// The request bodies, one struct per shape; field names are the contract
// of doc.go.

// envelope is what every hook body and every notification starts with.
type envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Time      int64           `json:"time"`
	Namespace string          `json:"namespace"`
	Socket    socketInfo      `json:"socket"`
	Handshake json.RawMessage `json:"handshake"` // a handshakeInfo, encoded once per socket (shake)
}

type socketInfo struct {
	ID        string          `json:"id"`
	Transport string          `json:"transport"`
	Protocol  int             `json:"protocol"`
	Address   string          `json:"address"`
	Rooms     []string        `json:"rooms"`
	Data      json.RawMessage `json:"data"`
	Meta      json.RawMessage `json:"meta"`
	// Recovered is set for a socket whose connection state was recovered
	// (connection_state_recovery): same id, rooms, data and meta as
	// before its connection dropped.
	Recovered bool `json:"recovered"`
}

type handshakeInfo struct {
	URL     string            `json:"url"`
	Query   map[string]any    `json:"query"`
	Headers map[string]string `json:"headers"`
	Auth    json.RawMessage   `json:"auth"`
	Secure  bool              `json:"secure"`
	Time    string            `json:"time"`
	Issued  int64             `json:"issued"`
}

type eventRequest struct {
	envelope
	Event string            `json:"event"`
	Args  []json.RawMessage `json:"args"`
	Ack   bool              `json:"ack"`
}

// notification is one element of a notify batch's events.
type notification struct {
	envelope
	Reason string `json:"reason,omitempty"`
	Room   string `json:"room,omitempty"`
}

var emptyObject = json.RawMessage("{}")

// describe fills the envelope of socket s, whose handshake sh describes.
func describe(s *socketio.Socket, sh *shake, id, typ string, now int64) envelope {
	rooms := s.Rooms()
	if rooms == nil {
		rooms = []string{}
	}
	return envelope{
		ID: id, Type: typ, Time: now, Namespace: s.Namespace().Name(),
		Socket: socketInfo{
			ID: s.ID(), Transport: s.Transport(), Protocol: s.Protocol(), Address: sh.address,
			Rooms: rooms, Data: dataJSON(s.Data()), Meta: s.Meta(), Recovered: s.Recovered(),
		},
		Handshake: sh.handshake,
	}
}

// handshakeJSON encodes the handshake object of socket s; headers are the
// canonical names of the allowlisted handshake headers.
func handshakeJSON(s *socketio.Socket, hs *socketio.Handshake, headers []string) (json.RawMessage, error) {
	info := &handshakeInfo{
		URL: hs.URL(), Query: queryObject(hs), Headers: forwardedHeaders(hs.Headers, headers),
		Auth: hs.Auth, Secure: hs.Secure, Time: hs.Time(), Issued: hs.Issued,
	}
	if s.Protocol() < 5 {
		// socket.io-client 2.x has no auth: the socketio package puts the
		// query of its CONNECT packet (the namespace's query option) there.
		// It goes into the query instead, over the handshake's own values,
		// as the socket.io 2.x server merged it into handshake.query.
		var nsQuery map[string]string
		if json.Unmarshal(info.Auth, &nsQuery) == nil {
			for k, v := range nsQuery {
				info.Query[k] = v
			}
		}
		info.Auth = emptyObject
	} else if len(info.Auth) == 0 {
		info.Auth = emptyObject
	}
	return json.Marshal(info)
}

// dataJSON is socket.data as JSON: null when unset or not encodable.
func dataJSON(d any) json.RawMessage {
	switch v := d.(type) {
	case nil:
		return nil
	case json.RawMessage:
		return v
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	return b
}

// queryObject is the query as Node's socket.handshake.query: a string per
// key, a list for a repeated key.
func queryObject(hs *socketio.Handshake) map[string]any {
	q := hs.Query()
	m := make(map[string]any, len(q))
	for k, v := range q {
		if len(v) == 1 {
			m[k] = v[0]
		} else {
			m[k] = v
		}
	}
	return m
}

// forwardedHeaders are the allowlisted headers of the handshake, with
// lower-case names as in Node; repeated values are joined as Node joins
// them (cookies with "; ", others with ", ").
func forwardedHeaders(h http.Header, allow []string) map[string]string {
	m := make(map[string]string, len(allow))
	for _, name := range allow {
		v := h.Values(name)
		if len(v) == 0 {
			continue
		}
		sep := ", "
		if name == "Cookie" {
			sep = "; "
		}
		m[strings.ToLower(name)] = strings.Join(v, sep)
	}
	return m
}

// argsJSON turns event arguments into the contract's form: binary
// attachments as {"_binary":"<base64>"}. Arguments without attachments are
// passed on as the client sent them, without decoding.
func argsJSON(a socketio.Args) ([]json.RawMessage, error) {
	if len(a.Attachments) == 0 {
		if a.JSON == nil {
			return []json.RawMessage{}, nil
		}
		return a.JSON, nil
	}
	out := make([]json.RawMessage, len(a.JSON))
	for i, raw := range a.JSON {
		if !bytes.Contains(raw, []byte(`"_placeholder"`)) {
			out[i] = raw
			continue
		}
		v, err := decodeNumbers(raw)
		if err != nil {
			return nil, err
		}
		v, err = placeholdersToBinary(v, a.Attachments)
		if err != nil {
			return nil, err
		}
		if out[i], err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeNumbers decodes JSON keeping numbers as they were written.
func decodeNumbers(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func placeholdersToBinary(v any, att [][]byte) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if p, ok := x["_placeholder"].(bool); ok && p && len(x) == 2 {
			n, ok := x["num"].(json.Number)
			i, err := n.Int64()
			if !ok || err != nil || i < 0 || i >= int64(len(att)) {
				return nil, fmt.Errorf("attachment placeholder %v has no attachment", x["num"])
			}
			return map[string]string{"_binary": base64.StdEncoding.EncodeToString(att[i])}, nil
		}
		for k, e := range x {
			e2, err := placeholdersToBinary(e, att)
			if err != nil {
				return nil, err
			}
			x[k] = e2
		}
	case []any:
		for k, e := range x {
			e2, err := placeholdersToBinary(e, att)
			if err != nil {
				return nil, err
			}
			x[k] = e2
		}
	}
	return v, nil
}

// answerArgs turns the backend's arguments (of an ack or an emit) into
// values for socketio.NewArgs: {"_binary":"<base64>"} becomes []byte, a
// binary attachment; an argument without one is passed as it came.
func answerArgs(raws []json.RawMessage) ([]any, error) {
	out := make([]any, len(raws))
	for i, raw := range raws {
		if !bytes.Contains(raw, []byte(`"_binary"`)) {
			out[i] = raw
			continue
		}
		v, err := decodeNumbers(raw)
		if err != nil {
			return nil, err
		}
		if out[i], err = binaryToBytes(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func binaryToBytes(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if b, ok := x["_binary"]; ok && len(x) == 1 {
			s, ok := b.(string)
			if !ok {
				return nil, errors.New(`"_binary" must be a base64 string`)
			}
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf(`"_binary" is not standard base64: %v`, err)
			}
			return raw, nil
		}
		for k, e := range x {
			e2, err := binaryToBytes(e)
			if err != nil {
				return nil, err
			}
			x[k] = e2
		}
	case []any:
		for k, e := range x {
			e2, err := binaryToBytes(e)
			if err != nil {
				return nil, err
			}
			x[k] = e2
		}
	}
	return v, nil
}

// connectAnswer is the backend's answer to a connect hook.
type connectAnswer struct {
	Accept  *bool           `json:"accept"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
	Rooms   []string        `json:"rooms"`
	Meta    json.RawMessage `json:"meta"`
}

// decodeConnectAnswer parses and checks a connect answer.
func decodeConnectAnswer(b []byte) (*connectAnswer, error) {
	var a connectAnswer
	if err := strictObject(b, &a); err != nil {
		return nil, err
	}
	if a.Accept == nil {
		return nil, errors.New(`the answer has no "accept": true or false`)
	}
	if err := checkRooms("rooms", a.Rooms); err != nil {
		return nil, err
	}
	return &a, nil
}

// eventAnswer is the backend's answer to an event hook.
type eventAnswer struct {
	Ack        []json.RawMessage `json:"ack"`
	Emit       []emitAction      `json:"emit"`
	Join       []string          `json:"join"`
	Leave      []string          `json:"leave"`
	Data       json.RawMessage   `json:"data"`
	Meta       json.RawMessage   `json:"meta"`
	Disconnect bool              `json:"disconnect"`

	// ackArgs and the emits' args are decoded by decodeEventAnswer, so
	// that a bad answer fails before any of it is applied.
	ackArgs []any
}

type emitAction struct {
	Event  string            `json:"event"`
	Args   []json.RawMessage `json:"args"`
	To     []string          `json:"to"`
	Except []string          `json:"except"`

	args []any
}

// reservedEvents are the event names a Socket.IO server must not emit (the
// client library uses them itself).
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true,
	"newListener": true, "removeListener": true,
}

// decodeEventAnswer parses and checks an event answer, binary arguments
// included.
func decodeEventAnswer(b []byte) (*eventAnswer, error) {
	var a eventAnswer
	if err := strictObject(b, &a); err != nil {
		return nil, err
	}
	var err error
	if a.ackArgs, err = answerArgs(a.Ack); err != nil {
		return nil, fmt.Errorf("ack: %w", err)
	}
	for i := range a.Emit {
		e := &a.Emit[i]
		if e.Event == "" || reservedEvents[e.Event] {
			return nil, fmt.Errorf("emit[%d]: event name %q is empty or reserved", i, e.Event)
		}
		if e.args, err = answerArgs(e.Args); err != nil {
			return nil, fmt.Errorf("emit[%d].args: %w", i, err)
		}
		if err := checkRooms(fmt.Sprintf("emit[%d].to", i), e.To); err != nil {
			return nil, err
		}
		if err := checkRooms(fmt.Sprintf("emit[%d].except", i), e.Except); err != nil {
			return nil, err
		}
	}
	if err := checkRooms("join", a.Join); err != nil {
		return nil, err
	}
	if err := checkRooms("leave", a.Leave); err != nil {
		return nil, err
	}
	return &a, nil
}

// strictObject decodes a JSON object into v: anything else (an array, a
// string, null, trailing bytes) is an error.
func strictObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("the answer is not a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("the answer is not valid: %v", err)
	}
	return nil
}

func checkRooms(field string, rooms []string) error {
	for _, r := range rooms {
		if r == "" {
			return fmt.Errorf("%s: empty room name", field)
		}
	}
	return nil
}

// isNull tells whether a present JSON value is null.
func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
