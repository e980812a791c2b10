package redisadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// This file transcodes JSON to notepack's MessagePack in one pass over the
// bytes, without building Go values: every broadcast a server publishes goes
// through it, so it is on the hot path. The JSON comes from the socketio
// package (arguments clients sent, already validated, or values it
// encoded), but it is checked all the same.

// placeholderPrefix is how socket.io-parser writes a binary placeholder.
var placeholderPrefix = []byte(`{"_placeholder":true,"num":`)

var errJSONSyntax = errors.New("invalid JSON")

// json transcodes one JSON document, which must be all of b.
func (e *toMsgpack) json(b []byte) error {
	s := jsonScanner{in: b, e: e}
	if err := s.value(0); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(s.in) {
		return fmt.Errorf("%w: trailing data at offset %d", errJSONSyntax, s.pos)
	}
	return nil
}

type jsonScanner struct {
	in  []byte
	pos int
	e   *toMsgpack
}

func (s *jsonScanner) skipSpace() {
	for s.pos < len(s.in) {
		switch s.in[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) value(depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	s.skipSpace()
	if s.pos >= len(s.in) {
		return fmt.Errorf("%w: unexpected end", errJSONSyntax)
	}
	switch c := s.in[s.pos]; {
	case c == '{':
		if ok, err := s.placeholder(); ok || err != nil {
			return err
		}
		return s.container(depth, '}')
	case c == '[':
		return s.container(depth, ']')
	case c == '"':
		return s.str()
	case c == 't':
		return s.literal("true", func() error { return s.e.enc.EncodeBool(true) })
	case c == 'f':
		return s.literal("false", func() error { return s.e.enc.EncodeBool(false) })
	case c == 'n':
		return s.literal("null", s.e.enc.EncodeNil)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return fmt.Errorf("%w: unexpected %q at offset %d", errJSONSyntax, s.in[s.pos], s.pos)
}

func (s *jsonScanner) literal(word string, write func() error) error {
	if !bytes.HasPrefix(s.in[s.pos:], []byte(word)) {
		return fmt.Errorf("%w at offset %d", errJSONSyntax, s.pos)
	}
	s.pos += len(word)
	return write()
}

// placeholder writes the attachment a {"_placeholder":true,"num":N} object
// stands for, as bin. It reports false, having consumed nothing, for any
// other object.
func (s *jsonScanner) placeholder() (bool, error) {
	rest := s.in[s.pos:]
	if !bytes.HasPrefix(rest, placeholderPrefix) {
		return false, nil
	}
	i, n := len(placeholderPrefix), 0
	for ; i < len(rest) && i < len(placeholderPrefix)+7 && rest[i] >= '0' && rest[i] <= '9'; i++ {
		n = n*10 + int(rest[i]-'0')
	}
	if i == len(placeholderPrefix) || i >= len(rest) || rest[i] != '}' || n >= len(s.e.atts) {
		return false, nil
	}
	s.pos += i + 1
	return true, s.e.enc.EncodeBytes(nonNil(s.e.atts[n]))
}

// container writes an array or object. Its length is known only at the
// end, so the largest header is reserved and the elements shifted back
// once the right header size is known.
func (s *jsonScanner) container(depth int, closing byte) error {
	s.pos++ // the opening bracket
	buf := &s.e.buf
	start := buf.Len()
	buf.Write([]byte{0, 0, 0, 0, 0})
	n := 0
	s.skipSpace()
	if s.pos < len(s.in) && s.in[s.pos] == closing {
		s.pos++
	} else {
		for {
			if closing == '}' {
				s.skipSpace()
				if s.pos >= len(s.in) || s.in[s.pos] != '"' {
					return fmt.Errorf("%w: object key expected at offset %d", errJSONSyntax, s.pos)
				}
				if err := s.str(); err != nil {
					return err
				}
				s.skipSpace()
				if s.pos >= len(s.in) || s.in[s.pos] != ':' {
					return fmt.Errorf("%w: colon expected at offset %d", errJSONSyntax, s.pos)
				}
				s.pos++
			}
			if err := s.value(depth + 1); err != nil {
				return err
			}
			n++
			s.skipSpace()
			if s.pos >= len(s.in) {
				return fmt.Errorf("%w: unexpected end", errJSONSyntax)
			}
			if s.in[s.pos] == ',' {
				s.pos++
				continue
			}
			if s.in[s.pos] != closing {
				return fmt.Errorf("%w: unexpected %q at offset %d", errJSONSyntax, s.in[s.pos], s.pos)
			}
			s.pos++
			break
		}
	}
	// The header as vmihailenco's EncodeArrayLen and EncodeMapLen (and
	// notepack) write it.
	var head []byte
	fix, c16, c32 := byte(0x90), byte(0xdc), byte(0xdd)
	if closing == '}' {
		fix, c16, c32 = 0x80, 0xde, 0xdf
	}
	switch {
	case n < 16:
		head = []byte{fix | byte(n)}
	case n <= math.MaxUint16:
		head = []byte{c16, byte(n >> 8), byte(n)}
	default:
		head = []byte{c32, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	b := buf.Bytes()
	copy(b[start:], head)
	if shift := 5 - len(head); shift > 0 {
		copy(b[start+len(head):], b[start+5:])
		buf.Truncate(len(b) - shift)
	}
	return nil
}

// str writes a JSON string as a MessagePack str. Strings without escapes
// are copied as they are.
func (s *jsonScanner) str() error {
	start := s.pos + 1
	i := start
	escaped := false
	for ; i < len(s.in); i++ {
		c := s.in[i]
		if c == '"' {
			break
		}
		if c == '\\' {
			escaped = true
			i++
			continue
		}
		if c < 0x20 {
			return fmt.Errorf("%w: control character in a string at offset %d", errJSONSyntax, i)
		}
	}
	if i >= len(s.in) {
		return fmt.Errorf("%w: unterminated string", errJSONSyntax)
	}
	raw := s.in[start:i]
	s.pos = i + 1
	if escaped {
		var v string
		if err := json.Unmarshal(s.in[start-1:i+1], &v); err != nil {
			return err
		}
		return s.e.enc.EncodeString(v)
	}
	if err := s.strHeader(len(raw)); err != nil {
		return err
	}
	_, err := s.e.buf.Write(raw)
	return err
}

// strHeader writes the str header vmihailenco and notepack write.
func (s *jsonScanner) strHeader(n int) error {
	var h []byte
	switch {
	case n < 32:
		h = []byte{0xa0 | byte(n)}
	case n <= math.MaxUint8:
		h = []byte{0xd9, byte(n)}
	case n <= math.MaxUint16:
		h = []byte{0xda, byte(n >> 8), byte(n)}
	default:
		h = []byte{0xdb, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	_, err := s.e.buf.Write(h)
	return err
}

// number writes a JSON number as the JavaScript number JSON.parse makes of
// it, encoded as notepack encodes numbers.
func (s *jsonScanner) number() error {
	start := s.pos
	simple := true // an optional minus and at most 15 digits
	if s.in[s.pos] == '-' {
		s.pos++
	}
	digits := s.pos
	for s.pos < len(s.in) && s.in[s.pos] >= '0' && s.in[s.pos] <= '9' {
		s.pos++
	}
	intDigits := s.pos - digits
	for s.pos < len(s.in) {
		c := s.in[s.pos]
		if c >= '0' && c <= '9' {
			s.pos++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			simple = false
			s.pos++
			continue
		}
		break
	}
	lit := s.in[start:s.pos]
	if intDigits == 0 || (intDigits > 1 && s.in[digits] == '0') {
		return fmt.Errorf("%w: bad number %q", errJSONSyntax, lit)
	}
	if simple && intDigits <= 15 {
		var v int64
		for _, c := range s.in[digits:s.pos] {
			v = v*10 + int64(c-'0')
		}
		if lit[0] == '-' {
			v = -v
		}
		return s.e.enc.EncodeInt(v)
	}
	if !json.Valid(lit) {
		return fmt.Errorf("%w: bad number %q", errJSONSyntax, lit)
	}
	return s.e.jsonNumber(json.Number(lit))
}
