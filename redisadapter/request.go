package redisadapter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Request types on "<prefix>-request#<nsp>#", numbered as in
// @socket.io/redis-adapter.
const (
	typeSockets                   = 0
	typeAllRooms                  = 1
	typeRemoteJoin                = 2
	typeRemoteLeave               = 3
	typeRemoteDisconnect          = 4
	typeRemoteFetch               = 5
	typeServerSideEmit            = 6
	typeBroadcast                 = 7
	typeBroadcastClientCount      = 8
	typeBroadcastAck              = 9
	jsonObjectStart          byte = '{'
)

// request is a decoded request from another node or an emitter. Node
// publishes JSON for every type but broadcasts with acknowledgements, which
// are MessagePack (they may carry binary).
type request struct {
	UID       string
	RequestID string
	Type      int
	// Rooms: for type 0 the rooms to look into; for types 2 and 3 with
	// Opts, the rooms to join or leave.
	Rooms []string
	// Opts selects the sockets of types 2-5 and 7; nil for the legacy
	// single-socket form of types 2-4 (Sid, Room).
	Opts  *Options
	Sid   string
	Room  string
	Close bool
	// Data is [event, ...args] of a server-side emit, as JSON.
	Data []json.RawMessage
	// Packet is the packet of a broadcast with acknowledgements.
	Packet *Packet
	// HasRequestID tells a server-side emit that wants answers from one
	// that does not.
	HasRequestID bool
}

// decodeFields splits a request or response into its fields: JSON when it
// starts with "{", as Node's adapter decides, MessagePack otherwise. The
// MessagePack field "packet" goes to onPacket instead.
func decodeFields(b []byte, onPacket func(*toJSON) error) (map[string]json.RawMessage, error) {
	if len(b) == 0 {
		return nil, errEmptyMessage
	}
	if b[0] == jsonObjectStart {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, err
		}
		return fields, nil
	}
	t := newToJSON(b)
	fields, err := t.mapFields(map[string]func(*toJSON) error{"packet": onPacket})
	if err != nil {
		return nil, err
	}
	if t.r.Len() != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the message", t.r.Len())
	}
	return fields, nil
}

// requestID reads a requestId; uid2 makes strings, but a port may send a
// number.
func requestID(raw json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		return strconv.FormatFloat(f, 'f', -1, 64), true
	}
	return "", false
}

// decodeRequest reads a request of any type; fields a type does not use are
// ignored, and missing or mistyped ones are errors only where the type needs
// them.
func decodeRequest(b []byte) (*request, error) {
	r := &request{}
	fields, err := decodeFields(b, func(t *toJSON) error {
		p, err := t.packet()
		r.Packet = p
		return err
	})
	if err != nil {
		return nil, err
	}
	var typ float64
	if err := json.Unmarshal(fields["type"], &typ); err != nil || typ != float64(int(typ)) {
		return nil, fmt.Errorf("request type is %.20s; want a number", fields["type"])
	}
	r.Type = int(typ)
	_ = json.Unmarshal(fields["uid"], &r.UID)
	if raw, ok := fields["requestId"]; ok {
		r.RequestID, r.HasRequestID = requestID(raw)
	}
	if raw, ok := fields["opts"]; ok && string(raw) != "null" {
		opts, err := optionsFromJSON(raw)
		if err != nil {
			return nil, err
		}
		r.Opts = &opts
	}
	switch r.Type {
	case typeSockets, typeRemoteJoin, typeRemoteLeave:
		var rooms []json.RawMessage
		if raw, ok := fields["rooms"]; ok {
			if err := json.Unmarshal(raw, &rooms); err != nil {
				return nil, fmt.Errorf("rooms: %w", err)
			}
		}
		if r.Rooms, err = roomList(rooms); err != nil {
			return nil, fmt.Errorf("rooms: %w", err)
		}
		_ = json.Unmarshal(fields["sid"], &r.Sid)
		_ = json.Unmarshal(fields["room"], &r.Room)
	case typeRemoteDisconnect:
		_ = json.Unmarshal(fields["sid"], &r.Sid)
		_ = json.Unmarshal(fields["close"], &r.Close)
	case typeRemoteFetch:
		if r.Opts == nil {
			return nil, errors.New("fetch request without opts")
		}
	case typeServerSideEmit:
		if err := json.Unmarshal(fields["data"], &r.Data); err != nil || len(r.Data) == 0 {
			return nil, fmt.Errorf("server-side emit data is %.20s; want [event, ...args]", fields["data"])
		}
		var event string
		if err := json.Unmarshal(r.Data[0], &event); err != nil {
			return nil, fmt.Errorf("server-side emit event is %.20s; want a string", r.Data[0])
		}
	case typeBroadcast:
		if r.Opts == nil {
			return nil, errors.New("broadcast request without opts")
		}
		if r.Packet == nil {
			return nil, errors.New("broadcast request without packet")
		}
	}
	return r, nil
}

