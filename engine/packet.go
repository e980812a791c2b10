package engine

import (
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Packet types as they appear on the wire: the ASCII digit in text
// encodings, and the same digit's numeric value (0..6) as the type byte of
// protocol 3 binary packets.
const (
	packetOpen    byte = '0'
	packetClose   byte = '1'
	packetPing    byte = '2'
	packetPong    byte = '3'
	packetMessage byte = '4'
	packetUpgrade byte = '5'
	packetNoop    byte = '6'
)

// Message is what the application sends and receives: text or binary data.
// Text received from a client is valid UTF-8 (anything else closes that
// client); text sent must be valid UTF-8, which is the caller's business,
// as with Node.
type Message struct {
	Data   []byte
	Binary bool
}

// packet is one Engine.IO packet inside a session's queue or a decoded
// payload. Data is shared, never copied: senders promise not to change it.
type packet struct {
	typ      byte // packetOpen..packetNoop
	binary   bool // data is binary (only for message packets)
	data     []byte
	prepared *PreparedMessage // set for broadcasts; its encodings are cached
}

func messagePacket(m Message) packet {
	return packet{typ: packetMessage, binary: m.Binary, data: m.Data}
}

// errInvalidUTF8 refuses text input that is not UTF-8. Node's ws closes
// such a WebSocket with 1007; relayed as is, it would make every client
// that receives it drop its own connection ("transport error").
var errInvalidUTF8 = errors.New("engine: text is not valid UTF-8")

// validText checks text input once, whole, before it is split into packets.
func validText(b []byte) error {
	if !utf8.Valid(b) {
		return errInvalidUTF8
	}
	return nil
}

func isPacketType(c byte) bool { return c >= packetOpen && c <= packetNoop }

// decodeBase64 accepts padded and unpadded standard base64, as Node's
// Buffer.from(s, "base64") does.
func decodeBase64(s []byte) ([]byte, error) {
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(s))+2) // room for either form
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		n, err = base64.RawStdEncoding.Decode(out, s)
		if err != nil {
			return nil, fmt.Errorf("engine: binary packet is not valid base64: %w", err)
		}
	}
	return out[:n], nil
}

func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	dst = grow(dst, n)
	base64.StdEncoding.Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

// grow makes room for n more bytes without changing len(dst).
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n+len(dst)/4)
	copy(out, dst)
	return out
}
