package redisstreams

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// The message types of socket.io-adapter's ClusterAdapter, which
// @socket.io/redis-streams-adapter 0.3.1 extends (it sends no heartbeats:
// it counts servers with PUBSUB NUMSUB).
const (
	typeBroadcast            = 3
	typeSocketsJoin          = 4
	typeSocketsLeave         = 5
	typeDisconnectSockets    = 6
	typeFetchSockets         = 7
	typeFetchSocketsResponse = 8
	typeServerSideEmit       = 9
	typeServerSideEmitResp   = 10
	typeBroadcastClientCount = 11
	typeBroadcastAck         = 12
)

// packetEvent is socket.io-parser's EVENT, the only packet type a
// broadcast carries (binary ones too: the encoder picks BINARY_EVENT).
const packetEvent = 2

// maxMessageSize bounds what is decoded from a stream entry or a pub/sub
// message, as in the classic adapter.
const maxMessageSize = 16 << 20

// message is one cluster message, {uid, nsp, type, data}, with data as
// JSON in which binary values are placeholders for attachments.
type message struct {
	UID         string
	Nsp         string
	Type        int
	Data        json.RawMessage
	Attachments [][]byte
}

// data is the union of the data objects of every message type; which
// fields are set depends on the type.
type data struct {
	Packet      json.RawMessage   `json:"packet,omitempty"`
	RequestID   *string           `json:"requestId,omitempty"`
	Opts        *wireOptions      `json:"opts,omitempty"`
	Rooms       []string          `json:"rooms,omitempty"`
	Close       bool              `json:"close,omitempty"`
	Sockets     []json.RawMessage `json:"sockets,omitempty"`
	ClientCount int               `json:"clientCount,omitempty"`
}

// wirePacket is a Socket.IO packet as socket.io-parser holds it:
// {type, data: [event, ...args], nsp[, id]}.
type wirePacket struct {
	Type int               `json:"type"`
	Data []json.RawMessage `json:"data"`
	Nsp  string            `json:"nsp"`
	ID   *uint64           `json:"id,omitempty"`
}

// wireOptions are a broadcast's options as ClusterAdapter encodes them.
// Node tells a volatile broadcast by the presence of flags.volatile, so
// unset flags are left out.
type wireOptions struct {
	Rooms  []string  `json:"rooms"`
	Except []string  `json:"except"`
	Flags  wireFlags `json:"flags"`
}

type wireFlags struct {
	Volatile bool  `json:"volatile,omitempty"`
	Compress *bool `json:"compress,omitempty"`
	Local    bool  `json:"local,omitempty"`
	Timeout  int64 `json:"timeout,omitempty"`
}

func optionsOf(o *socketio.BroadcastOptions) *wireOptions {
	return &wireOptions{
		Rooms:  nonNil(o.Rooms),
		Except: nonNil(o.Except),
		Flags:  wireFlags{Volatile: o.Flags.Volatile, Timeout: o.Flags.Timeout.Milliseconds()},
	}
}