// response is a decoded answer from another node.
type response struct {
	RequestID string
	// Type is set only on answers to server-side emits and broadcasts with
	// acknowledgements (6, 8, 9), -1 on the others, which are matched by
	// RequestID.
	Type int
	// Sockets: ids for type 0, socket objects for type 5. HasSockets tells
	// an empty list from a missing one, which Node counts as an answer
	// without content.
	Sockets    []json.RawMessage
	HasSockets bool
	Rooms      []string
	HasRooms   bool
	// Data is the acknowledgement of a server-side emit.
	Data json.RawMessage
	// ClientCount is how many clients a broadcast with acknowledgements
	// reached on the answering node.
	ClientCount int
	// Ack is one client's acknowledgement of such a broadcast (type 9): a
	// single argument, binary allowed.
	Ack            json.RawMessage
	AckAttachments [][]byte
}

func decodeResponse(b []byte) (*response, error) {
	r := &response{Type: -1}
	fields, err := decodeFields(b, func(t *toJSON) error {
		args := t.sub()
		a, err := args.arg(1)
		r.Ack, r.AckAttachments = a, args.atts
		return err
	})
	if err != nil {
		return nil, err
	}
	var ok bool
	if r.RequestID, ok = requestID(fields["requestId"]); !ok || r.RequestID == "" {
		return nil, errors.New("response without requestId")
	}
	var typ float64
	if json.Unmarshal(fields["type"], &typ) == nil && typ == float64(int(typ)) {
		r.Type = int(typ)
	}
	if raw, ok := fields["sockets"]; ok {
		r.HasSockets = json.Unmarshal(raw, &r.Sockets) == nil
	}
	if raw, ok := fields["rooms"]; ok {
		var rooms []json.RawMessage
		if json.Unmarshal(raw, &rooms) == nil {
			r.HasRooms = true
			if r.Rooms, err = roomList(rooms); err != nil {
				return nil, fmt.Errorf("rooms: %w", err)
			}
		}
	}
	r.Data = fields["data"]
	if raw, ok := fields["clientCount"]; ok {
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil || n < 0 || n > 1<<31 {
			return nil, fmt.Errorf("clientCount is %.20s; want a count", raw)
		}
		r.ClientCount = int(n)
	}
	if raw, ok := fields["packet"]; ok && r.Ack == nil { // JSON from a port
		r.Ack = raw
	}
	return r, nil
}

// The JSON messages this node publishes. Field order follows Node's adapter,
// so that the bytes are the ones a Node node would write.

type jsonFilter struct {
	Rooms  []string `json:"rooms"`
	Except []string `json:"except"`
}

func filterOf(o *Options) jsonFilter {
	f := jsonFilter{Rooms: o.Rooms, Except: o.Except}
	if f.Rooms == nil {
		f.Rooms = []string{}
	}
	if f.Except == nil {
		f.Except = []string{}
	}
	return f
}

type allRoomsRequest struct {
	UID       string `json:"uid"`
	RequestID string `json:"requestId"`
	Type      int    `json:"type"`
}

type fetchRequest struct {
	UID       string     `json:"uid"`
	RequestID string     `json:"requestId"`
	Type      int        `json:"type"`
	Opts      jsonFilter `json:"opts"`
}

