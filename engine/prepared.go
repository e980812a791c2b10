package engine

import (
	"sync"
	"sync/atomic"
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

	// The WebSocket frames, header and payload, by protocol ([0] 3, [1]
	// 4) and compression ([1]: per-message deflate): the same bytes go to
	// every receiver.
	wsOnce [2][2]sync.Once
	ws     [2][2][]byte
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

// websocketFrame returns the WebSocket frame of the message for a
// protocol, compressed or not.
func (pm *PreparedMessage) websocketFrame(protocol int, compressed bool) []byte {
	i, j := 0, 0
	if protocol == 4 {
		i = 1
	}
	if compressed {
		j = 1
	}
	pm.wsOnce[i][j].Do(func() {
		kind, data := websocketData(protocol, messagePacket(pm.msg), false)
		if compressed {
			data = deflatePayload(nil, nil, data)
		}
		frame := appendFrameHeader(make([]byte, 0, maxFrameHeader+len(data)), byte(kind), compressed, len(data))
		pm.ws[i][j] = append(frame, data...)
	})
	return pm.ws[i][j]
}

// websocketData is the frame type and payload of p on a WebSocket. b64 is
// the client's request to receive binary data as base64 text.
func websocketData(protocol int, p packet, b64 bool) (int, []byte) {
	if !p.binary {
		buf := make([]byte, 0, 1+len(p.data))
		buf = append(buf, p.typ)
		return wsText, append(buf, p.data...)
	}
	if b64 {
		if protocol == 3 {
			return wsText, appendPacketV3(nil, p)
		}
		return wsText, appendPacketV4(nil, p)
	}
	if protocol == 3 {
		buf := make([]byte, 0, 1+len(p.data))
		buf = append(buf, p.typ-'0')
		return wsBinary, append(buf, p.data...)
	}
	return wsBinary, p.data
}
