package engine

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Protocol 3 framing (engine.io-parser 2.x, still served by Node's engine.io
// when allowEIO3 is on):
//   - a text packet is its type digit and data, as in protocol 4;
//   - binary data in a text context is "b", the type digit, then base64:
//     "b4AQID";
//   - a WebSocket binary frame is the type byte (4) followed by the data;
//   - a text polling payload prefixes each packet with its length and ":",
//     the length counted in UTF-16 code units because that is what
//     JavaScript's String.length counts: "6:4hello2:4é";
//   - when the client supports binary and a payload holds binary data, the
//     whole payload is binary: per packet, 0 (text) or 1 (binary), the
//     decimal digits of the length as bytes 0..9, 255, then the packet (text
//     packets as UTF-8, binary ones as type byte and data).

// maxLengthDigits bounds the length field of a protocol 3 payload; 10 digits
// already exceed any body this server accepts.
const maxLengthDigits = 10

func appendPacketV3(dst []byte, p packet) []byte {
	if p.binary {
		dst = append(dst, 'b', p.typ)
		return appendBase64(dst, p.data)
	}
	dst = append(dst, p.typ)
	return append(dst, p.data...)
}

// utf16Len is the length JavaScript would report for the UTF-8 text b.
func utf16Len(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// encodePayloadV3Text encodes packets as a length-prefixed text payload,
// binary data as base64.
func encodePayloadV3Text(pkts []packet) []byte {
	var out []byte
	var scratch []byte
	for _, p := range pkts {
		scratch = appendPacketV3(scratch[:0], p)
		out = strconv.AppendInt(out, int64(utf16Len(scratch)), 10)
		out = append(out, ':')
		out = append(out, scratch...)
	}
	return out
}

func hasBinary(pkts []packet) bool {
	for _, p := range pkts {
		if p.binary {
			return true
		}
	}
	return false
}

// encodePayloadV3Binary encodes packets as a binary payload.
func encodePayloadV3Binary(pkts []packet) []byte {
	var out []byte
	for _, p := range pkts {
		n := 1 + len(p.data)
		if p.binary {
			out = append(out, 1)
		} else {
			out = append(out, 0)
		}
		for _, d := range strconv.Itoa(n) {
			out = append(out, byte(d-'0'))
		}
		out = append(out, 255)
		if p.binary {
			out = append(out, p.typ-'0')
		} else {
			out = append(out, p.typ)
		}
		out = append(out, p.data...)
	}
	return out
}

// decodePacketV3Text decodes one text packet; data aliases b.
func decodePacketV3Text(b []byte) (packet, error) {
	if len(b) == 0 {
		return packet{}, fmt.Errorf("engine: empty packet")
	}
	if b[0] == 'b' {
		if len(b) < 2 || !isPacketType(b[1]) {
			return packet{}, fmt.Errorf("engine: base64 packet %.8q has no valid type", b)
		}
		data, err := decodeBase64(b[2:])
		if err != nil {
			return packet{}, err
		}
		return packet{typ: b[1], binary: true, data: data}, nil
	}
	if !isPacketType(b[0]) {
		return packet{}, fmt.Errorf("engine: unknown packet type %q", b[0])
	}
	return packet{typ: b[0], data: b[1:]}, nil
}

// decodePacketV3Binary decodes a binary packet (a WebSocket binary frame or
// a binary payload part): the type byte, then the data.
func decodePacketV3Binary(b []byte) (packet, error) {
	if len(b) == 0 || b[0] > 6 {
		return packet{}, fmt.Errorf("engine: binary packet has no valid type byte")
	}
	return packet{typ: '0' + b[0], binary: true, data: b[1:]}, nil
}

// decodePayloadV3Text decodes a length-prefixed text payload. As in Node, an
// error drops the rest of the payload but the packets before it count; a
// body that is not UTF-8 yields no packet.
func decodePayloadV3Text(body []byte) ([]packet, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("engine: empty payload")
	}
	if err := validText(body); err != nil {
		return nil, err
	}
	var pkts []packet
	for len(body) > 0 {
		colon := -1
		for i := 0; i < len(body) && i <= maxLengthDigits; i++ {
			if body[i] == ':' {
				colon = i
				break
			}
		}
		if colon <= 0 {
			return pkts, fmt.Errorf("engine: payload length prefix %.12q is not digits followed by ':'", body)
		}
		n, err := strconv.Atoi(string(body[:colon]))
		if err != nil || n < 0 {
			return pkts, fmt.Errorf("engine: payload length %q is not a number", body[:colon])
		}
		body = body[colon+1:]
		// Walk n UTF-16 code units forward.
		end, units := 0, 0
		for units < n && end < len(body) {
			r, size := utf8.DecodeRune(body[end:])
			if r >= 0x10000 {
				units += 2
			} else {
				units++
			}
			end += size
		}
		if units != n {
			return pkts, fmt.Errorf("engine: payload packet is shorter than its length %d", n)
		}
		if n > 0 {
			p, err := decodePacketV3Text(body[:end])
			if err != nil {
				return pkts, err
			}
			pkts = append(pkts, p)
		}
		body = body[end:]
	}
	return pkts, nil
}

// decodePayloadV3Binary decodes a binary payload (a POST with Content-Type
// application/octet-stream). A text part that is not UTF-8 drops the whole
// payload.
func decodePayloadV3Binary(body []byte) ([]packet, error) {
	var pkts []packet
	for len(body) > 0 {
		isText := body[0] == 0
		n, i := 0, 1
		for ; i < len(body) && body[i] != 255; i++ {
			if body[i] > 9 || i > maxLengthDigits {
				return pkts, fmt.Errorf("engine: binary payload length is malformed")
			}
			n = n*10 + int(body[i])
		}
		if i == len(body) || i == 1 {
			return pkts, fmt.Errorf("engine: binary payload length is malformed")
		}
		body = body[i+1:]
		if n > len(body) {
			return pkts, fmt.Errorf("engine: binary payload packet is shorter than its length %d", n)
		}
		part := body[:n]
		body = body[n:]
		var p packet
		var err error
		if isText {
			if err := validText(part); err != nil {
				return nil, err
			}
			p, err = decodePacketV3Text(part)
		} else {
			p, err = decodePacketV3Binary(part)
		}
		if err != nil {
			return pkts, err
		}
		pkts = append(pkts, p)
	}
	return pkts, nil
}