func (w *wireOptions) local() *socketio.BroadcastOptions {
	o := &socketio.BroadcastOptions{Flags: socketio.BroadcastFlags{Local: true}}
	if w != nil {
		o.Rooms, o.Except, o.Flags.Volatile = w.Rooms, w.Except, w.Flags.Volatile
	}
	return o
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// packetOf is the wire form of an event packet.
func packetOf(nsp string, p *socketio.Packet) (json.RawMessage, error) {
	name, err := json.Marshal(p.EventName)
	if err != nil {
		return nil, err
	}
	wp := wirePacket{Type: packetEvent, Data: append([]json.RawMessage{name}, p.Args.JSON...), Nsp: nsp}
	if p.HasID {
		id := p.ID
		wp.ID = &id
	}
	return json.Marshal(wp)
}

// eventOf reads a broadcast's packet back: an EVENT whose first element is
// the event name.
func eventOf(raw json.RawMessage, atts [][]byte) (*socketio.Packet, error) {
	var wp wirePacket
	if err := json.Unmarshal(raw, &wp); err != nil {
		return nil, fmt.Errorf("packet: %w", err)
	}
	if wp.Type != packetEvent {
		return nil, fmt.Errorf("packet of type %d, want %d (EVENT)", wp.Type, packetEvent)
	}
	name, args, err := eventArray(wp.Data)
	if err != nil {
		return nil, err
	}
	return &socketio.Packet{Type: socketio.PacketEvent, EventName: name, Args: socketio.Args{JSON: args, Attachments: atts}}, nil
}

// eventArray splits [event, ...args].
func eventArray(a []json.RawMessage) (string, []json.RawMessage, error) {
	var name string
	if len(a) == 0 || json.Unmarshal(a[0], &name) != nil {
		return "", nil, errors.New("packet data does not start with an event name")
	}
	return name, a[1:], nil
}

// mayHoldBinary are the types whose data Node encodes in MessagePack when
// it holds binary.
func mayHoldBinary(typ int) bool {
	switch typ {
	case typeBroadcast, typeFetchSocketsResponse, typeServerSideEmit, typeServerSideEmitResp, typeBroadcastAck:
		return true
	}
	return false
}

// entryValues are the fields of a stream entry, in Node's order: uid, nsp,
// type as a decimal string, and data as JSON, or base64 MessagePack when it
// holds binary.
func entryValues(m *message) ([]string, error) {
	v := []string{"uid", m.UID, "nsp", m.Nsp, "type", strconv.Itoa(m.Type)}
	if m.Data == nil {
		return v, nil
	}
	if len(m.Attachments) == 0 || !mayHoldBinary(m.Type) {
		return append(v, "data", string(m.Data)), nil
	}
	b, err := redisadapter.JSONToMsgpack(m.Data, m.Attachments)
	if err != nil {
		return nil, err
	}
	return append(v, "data", base64.StdEncoding.EncodeToString(b)), nil
}

// decodeEntry reads a stream entry's fields back, as Node's
// RedisStreamsAdapter.decode does: data starting with "{" is JSON,
// anything else base64 MessagePack.
func decodeEntry(values map[string]any) (*message, error) {
	str := func(k string) (string, bool) {
		s, ok := values[k].(string)
		return s, ok
	}
	m := &message{}
	var ok bool
	if m.Nsp, ok = str("nsp"); !ok || m.Nsp == "" {
		return nil, errors.New("entry without nsp")
	}
	m.UID, _ = str("uid")
	typ, _ := str("type")
	n, err := strconv.Atoi(typ)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("entry type %q is not a number", typ)
	}
	m.Type = n
	raw, _ := str("data")
	if raw == "" {
		return m, nil
	}
	if len(raw) > maxMessageSize {
		return nil, fmt.Errorf("entry data of %d bytes, more than %d", len(raw), maxMessageSize)
	}
	if raw[0] == '{' {
		if !json.Valid([]byte(raw)) {
			return nil, errors.New("entry data is not valid JSON")
		}
		m.Data = json.RawMessage(raw)
		return m, nil
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("entry data is neither JSON nor base64: %w", err)
	}
	if m.Data, m.Attachments, err = redisadapter.MsgpackToJSON(b); err != nil {
		return nil, fmt.Errorf("entry data: %w", err)
	}
	return m, nil
}

// envelope is a pub/sub message as JSON, before MessagePack.
type envelope struct {
	Type int             `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
	UID  string          `json:"uid"`
	Nsp  string          `json:"nsp"`
}

// encodePubSub writes a message as Node publishes it: the whole object in
// MessagePack.
func encodePubSub(m *message) ([]byte, error) {
	js, err := json.Marshal(envelope{Type: m.Type, Data: m.Data, UID: m.UID, Nsp: m.Nsp})
	if err != nil {
		return nil, err
	}
	return redisadapter.JSONToMsgpack(js, m.Attachments)
}

// decodePubSub reads a published message.
func decodePubSub(b []byte) (*message, error) {
	if len(b) > maxMessageSize {
		return nil, fmt.Errorf("message of %d bytes, more than %d", len(b), maxMessageSize)
	}
	js, atts, err := redisadapter.MsgpackToJSON(b)
	if err != nil {
		return nil, err
	}
	var e envelope
	d := json.NewDecoder(bytes.NewReader(js))
	if err := d.Decode(&e); err != nil {
		return nil, fmt.Errorf("message: %w", err)
	}
	return &message{UID: e.UID, Nsp: e.Nsp, Type: e.Type, Data: e.Data, Attachments: atts}, nil
}

// streamID is a stream entry id, <milliseconds>-<sequence>.
type streamID struct{ ms, seq uint64 }

// maxIDLen bounds an id a client sends back: two 20-digit numbers.
const maxIDLen = 41

// parseID reads an entry id in the form Redis writes it: two decimal
// numbers without sign or leading zero.
func parseID(s string) (streamID, bool) {
	if len(s) == 0 || len(s) > maxIDLen {
		return streamID{}, false
	}
	i := bytes.IndexByte([]byte(s), '-')
	if i < 0 {
		return streamID{}, false
	}
	ms, ok1 := decimal(s[:i])
	seq, ok2 := decimal(s[i+1:])
	return streamID{ms, seq}, ok1 && ok2
}

func decimal(s string) (uint64, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || (id.ms == o.ms && id.seq < o.seq)
}

// next is the smallest id after id, for an exclusive XRANGE start that
// Redis before 6.2 lacks (Node computes it the same way).
func (id streamID) next() streamID {
	if id.seq == ^uint64(0) {
		return streamID{id.ms + 1, 0}
	}
	return streamID{id.ms, id.seq + 1}
}
