package redisadapter

import (
	"encoding/json"

	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// The codec pieces below are shared with the Redis Streams adapter
// (package redisstreams), whose messages carry the same values in
// MessagePack and the same socket descriptions.

// MsgpackToJSON converts one MessagePack value into JSON in which each
// binary value is a {"_placeholder":true,"num":N} object standing for
// attachments[N], the form socketio.Args keeps. Every length is checked
// against the bytes that remain, so a forged header cannot make it
// allocate more than the input.
func MsgpackToJSON(b []byte) (js json.RawMessage, attachments [][]byte, err error) {
	return msgpackToJSON(b)
}

// JSONToMsgpack converts JSON, with placeholders for attachments, into the
// MessagePack a JavaScript encoder writes for the value it stands for
// (integral numbers as integers, binary as bin).
func JSONToMsgpack(js []byte, attachments [][]byte) ([]byte, error) {
	e := newToMsgpack(attachments)
	if err := e.json(js); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// DescribeSocket is a local socket as a Node server describes it in an
// answer to fetchSockets.
func DescribeSocket(s socketio.RemoteSocket) RemoteSocket { return describeSocket(s) }

// Socket is the socket another server described, for FetchSockets.
func (s RemoteSocket) Socket() socketio.RemoteSocket {
	return socketio.RemoteSocket{ID: s.ID, Handshake: handshakeFromNode(s.Handshake), Rooms: s.Rooms, Data: s.Data}
}

// NewServerSideEvent is an event from another server for the
// OnServerSideEmit handlers of another cluster adapter; reply, nil when
// the sender wants no acknowledgement, sends Ack's answer.
func NewServerSideEvent(name string, args socketio.Args, reply func(json.RawMessage)) *ServerSideEvent {
	return &ServerSideEvent{Name: name, Args: args, reply: reply}
}
