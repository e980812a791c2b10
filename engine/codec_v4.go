package engine

import (
	"bytes"
	"encoding/base64"
	"fmt"
)

// Protocol 4 framing (engine.io-parser 5.x):
//   - a text packet is its type digit followed by its data: "4hello";
//   - binary data in a text context (polling payloads, or a WebSocket when the
//     client asked for b64) is "b" followed by standard base64, with no type:
//     only messages carry binary data;
//   - a WebSocket binary frame carries the raw data, with no type byte;
//   - a polling payload joins the text packets with the record separator 0x1e.

const recordSeparator = 0x1e

// appendPacketV4 appends the text encoding of p.
func appendPacketV4(dst []byte, p packet) []byte {
	if p.binary {
		dst = append(dst, 'b')
		return appendBase64(dst, p.data)
	}
	dst = append(dst, p.typ)
	return append(dst, p.data...)
}

func packetV4Len(p packet) int {
	if p.binary {
		return 1 + base64.StdEncoding.EncodedLen(len(p.data))
	}
	return 1 + len(p.data)
}

// encodePayloadV4 encodes packets as one polling response body.
func encodePayloadV4(pkts []packet) []byte {
	n := len(pkts) - 1
	for _, p := range pkts {
		if p.prepared != nil {
			n += len(p.prepared.textV4())
		} else {
			n += packetV4Len(p)
		}
	}
	out := make([]byte, 0, max(n, 0))
	for i, p := range pkts {
		if i > 0 {
			out = append(out, recordSeparator)
		}
		if p.prepared != nil {
			out = append(out, p.prepared.textV4()...)
		} else {
			out = appendPacketV4(out, p)
		}
	}
	return out
}

// decodePacketV4 decodes one text-encoded packet. The returned data aliases b.
func decodePacketV4(b []byte) (packet, error) {
	if len(b) == 0 {
		return packet{}, fmt.Errorf("engine: empty packet")
	}
	if b[0] == 'b' {
		data, err := decodeBase64(b[1:])
		if err != nil {
			return packet{}, err
		}
		return packet{typ: packetMessage, binary: true, data: data}, nil
	}
	if !isPacketType(b[0]) {
		return packet{}, fmt.Errorf("engine: unknown packet type %q", b[0])
	}
	return packet{typ: b[0], data: b[1:]}, nil
}

// decodePayloadV4 decodes a polling request body. Like Node, it returns the
// packets that precede a malformed one along with the error, so they are
// still delivered before the session closes; a body that is not UTF-8
// yields no packet.
func decodePayloadV4(body []byte) ([]packet, error) {
	if err := validText(body); err != nil {
		return nil, err // nothing of it is delivered
	}
	pkts := make([]packet, 0, 1+bytes.Count(body, []byte{recordSeparator}))
	for {
		i := bytes.IndexByte(body, recordSeparator)
		part := body
		if i >= 0 {
			part = body[:i]
		}
		p, err := decodePacketV4(part)
		if err != nil {
			return pkts, err
		}
		pkts = append(pkts, p)
		if i < 0 {
			return pkts, nil
		}
		body = body[i+1:]
	}
}
