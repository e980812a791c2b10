package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Engine.IO packet types: the first character of every packet, in both
// protocol 3 and protocol 4.
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
	eioNoop    = '6'
)

// eio4Separator joins the packets of a protocol 4 polling payload.
const eio4Separator = 0x1e

// openPacket is the JSON body of the handshake's open packet.
type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func (o openPacket) pingInterval() time.Duration {
	return time.Duration(o.PingInterval) * time.Millisecond
}

// parseOpen decodes an open packet ("0{...}").
func parseOpen(p []byte) (openPacket, error) {
	var o openPacket
	if len(p) == 0 || p[0] != eioOpen {
		return o, fmt.Errorf("expected an Engine.IO open packet (0{...}), got %q", clip(p))
	}
	if err := json.Unmarshal(p[1:], &o); err != nil {
		return o, fmt.Errorf("open packet %q: %v", clip(p), err)
	}
	if o.SID == "" || o.PingInterval <= 0 {
		return o, fmt.Errorf("open packet %q lacks sid or pingInterval", clip(p))
	}
	return o, nil
}

// appendPayload appends packets as one polling request body: protocol 4
// joins them with the record separator 0x1e; protocol 3 prefixes each with
// its length in UTF-16 code units and a colon ("2:40").
func appendPayload(dst []byte, proto int, packets ...[]byte) []byte {
	for i, p := range packets {
		if proto == 3 {
			dst = strconv.AppendInt(dst, int64(utf16Len(p)), 10)
			dst = append(dst, ':')
		} else if i > 0 {
			dst = append(dst, eio4Separator)
		}
		dst = append(dst, p...)
	}
	return dst
}

// splitPayload splits a polling response body into its packets. The
// packets alias body. Only text payloads are understood: the load generator
// sends no binary, so the server has none to send back.
func splitPayload(body []byte, proto int) ([][]byte, error) {
	if proto != 3 {
		return bytes.Split(body, []byte{eio4Separator}), nil
	}
	var packets [][]byte
	for len(body) > 0 {
		if body[0] == 0 || body[0] == 1 {
			return nil, errors.New("binary Engine.IO 3 payload: the load generator sends no binary and expects none")
		}
		colon := bytes.IndexByte(body, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("Engine.IO 3 payload %q: no <length>: prefix", clip(body))
		}
		n, err := strconv.Atoi(string(body[:colon]))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("Engine.IO 3 payload %q: bad length prefix", clip(body))
		}
		body = body[colon+1:]
		end := utf16Prefix(body, n)
		if end < 0 {
			return nil, fmt.Errorf("Engine.IO 3 payload: length %d runs past the body (%d bytes left)", n, len(body))
		}
		packets = append(packets, body[:end])
		body = body[end:]
	}
	return packets, nil
}

// utf16Len is the length of s in UTF-16 code units, the unit of protocol 3's
// length prefixes (JavaScript's String.length).
func utf16Len(s []byte) int {
	n := 0
	for len(s) > 0 {
		if s[0] < utf8.RuneSelf {
			n++
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRune(s)
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		s = s[size:]
	}
	return n
}

// utf16Prefix returns how many bytes of s hold its first n UTF-16 code
// units, or -1 when s is shorter.
func utf16Prefix(s []byte, n int) int {
	i := 0
	for n > 0 {
		if i >= len(s) {
			return -1
		}
		if s[i] < utf8.RuneSelf {
			i++
			n--
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		if r >= 0x10000 {
			n -= 2
		} else {
			n--
		}
	}
	if n < 0 {
		return -1
	}
	return i
}

// clip shortens a packet for an error message.
func clip(p []byte) string {
	if len(p) > 80 {
		return string(p[:80]) + "..."
	}
	return string(p)
}
