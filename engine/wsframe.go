package engine

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unicode/utf8"
)

// The WebSocket frame format (RFC 6455 section 5), as the server side
// reads and writes it. Frames from a client are masked, frames from the
// server are not (5.1). This file holds the byte layout only; wsconn.go
// reads and writes frames on a connection.

// Opcodes (5.2). wsText and wsBinary are also the message kinds the
// session decodes (decodeWS); they have gorilla/websocket's values.
const (
	opContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

const (
	finalBit = 0x80
	rsv1Bit  = 0x40 // per-message deflate's "compressed" bit (RFC 7692 6)
	rsv2Bit  = 0x20
	rsv3Bit  = 0x10
	maskBit  = 0x80

	// maxControlPayload is the largest payload of a control frame (5.5).
	maxControlPayload = 125
	// maxFrameHeader is a server frame's longest header: 2 bytes and a
	// 64-bit length (no mask).
	maxFrameHeader = 10
)

// Close codes (7.4.1) the server sends.
const (
	closeNormal         = 1000
	closeProtocolError  = 1002
	closeNoStatus       = 1005 // never sent: no code in the frame
	closeInvalidPayload = 1007
	closeMessageTooBig  = 1009
)

// frameHeader is a client frame's header, parsed.
type frameHeader struct {
	fin      bool
	rsv1     bool
	opcode   byte
	length   int64
	mask     [4]byte
	headSize int // bytes of header before the payload
}

// errShortHeader means the bytes given hold only part of a header.
var errShortHeader = errors.New("engine: short websocket frame header")

// protocolError is a frame a client must not send; the connection is
// closed with 1002 and the text as its reason, as gorilla/websocket does.
type protocolError string

func (e protocolError) Error() string { return "websocket: " + string(e) }

// parseFrameHeader parses the client frame header at the start of b.
// compress says whether per-message deflate was negotiated, so RSV1 may be
// set; inMessage whether a fragmented message is under way, so a
// continuation is expected and a new data frame is not. It returns
// errShortHeader if b is too short to tell, and a protocolError for a frame
// that breaks the protocol.
func parseFrameHeader(b []byte, compress, inMessage bool) (frameHeader, error) {
	if len(b) < 2 {
		return frameHeader{}, errShortHeader
	}
	h := frameHeader{
		fin:    b[0]&finalBit != 0,
		rsv1:   b[0]&rsv1Bit != 0,
		opcode: b[0] & 0xf,
	}
	var problem string
	note := func(s string) {
		if problem != "" {
			problem += ", "
		}
		problem += s
	}
	if h.rsv1 && !compress {
		note("RSV1 set")
	}
	if b[0]&rsv2Bit != 0 {
		note("RSV2 set")
	}
	if b[0]&rsv3Bit != 0 {
		note("RSV3 set")
	}
	n := int64(b[1] & 0x7f)
	switch h.opcode {
	case opClose, opPing, opPong:
		if n > maxControlPayload {
			note("len > 125 for control")
		}
		if !h.fin {
			note("FIN not set on control")
		}
		if h.rsv1 && compress {
			note("RSV1 set on control")
		}
	case wsText, wsBinary:
		if inMessage {
			note("data before FIN")
		}
	case opContinuation:
		if !inMessage {
			note("continuation after FIN")
		}
		if h.rsv1 && compress {
			note("RSV1 set on continuation")
		}
	default:
		note("bad opcode " + strconv.Itoa(int(h.opcode)))
	}
	if b[1]&maskBit == 0 {
		note("bad MASK")
	}
	if problem != "" {
		return frameHeader{}, protocolError(problem)
	}
	size := 2
	switch n {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if len(b) < size+4 {
		return frameHeader{}, errShortHeader
	}
	switch n {
	case 126:
		n = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		if u>>63 != 0 {
			return frameHeader{}, protocolError("frame length has its most significant bit set")
		}
		n = int64(u)
	}
	h.length = n
	copy(h.mask[:], b[size:size+4])
	h.headSize = size + 4
	return h, nil
}

// frameHeaderSize is the size of a client frame's header, given its first
// two bytes.
func frameHeaderSize(b1 byte) int {
	switch b1 & 0x7f {
	case 126:
		return 2 + 2 + 4
	case 127:
		return 2 + 8 + 4
	}
	return 2 + 4
}

// appendFrameHeader appends the header of a final, unmasked (server) frame.
func appendFrameHeader(dst []byte, opcode byte, compressed bool, length int) []byte {
	b0 := finalBit | opcode
	if compressed {
		b0 |= rsv1Bit
	}
	switch {
	case length <= 125:
		return append(dst, b0, byte(length))
	case length <= 0xffff:
		return append(dst, b0, 126, byte(length>>8), byte(length))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(length))
	}
}

// maskBytes applies (or removes: it is its own inverse) the mask key to b,
// whose first byte is at offset pos of the payload, and returns the offset
// after b.
func maskBytes(key [4]byte, pos int, b []byte) int {
	i := 0
	if len(b) >= 16 {
		// Eight bytes at a time, the key rotated to where b starts.
		var k [8]byte
		for j := range k {
			k[j] = key[(pos+j)&3]
		}
		kw := binary.LittleEndian.Uint64(k[:])
		for ; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^kw)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[(pos+i)&3]
	}
	return pos + len(b)
}

// closeFramePayload is a close frame's payload: the code and a reason, the
// whole cut to a control frame's size. closeNoStatus gives an empty one.
func closeFramePayload(code int, reason string) []byte {
	if code == closeNoStatus {
		return []byte{}
	}
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	b = append(b, reason...)
	if len(b) > maxControlPayload {
		b = b[:maxControlPayload]
	}
	return b
}

// parseClosePayload returns the code of a client's close frame
// (closeNoStatus if it has none), or a protocolError for a code a peer
// must not send or a reason that is not UTF-8.
func parseClosePayload(p []byte) (int, error) {
	switch {
	case len(p) == 0:
		return closeNoStatus, nil
	case len(p) == 1:
		return 0, protocolError("close frame of one byte")
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validReceivedCloseCode(code) {
		return 0, protocolError("bad close code " + strconv.Itoa(code))
	}
	if !utf8.Valid(p[2:]) {
		return 0, protocolError("invalid utf8 payload in close frame")
	}
	return code, nil
}

// validReceivedCloseCode reports whether a peer may send code (7.4.1,
// 7.4.2 and IANA's registry) as gorilla/websocket decides it: the codes
// defined up to 1013 other than those that only describe a connection
// locally (1005, 1006) or are reserved (1004), and 3000-4999.
func validReceivedCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1013:
		return true
	}
	return code >= 3000 && code <= 4999
}
