package redisstreams

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caddy-socketio/caddy-socketio/redisadapter"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

// maxSessionSize bounds a session value read from Redis before it is
// decoded.
const maxSessionSize = 1 << 20

// session is a socket's session as Node's adapter stores it under
// <session_key_prefix><pid>: base64 of the MessagePack of {sid, pid, rooms,
// data}. The fields after data are ours; Node ignores them when it
// restores one of our sessions.
type session struct {
	Sid   string          `json:"sid"`
	Pid   string          `json:"pid"`
	Rooms []string        `json:"rooms"`
	Data  json.RawMessage `json:"data"`
	// Meta is Socket.Meta, never sent to a client.
	Meta json.RawMessage `json:"meta,omitempty"`
	// Since is where the stream stood when the socket first connected.
	Since string `json:"since,omitempty"`
	// Node is the uid of the server the socket is connected to, set while
	// it is (Connected): the session of a connected socket is not given
	// to anyone while that server lives.
	Node      string `json:"node,omitempty"`
	Connected bool   `json:"connected,omitempty"`
}

// encodeSession writes a session in Node's format. Node's sockets have
// data {} unless set, and Node's code expects an object there.
func encodeSession(s *session) (string, error) {
	if len(s.Data) == 0 {
		s.Data = json.RawMessage("{}")
	}
	s.Rooms = nonNil(s.Rooms)
	js, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	b, err := redisadapter.JSONToMsgpack(js, nil)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// decodeSession reads a session written by a Node server or ours. Binary
// inside data (a Buffer in Node's socket.data) is dropped: its
// placeholders point nowhere.
func decodeSession(raw string) (*session, error) {
	if len(raw) > maxSessionSize {
		return nil, fmt.Errorf("session of %d bytes, more than %d", len(raw), maxSessionSize)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("session is not base64: %w", err)
	}
	js, _, err := redisadapter.MsgpackToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	var s session
	if err := json.Unmarshal(js, &s); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if s.Sid == "" || s.Pid == "" {
		return nil, errors.New("session without sid or pid")
	}
	if string(s.Data) == "null" {
		s.Data = nil
	}
	return &s, nil
}

// sessionOf is the stored form of a socket's state.
func sessionOf(st *socketio.StoredSession) *session {
	return &session{Sid: st.ID, Pid: st.PID, Rooms: st.Rooms, Data: st.Data, Meta: st.Meta, Since: st.Since}
}

// includes tells whether a socket in rooms was a receiver of a broadcast
// with opts, as Node's shouldIncludePacket.
func includes(rooms []string, opts *wireOptions) bool {
	if opts == nil {
		return true
	}
	in := func(list []string, r string) bool {
		for _, x := range list {
			if x == r {
				return true
			}
		}
		return false
	}
	included := len(opts.Rooms) == 0
	for _, r := range rooms {
		if in(opts.Except, r) {
			return false
		}
		if !included && in(opts.Rooms, r) {
			included = true
		}
	}
	return included
}
