package engine

import (
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// PreparedMessage is a message encoded once for many receivers (a
// broadcast): each wire form (protocol 3 or 4, polling or WebSocket) is
// computed the first time a receiver needs it and then shared.
type PreparedMessage struct {
	msg Message
	// refs counts the sessions holding the message, so that the
	// server's buffered bytes count it once (buffered.go).
	refs atomic.Int32

	textOnce sync.Once
	text     []byte // protocol 4 text packet, for polling payloads

	wsOnce [2]sync.Once
	ws     [2]*websocket.PreparedMessage // [0] protocol 3, [1] protocol 4
}

// NewPreparedMessage prepares m; m.Data must not change afterwards.
func NewPreparedMessage(m Message) *PreparedMessage {
	return &PreparedMessage{msg: m}
}

// packet is the queue entry of pm for one receiver.
func (pm *PreparedMessage) packet() packet {
	p := messagePacket(pm.msg)
	p.prepared = pm
	return p
}

func (pm *PreparedMessage) textV4() []byte {
	pm.textOnce.Do(func() { pm.text = appendPacketV4(nil, messagePacket(pm.msg)) })
	return pm.text
}

// websocketFrame returns the prepared WebSocket message for a protocol, or
// nil if it cannot be built (then the caller encodes it itself).
func (pm *PreparedMessage) websocketFrame(protocol int) *websocket.PreparedMessage {
	i := 0
	if protocol == 4 {
		i = 1
	}
	pm.wsOnce[i].Do(func() {
		kind, data := websocketData(protocol, messagePacket(pm.msg), false)
		pm.ws[i], _ = websocket.NewPreparedMessage(kind, data)
	})
	return pm.ws[i]
}

// websocketData is the frame type and payload of p on a WebSocket. b64 is
// the client's request to receive binary data as base64 text.
func websocketData(protocol int, p packet, b64 bool) (int, []byte) {
	if !p.binary {
		buf := make([]byte, 0, 1+len(p.data))
		buf = append(buf, p.typ)
		return websocket.TextMessage, append(buf, p.data...)
	}
	if b64 {
		if protocol == 3 {
			return websocket.TextMessage, appendPacketV3(nil, p)
		}
		return websocket.TextMessage, appendPacketV4(nil, p)
	}
	if protocol == 3 {
		buf := make([]byte, 0, 1+len(p.data))
		buf = append(buf, p.typ-'0')
		return websocket.BinaryMessage, append(buf, p.data...)
	}
	return websocket.BinaryMessage, p.data
}
