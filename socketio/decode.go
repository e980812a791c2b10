package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// defaultMaxAttachments is socket.io-parser's limit on the attachments of
// one packet; a client announcing more is closed.
const defaultMaxAttachments = 10

// maxNesting bounds how deeply the arrays and objects of a packet's JSON
// may nest. The JSON goes on to other clients as it came (a relay, an
// echo): socket.io-parser rebuilds binary packets and looks for binary
// data by recursion, and a browser's stack ends a few thousand levels
// down, so one client must not be able to send a payload its receivers
// cannot parse. Real payloads nest a few levels; Go's own decoder stops at
// 10000.
const maxNesting = 64

// errTooDeep is the error of a payload nested deeper than maxNesting.
var errTooDeep = fmt.Errorf("invalid payload: JSON nested deeper than %d levels", maxNesting)

// decoder turns the Engine.IO messages of one connection into packets. A
// BINARY_EVENT or BINARY_ACK text part is held until its attachments have
// arrived as the following binary messages. It is used by the connection's
// read loop only.
type decoder struct {
	// binary is the bookkeeping of binary packets, allocated with the
	// connection's first one: every connection has a decoder, few ever send
	// binary data, and an idle connection keeps its decoder for its life.
	binary *binaryState
	// maxBytes bounds what a binary packet holds, its text part and
	// attachments so far, in bytes (0: no bound). The engine bounds each
	// message alone, not a packet's sum: without this, 10 attachments of
	// max_payload each would sit in memory for as long as the client
	// answers pings.
	maxBytes int64
}

// binaryState is the binary packet a decoder is reconstructing.
type binaryState struct {
	pending *Packet // the packet waiting for attachments; nil between packets
	want    int     // how many attachments pending announced
	held    int64   // what pending holds, in bytes (see decoder.maxBytes)
}

// errIncomplete is not an error for the caller: the packet waits for more
// attachments.
var errIncomplete = errors.New("socketio: waiting for binary attachments")

// waiting reports how many attachments the packet being reconstructed
// announced and how many arrived; announced is 0 when none is.
func (d *decoder) waiting() (announced, arrived int) {
	if d.binary == nil || d.binary.pending == nil {
		return 0, 0
	}
	return d.binary.want, len(d.binary.pending.Args.Attachments)
}

// add decodes one Engine.IO message. It returns errIncomplete while a
// binary packet lacks attachments, and an error that should close the
// connection for anything socket.io-parser would refuse. The packet's Args
// and Data keep referring to data.
func (d *decoder) add(data []byte, binary bool) (*Packet, error) {
	b := d.binary
	if binary {
		if b == nil || b.pending == nil {
			return nil, errors.New("got binary data when not reconstructing a packet")
		}
		b.held += int64(len(data))
		if d.maxBytes > 0 && b.held > d.maxBytes {
			n := len(b.pending.Args.Attachments) + 1
			b.pending = nil // let the memory go now
			return nil, fmt.Errorf("binary packet too large: %d bytes after %d of its attachments, more than the %d bytes a packet may hold (max_payload)", b.held, n, d.maxBytes)
		}
		b.pending.Args.Attachments = append(b.pending.Args.Attachments, data)
		if len(b.pending.Args.Attachments) < b.want {
			return nil, errIncomplete
		}
		p := b.pending
		b.pending = nil
		for _, raw := range p.Args.JSON {
			if err := checkPlaceholders(raw, len(p.Args.Attachments)); err != nil {
				return nil, err
			}
		}
		return p, nil
	}
	if b != nil && b.pending != nil {
		return nil, errors.New("got plaintext data when reconstructing a packet")
	}
	p, attachments, err := decodePacket(data, defaultMaxAttachments)
	if err != nil {
		return nil, err
	}
	if attachments > 0 {
		if b == nil {
			b = new(binaryState)
			d.binary = b
		}
		b.pending = p
		b.want = attachments
		b.held = int64(len(data))
		p.Args.Attachments = make([][]byte, 0, attachments)
		return nil, errIncomplete
	}
	return p, nil
}