type roomsRequest struct { // socketsJoin, socketsLeave
	UID   string     `json:"uid"`
	Type  int        `json:"type"`
	Opts  jsonFilter `json:"opts"`
	Rooms []string   `json:"rooms"`
}

type disconnectRequest struct {
	UID   string     `json:"uid"`
	Type  int        `json:"type"`
	Opts  jsonFilter `json:"opts"`
	Close bool       `json:"close"`
}

type serverSideEmitRequest struct {
	UID       string          `json:"uid"`
	RequestID string          `json:"requestId,omitempty"`
	Type      int             `json:"type"`
	Data      json.RawMessage `json:"data"`
}

type socketsResponse struct {
	RequestID string   `json:"requestId"`
	Sockets   []string `json:"sockets"`
}

type roomsResponse struct {
	RequestID string   `json:"requestId"`
	Rooms     []string `json:"rooms"`
}

type emptyResponse struct {
	RequestID string `json:"requestId"`
}

type fetchResponse struct {
	RequestID string         `json:"requestId"`
	Sockets   []RemoteSocket `json:"sockets"`
}

type serverSideEmitResponse struct {
	Type      int             `json:"type"`
	RequestID string          `json:"requestId"`
	Data      json.RawMessage `json:"data"`
}

type clientCountResponse struct {
	Type        int    `json:"type"`
	RequestID   string `json:"requestId"`
	ClientCount int    `json:"clientCount"`
}

// RemoteSocket is a socket as another node describes it in an answer to
// fetchSockets: {id, handshake, rooms, data}.
type RemoteSocket struct {
	ID        string          `json:"id"`
	Handshake json.RawMessage `json:"handshake"`
	Rooms     []string        `json:"rooms"`
	// Data is socket.data, null when unset (Node leaves it out then).
	Data json.RawMessage `json:"data,omitempty"`
}

// encodeBroadcastRequest writes the MessagePack request of a broadcast with
// acknowledgements: {uid, requestId, type: 7, packet, opts}.
func encodeBroadcastRequest(uid, requestID string, p *Packet, o *Options) ([]byte, error) {
	e := newToMsgpack(p.Attachments)
	if err := e.enc.EncodeMapLen(5); err != nil {
		return nil, err
	}
	for _, kv := range []struct {
		k, v string
	}{{"uid", uid}, {"requestId", requestID}} {
		if err := e.enc.EncodeString(kv.k); err != nil {
			return nil, err
		}
		if err := e.enc.EncodeString(kv.v); err != nil {
			return nil, err
		}
	}
	if err := e.enc.EncodeString("type"); err != nil {
		return nil, err
	}
	if err := e.enc.EncodeInt(typeBroadcast); err != nil {
		return nil, err
	}
	if err := e.enc.EncodeString("packet"); err != nil {
		return nil, err
	}
	if err := e.packet(p); err != nil {
		return nil, err
	}
	if err := e.enc.EncodeString("opts"); err != nil {
		return nil, err
	}
	if err := e.options(o); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// encodeBroadcastAck writes one client's acknowledgement of a broadcast:
// {type: 9, requestId, packet: arg}, MessagePack since arg may be binary.
func encodeBroadcastAck(requestID string, arg json.RawMessage, atts [][]byte) ([]byte, error) {
	e := newToMsgpack(atts)
	// An acknowledgement without arguments is undefined in Node, and
	// notepack leaves the key out.
	n := 3
	if arg == nil {
		n = 2
	}
	if err := e.enc.EncodeMapLen(n); err != nil {
		return nil, err
	}
	if err := e.enc.EncodeString("type"); err != nil {
		return nil, err
	}
	if err := e.enc.EncodeInt(typeBroadcastAck); err != nil {
		return nil, err
	}
	if err := e.enc.EncodeString("requestId"); err != nil {
		return nil, err
	}
	if err := e.enc.EncodeString(requestID); err != nil {
		return nil, err
	}
	if arg == nil {
		return e.buf.Bytes(), nil
	}
	if err := e.enc.EncodeString("packet"); err != nil {
		return nil, err
	}
	if err := e.json(arg); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}
