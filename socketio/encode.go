package socketio

import (
	"strconv"

	"github.com/caddy-socketio/caddy-socketio/internal/jsonstr"
)

// appendPacket writes the text part of p as socket.io-parser's Encoder
// does: the type, "<attachments>-" for binary packets, the namespace and a
// comma unless it is "/", the ack id, then the JSON payload. The
// attachments, if any, follow as separate binary Engine.IO messages.
//
// Revision 4 and 5 differ only in what the server puts in CONNECT and
// CONNECT_ERROR, which the caller decides; the EVENT and ACK forms are the
// same, so one encoding serves every client of a broadcast.
func appendPacket(buf []byte, p *Packet) []byte {
	t := p.Type
	binary := len(p.Args.Attachments) > 0 && (t == PacketEvent || t == PacketAck)
	if binary {
		if t == PacketEvent {
			t = PacketBinaryEvent
		} else {
			t = PacketBinaryAck
		}
	}
	buf = append(buf, '0'+byte(t))
	if binary {
		buf = strconv.AppendInt(buf, int64(len(p.Args.Attachments)), 10)
		buf = append(buf, '-')
	}
	if p.Namespace != "" && p.Namespace != "/" {
		buf = append(buf, p.Namespace...)
		buf = append(buf, ',')
	}
	if p.HasID {
		buf = strconv.AppendUint(buf, p.ID, 10)
	}
	switch p.Type {
	case PacketEvent:
		buf = append(buf, '[')
		buf = jsonstr.Append(buf, p.EventName)
		for _, a := range p.Args.JSON {
			buf = append(buf, ',')
			buf = append(buf, a...)
		}
		buf = append(buf, ']')
	case PacketAck:
		buf = append(buf, '[')
		for i, a := range p.Args.JSON {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, a...)
		}
		buf = append(buf, ']')
	case PacketConnect, PacketConnectError:
		buf = append(buf, p.Data...)
	}
	return buf
}

// encodedLen estimates the size of the text part, to allocate once.
func encodedLen(p *Packet) int {
	n := 8 + len(p.Namespace) + len(p.EventName) + 24 + len(p.Data)
	for _, a := range p.Args.JSON {
		n += len(a) + 1
	}
	return n
}

// encodePacket returns the text part of p in a fresh buffer.
func encodePacket(p *Packet) []byte {
	return appendPacket(make([]byte, 0, encodedLen(p)), p)
}
