package main

import (
	"bytes"
	"fmt"
	"strconv"
)

// Socket.IO packet types: the character after the Engine.IO message type.
const (
	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
	sioBinaryEvent  = '5'
	sioBinaryAck    = '6'
)

// sioPacket is a decoded Socket.IO packet. Data aliases the buffer it was
// decoded from.
type sioPacket struct {
	Type      byte
	Namespace string // "/" when the packet names none
	ID        int64  // -1 when the packet carries no ack id
	Data      []byte // the JSON payload, empty when absent
}

// appendSIO appends an Engine.IO message carrying one Socket.IO packet:
// "4" type [ "/" nsp "," ] [ id ] [ data ]. A negative id means none.
func appendSIO(dst []byte, typ byte, ns string, id int64, data []byte) []byte {
	dst = append(dst, eioMessage, typ)
	if ns != "" && ns != "/" {
		dst = append(dst, ns...)
		dst = append(dst, ',')
	}
	if id >= 0 {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return append(dst, data...)
}

// decodeSIO decodes the Socket.IO packet of an Engine.IO message packet
// ("4..."); the leading '4' is expected.
func decodeSIO(msg []byte) (sioPacket, error) {
	p := sioPacket{Namespace: "/", ID: -1}
	if len(msg) < 2 || msg[0] != eioMessage {
		return p, fmt.Errorf("expected an Engine.IO message carrying a Socket.IO packet, got %q", clip(msg))
	}
	p.Type = msg[1]
	if p.Type < sioConnect || p.Type > sioBinaryAck {
		return p, fmt.Errorf("unknown Socket.IO packet type %q in %q", p.Type, clip(msg))
	}
	rest := msg[2:]
	if p.Type == sioBinaryEvent || p.Type == sioBinaryAck {
		// "<attachments>-": the attachments follow as binary frames, which
		// the load generator never provokes; skip the count.
		dash := bytes.IndexByte(rest, '-')
		if dash < 0 {
			return p, fmt.Errorf("binary packet %q lacks its attachment count", clip(msg))
		}
		rest = rest[dash+1:]
	}
	if len(rest) > 0 && rest[0] == '/' {
		end := bytes.IndexByte(rest, ',')
		if end < 0 {
			// A namespace with nothing after it ("40/chat" from a
			// protocol 3 server).
			end = len(rest)
			p.Namespace = string(rest)
			rest = rest[end:]
		} else {
			p.Namespace = string(rest[:end])
			rest = rest[end+1:]
		}
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i > 0 {
		id, err := strconv.ParseInt(string(rest[:i]), 10, 64)
		if err != nil {
			return p, fmt.Errorf("ack id in %q: %v", clip(msg), err)
		}
		p.ID = id
	}
	p.Data = rest[i:]
	return p, nil
}

// appendStamp appends the arguments of a benchmark event:
// ["<event>",<seq>,<micros>] plus a padding string when pad > 0. Times are
// microseconds since the load generator started, small enough for
// JavaScript's doubles to carry them exactly through the Node server.
func appendStamp(dst []byte, event string, seq, micros int64, pad int) []byte {
	dst = append(dst, `["`...)
	dst = append(dst, event...)
	dst = append(dst, `",`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, micros, 10)
	if pad > 0 {
		dst = append(dst, `,"`...)
		for range pad {
			dst = append(dst, 'x')
		}
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

// parseStamp reads the sequence number and time back from the data of a
// relayed benchmark event, without a JSON decoder: the load generator reads
// every fanout delivery on one core.
func parseStamp(data []byte) (seq, micros int64, ok bool) {
	// Skip the event name: the first comma outside of it.
	if len(data) < 2 || data[0] != '[' || data[1] != '"' {
		return 0, 0, false
	}
	end := bytes.IndexByte(data[2:], '"')
	if end < 0 {
		return 0, 0, false
	}
	rest := data[2+end+1:]
	seq, rest, ok = nextInt(rest)
	if !ok {
		return 0, 0, false
	}
	micros, _, ok = nextInt(rest)
	return seq, micros, ok
}

// nextInt parses ",<digits>" at the start of b.
func nextInt(b []byte) (int64, []byte, bool) {
	if len(b) < 2 || b[0] != ',' {
		return 0, b, false
	}
	b = b[1:]
	var n int64
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	return n, b[i:], i > 0
}