// decodePacket parses the text form of a packet with the rules of
// socket.io-parser 4.2's Decoder. BINARY_EVENT and BINARY_ACK come back as
// Event and Ack with the number of attachments still to read.
func decodePacket(s []byte, maxAttachments int) (p *Packet, attachments int, err error) {
	if len(s) == 0 {
		return nil, 0, errors.New("empty packet")
	}
	if s[0] < '0' || s[0] > '6' {
		return nil, 0, fmt.Errorf("unknown packet type %q", s[0])
	}
	p = &Packet{Type: PacketType(s[0] - '0'), Namespace: "/"}
	i := 1
	if p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start || i >= len(s) || s[i] != '-' || i-start > 4 {
			return nil, 0, errors.New("illegal attachments: expected a count and '-' after the packet type")
		}
		n, _ := strconv.Atoi(string(s[start:i]))
		if n < 1 {
			return nil, 0, errors.New("illegal attachments: the count must be at least 1")
		}
		if n > maxAttachments {
			return nil, 0, fmt.Errorf("too many attachments: %d, the limit is %d", n, maxAttachments)
		}
		attachments = n
		i++
		if p.Type == PacketBinaryEvent {
			p.Type = PacketEvent
		} else {
			p.Type = PacketAck
		}
	}
	if i < len(s) && s[i] == '/' {
		start := i
		for i < len(s) && s[i] != ',' {
			i++
		}
		p.Namespace = string(s[start:i])
		if i < len(s) {
			i++ // the comma
		}
	}
	if i < len(s) && s[i] >= '0' && s[i] <= '9' {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		id, err := strconv.ParseUint(string(s[start:i]), 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("invalid ack id %q", s[start:i])
		}
		p.ID, p.HasID = id, true
	}
	payload := s[i:]
	if err := setPayload(p, payload); err != nil {
		return nil, 0, err
	}
	return p, attachments, nil
}

// setPayload validates the JSON payload against the packet type, as
// socket.io-parser's isPayloadValid, and stores it in p.
func setPayload(p *Packet, payload []byte) error {
	if len(payload) == 0 {
		switch p.Type {
		case PacketConnect, PacketDisconnect:
			return nil
		}
		return fmt.Errorf("invalid payload: a %s packet needs one", p.Type)
	}
	if p.Type == PacketDisconnect {
		return errors.New("invalid payload: a DISCONNECT packet carries none")
	}
	if !json.Valid(payload) {
		return fmt.Errorf("invalid payload: not JSON: %.40q", payload)
	}
	first := firstByte(payload)
	switch p.Type {
	case PacketConnect:
		if first != '{' {
			return errors.New("invalid payload: the CONNECT payload must be an object")
		}
		if nesting(payload) > maxNesting {
			return errTooDeep
		}
		p.Data = payload
	case PacketConnectError:
		if first != '{' && first != '"' {
			return errors.New("invalid payload: the CONNECT_ERROR payload must be an object or a string")
		}
		if nesting(payload) > maxNesting {
			return errTooDeep
		}
		p.Data = payload
	case PacketEvent, PacketAck:
		if first != '[' {
			return fmt.Errorf("invalid payload: the %s payload must be an array", p.Type)
		}
		elems, ok := splitArray(payload)
		if !ok {
			return errTooDeep
		}
		if p.Type == PacketAck {
			p.Args.JSON = elems
			return nil
		}
		if len(elems) == 0 {
			return errors.New("invalid payload: an EVENT needs an event name")
		}
		name, ok := eventName(elems[0])
		if !ok {
			return errors.New("invalid payload: the event name must be a string or a number")
		}
		if reservedEvent(name) {
			return fmt.Errorf("invalid payload: %q is a reserved event name", name)
		}
		p.EventName = name
		p.Args.JSON = elems[1:]
	}
	return nil
}

func eventName(raw []byte) (string, bool) {
	switch c := raw[0]; {
	case c == '"':
		inner := raw[1 : len(raw)-1]
		for _, b := range inner {
			if b == '\\' || b >= utf8.RuneSelf {
				var s string
				if json.Unmarshal(raw, &s) != nil {
					return "", false
				}
				return s, true
			}
		}
		return string(inner), true
	case c == '-' || (c >= '0' && c <= '9'):
		// Node accepts a number as event name; EventEmitter turns it
		// into its decimal string.
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return "", false
		}
		return string(appendFloat(nil, f)), true
	}
	return "", false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func firstByte(b []byte) byte {
	for _, c := range b {
		if !isSpace(c) {
			return c
		}
	}
	return 0
}

// nesting is how deeply the arrays and objects of valid JSON nest, in one
// pass that skips strings.
func nesting(b []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// splitArray cuts a JSON array, already known to be valid, into its
// elements without decoding them; ok is false when the array nests deeper
// than maxNesting (itself being the first level).
func splitArray(b []byte) (elems []json.RawMessage, ok bool) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	i++ // '['
	for {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
		if i >= len(b) || b[i] == ']' {
			return elems, true
		}
		start := i
		depth := 0
	scan:
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				for i++; i < len(b) && b[i] != '"'; i++ {
					if b[i] == '\\' {
						i++
					}
				}
			case '[', '{':
				if depth++; depth >= maxNesting {
					return nil, false
				}
			case ']', '}':
				if depth == 0 {
					break scan
				}
				depth--
			case ',':
				if depth == 0 {
					break scan
				}
			}
		}
		end := i
		for end > start && isSpace(b[end-1]) {
			end--
		}
		if elems == nil {
			elems = make([]json.RawMessage, 0, 4)
		}
		elems = append(elems, json.RawMessage(b[start:end:end]))
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}
