package redisadapter

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// This file converts between the MessagePack flavour of the npm package
// notepack.io, which @socket.io/redis-adapter uses for broadcasts, and the
// form in which the socketio package keeps event arguments: raw JSON in which
// each binary value is a {"_placeholder":true,"num":N} object standing for
// the N-th attachment. Converting stream to stream keeps the order of object
// keys and needs no intermediate Go values.
//
// notepack writes a JavaScript number as the smallest MessagePack integer
// when it is integral and finite, and as a float 64 otherwise; a Buffer as
// bin; a Date as the timestamp extension (-1); and it leaves out object keys
// whose value is undefined. Going to JSON, a date becomes the string
// Date.prototype.toJSON prints, since that is what a Node server sends its
// clients, and NaN and the infinities become null, as in JSON.stringify.

// maxDepth bounds the nesting of values, so that a message made of nothing
// but array headers cannot exhaust the stack.
const maxDepth = 256

var errTooDeep = fmt.Errorf("value nested deeper than %d levels", maxDepth)

// toJSON reads MessagePack values from memory and writes them as JSON. It
// checks every length against the bytes that remain, so a forged header
// cannot make it allocate more than the message itself.
type toJSON struct {
	r       *bytes.Reader
	dec     *msgpack.Decoder
	out     []byte
	atts    [][]byte
	scratch []byte // string bytes on their way to out
}

func newToJSON(b []byte) *toJSON {
	r := bytes.NewReader(b)
	return &toJSON{r: r, dec: msgpack.NewDecoder(r)}
}

// msgpackToJSON converts a whole message holding one value; trailing bytes
// are an error, as in notepack.
func msgpackToJSON(b []byte) (js []byte, atts [][]byte, err error) {
	t := newToJSON(b)
	t.out = make([]byte, 0, len(b)+len(b)/4)
	if err := t.value(0); err != nil {
		return nil, nil, err
	}
	if t.r.Len() != 0 {
		return nil, nil, fmt.Errorf("%d trailing bytes after the MessagePack value", t.r.Len())
	}
	return t.out, t.atts, nil
}

// fits reports whether n items of at least size bytes each can still be in
// the input.
func (t *toJSON) fits(n, size int) error {
	if n < 0 || n > t.r.Len()/size {
		return fmt.Errorf("length %d exceeds the %d bytes left in the message", n, t.r.Len())
	}
	return nil
}

func (t *toJSON) readBytes(n int) ([]byte, error) {
	if err := t.fits(n, 1); err != nil {
		return nil, err
	}
	b := make([]byte, n)
	_, err := io.ReadFull(t.r, b)
	return b, err
}

func (t *toJSON) attachment(b []byte) {
	t.out = appendPlaceholder(t.out, len(t.atts))
	t.atts = append(t.atts, b)
}

func appendPlaceholder(buf []byte, n int) []byte {
	buf = append(buf, `{"_placeholder":true,"num":`...)
	buf = strconv.AppendInt(buf, int64(n), 10)
	return append(buf, '}')
}

func (t *toJSON) value(depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	c, err := t.dec.PeekCode()
	if err != nil {
		return err
	}
	switch {
	case c == msgpcode.Nil:
		t.out = append(t.out, "null"...)
		return t.dec.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		v, err := t.dec.DecodeBool()
		t.out = strconv.AppendBool(t.out, v)
		return err
	case c == msgpcode.Uint64:
		v, err := t.dec.DecodeUint64()
		t.out = appendJSNumber(t.out, float64(v)) // a JavaScript number, as Node reads it
		return err
	case msgpcode.IsFixedNum(c), c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64,
		c == msgpcode.Uint8, c == msgpcode.Uint16, c == msgpcode.Uint32:
		v, err := t.dec.DecodeInt64()
		if v > 1<<53 || v < -(1<<53) {
			t.out = appendJSNumber(t.out, float64(v))
		} else {
			t.out = strconv.AppendInt(t.out, v, 10)
		}
		return err
	case c == msgpcode.Float || c == msgpcode.Double:
		v, err := t.dec.DecodeFloat64()
		t.out = appendJSNumber(t.out, v)
		return err
	case msgpcode.IsString(c):
		n, err := t.dec.DecodeBytesLen() // str and bin share their length forms
		if err != nil {
			return err
		}
		if err := t.fits(n, 1); err != nil {
			return err
		}
		if cap(t.scratch) < n {
			t.scratch = make([]byte, n)
		}
		b := t.scratch[:n]
		if _, err := io.ReadFull(t.r, b); err != nil {
			return err
		}
		t.out = appendJSString(t.out, b)
		return nil
	case msgpcode.IsBin(c):
		n, err := t.dec.DecodeBytesLen()
		if err != nil {
			return err
		}
		b, err := t.readBytes(n)
		if err != nil {
			return err
		}
		t.attachment(b)
		return nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := t.dec.DecodeArrayLen()
		if err != nil {
			return err
		}
		if err := t.fits(n, 1); err != nil {
			return err
		}
		t.out = append(t.out, '[')
		for i := range n {
			if i > 0 {
				t.out = append(t.out, ',')
			}
			if err := t.value(depth + 1); err != nil {
				return err
			}
		}
		t.out = append(t.out, ']')
		return nil
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := t.dec.DecodeMapLen()
		if err != nil {
			return err
		}
		if err := t.fits(n, 2); err != nil {
			return err
		}
		t.out = append(t.out, '{')
		for i := range n {
			if i > 0 {
				t.out = append(t.out, ',')
			}
			if err := t.key(depth + 1); err != nil {
				return err
			}
			t.out = append(t.out, ':')
			if err := t.value(depth + 1); err != nil {
				return err
			}
		}
		t.out = append(t.out, '}')
		return nil
	case msgpcode.IsExt(c):
		return t.ext()
	}
	return fmt.Errorf("unknown MessagePack code 0x%02x", c)
}

// key writes a map key as the property name JavaScript would make of it:
// strings as they are, anything else converted to a string (without
// attachments: a binary key is a string in JavaScript too).
func (t *toJSON) key(depth int) error {
	c, err := t.dec.PeekCode()
	if err != nil {
		return err
	}
	if msgpcode.IsString(c) {
		return t.value(depth)
	}
	name, err := t.keyName(nil, depth)
	if err != nil {
		return err
	}
	t.out = appendJSString(t.out, name)
	return nil
}

// keyName appends to name the string JavaScript makes of a non-string
// key, as String(key) does: an object is "[object Object]", an array its
// elements' strings joined by commas (null among them as nothing), a
// scalar its JSON without quotes. Converting a map key to its JSON and then
// escaping it would double the escapes at each level of nesting: 27 nested
// maps of 143 bytes took seconds (found by FuzzDecodeResponse).
func (t *toJSON) keyName(name []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	c, err := t.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		if _, err := t.raw(depth); err != nil {
			return nil, err
		}
		return append(name, "[object Object]"...), nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := t.dec.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if err := t.fits(n, 1); err != nil {
			return nil, err
		}
		for i := range n {
			if i > 0 {
				name = append(name, ',')
			}
			if c, err := t.dec.PeekCode(); err == nil && c == msgpcode.Nil {
				if err := t.dec.Skip(); err != nil {
					return nil, err
				}
				continue
			}
			if name, err = t.keyName(name, depth+1); err != nil {
				return nil, err
			}
		}
		return name, nil
	}
	s, err := t.raw(depth)
	if err != nil {
		return nil, err
	}
	if msgpcode.IsString(c) {
		var str string
		if json.Unmarshal(s, &str) == nil {
			return append(name, str...), nil
		}
	}
	return append(name, bytes.Trim(s, `"`)...), nil
}

// ext converts the extensions notepack knows: timestamps (-1), its legacy
// undefined (fixext 1, type 0), dates (fixext 8, type 0) and ArrayBuffers
// (ext 8/16/32, type 0). Any other extension is [type, bytes], as notepack
// decodes it.
func (t *toJSON) ext() error {
	c, _ := t.dec.PeekCode()
	typ, n, err := t.dec.DecodeExtHeader()
	if err != nil {
		return err
	}
	data, err := t.readBytes(n)
	if err != nil {
		return err
	}
	switch {
	case typ == -1:
		var tm time.Time
		switch n {
		case 4:
			tm = time.Unix(int64(binary.BigEndian.Uint32(data)), 0)
		case 8:
			x := binary.BigEndian.Uint64(data)
			tm = time.Unix(int64(x&0x3ffffffff), int64(x>>34))
		case 12:
			tm = time.Unix(int64(binary.BigEndian.Uint64(data[4:])), int64(binary.BigEndian.Uint32(data)))
		default:
			return fmt.Errorf("timestamp extension of %d bytes; want 4, 8 or 12", n)
		}
		t.out = appendJSDate(t.out, tm)
	case typ == 0 && c == msgpcode.FixExt1:
		t.out = append(t.out, "null"...)
	case typ == 0 && c == msgpcode.FixExt8:
		t.out = appendJSDate(t.out, time.UnixMilli(int64(binary.BigEndian.Uint64(data))))
	case typ == 0 && (c == msgpcode.Ext8 || c == msgpcode.Ext16 || c == msgpcode.Ext32):
		t.attachment(data)
	default:
		t.out = append(t.out, '[')
		t.out = strconv.AppendInt(t.out, int64(typ), 10)
		t.out = append(t.out, ',')
		t.attachment(data)
		t.out = append(t.out, ']')
	}
	return nil
}

// appendJSDate writes t as Date.prototype.toJSON does: UTC, milliseconds,
// and a signed six-digit year outside 0-9999. A date outside JavaScript's
// range (±8.64e15 ms) is null, as JSON.stringify writes an invalid Date.
func appendJSDate(buf []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	if ms > 8.64e15 || ms < -8.64e15 {
		return append(buf, "null"...)
	}
	t = time.UnixMilli(ms).UTC()
	buf = append(buf, '"')
	if y := t.Year(); y < 0 || y > 9999 {
		sign := byte('+')
		if y < 0 {
			sign, y = '-', -y
		}
		buf = append(buf, sign)
		buf = fmt.Appendf(buf, "%06d", y)
		buf = t.AppendFormat(buf, "-01-02T15:04:05.000Z")
	} else {
		buf = t.AppendFormat(buf, "2006-01-02T15:04:05.000Z")
	}
	return append(buf, '"')
}

// appendJSNumber writes f as JSON.stringify does: the shortest form that
// reads back to f, exponent notation from 1e21 and below 1e-6, null for NaN
// and the infinities.
func appendJSNumber(buf []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(buf, "null"...)
	}
	if f == 0 {
		return append(buf, '0') // -0 too
	}
	abs := math.Abs(f)
	if abs < 1e21 && abs >= 1e-6 {
		return strconv.AppendFloat(buf, f, 'f', -1, 64)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'e', -1, 64)
	// Go writes e+21 and e-07; JavaScript e+21 and e-7.
	if i := bytes.IndexByte(buf[start:], 'e'); i >= 0 {
		exp := buf[start+i+2:]
		if len(exp) > 1 && exp[0] == '0' {
			copy(exp, exp[1:])
			buf = buf[:len(buf)-1]
		}
	}
	return buf
}

// appendJSString writes s as a JSON string the way JSON.stringify does:
// only quotes, backslashes and control characters are escaped. Invalid
// UTF-8 becomes U+FFFD, as Buffer.toString("utf8") decodes it in Node.
func appendJSString(buf []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, "\ufffd"...)
			} else {
				buf = append(buf, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c == '\n':
			buf = append(buf, '\\', 'n')
		case c == '\r':
			buf = append(buf, '\\', 'r')
		case c == '\t':
			buf = append(buf, '\\', 't')
		case c == '\b':
			buf = append(buf, '\\', 'b')
		case c == '\f':
			buf = append(buf, '\\', 'f')
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			buf = append(buf, c)
		}
		i++
	}
	return append(buf, '"')
}

// toMsgpack writes JSON values, with placeholders for attachments, as
// notepack would write the JavaScript values they stand for.
type toMsgpack struct {
	buf  bytes.Buffer
	enc  *msgpack.Encoder
	atts [][]byte
}

func newToMsgpack(atts [][]byte) *toMsgpack {
	e := &toMsgpack{atts: atts}
	e.enc = msgpack.NewEncoder(&e.buf)
	return e
}

// number writes a JavaScript number as notepack does: integral and finite
// numbers as integers.
func (e *toMsgpack) number(f float64) error {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return e.enc.EncodeInt(int64(f))
	}
	if f == math.Trunc(f) && f >= 0 && f < 1<<64 {
		return e.enc.EncodeUint64(uint64(f))
	}
	// Larger integral numbers would wrap in notepack; a float 64 keeps them.
	return e.enc.EncodeFloat64(f)
}

func (e *toMsgpack) jsonNumber(n json.Number) error {
	// Beyond 2^53 JSON.parse rounds to the nearest float 64, and so must we.
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && i <= 1<<53 && i >= -(1<<53) {
		return e.enc.EncodeInt(i)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("invalid JSON number %q", n)
	}
	return e.number(f) // out of range: ±Inf, as JSON.parse reads it
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// sub reads from the same input into its own output and attachments: a
// field that is not part of the packet's arguments must not shift the
// numbering of their placeholders.
func (t *toJSON) sub() *toJSON {
	return &toJSON{r: t.r, dec: t.dec}
}

// raw converts the next value into JSON of its own; binary inside it is
// dropped (its placeholders point nowhere), which is fine for the fields
// that carry none in Node's messages.
func (t *toJSON) raw(depth int) (json.RawMessage, error) {
	s := t.sub()
	if err := s.value(depth); err != nil {
		return nil, err
	}
	return s.out, nil
}

// arg converts the next value into one argument, sharing the attachments
// of t; the returned JSON stays valid while t goes on.
func (t *toJSON) arg(depth int) (json.RawMessage, error) {
	start := len(t.out)
	if err := t.value(depth); err != nil {
		return nil, err
	}
	return t.out[start:len(t.out):len(t.out)], nil
}

// mapFields walks a MessagePack map, handing the value of a key in special
// to its function and converting the others into JSON.
func (t *toJSON) mapFields(special map[string]func(*toJSON) error) (map[string]json.RawMessage, error) {
	c, err := t.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	if !msgpcode.IsFixedMap(c) && c != msgpcode.Map16 && c != msgpcode.Map32 {
		return nil, fmt.Errorf("MessagePack code 0x%02x where an object was expected", c)
	}
	n, err := t.dec.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	if err := t.fits(n, 2); err != nil {
		return nil, err
	}
	fields := make(map[string]json.RawMessage, n)
	for range n {
		k, err := t.raw(1)
		if err != nil {
			return nil, err
		}
		var key string
		if json.Unmarshal(k, &key) != nil {
			key = string(k)
		}
		if fn, ok := special[key]; ok {
			if err := fn(t); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			continue
		}
		if fields[key], err = t.raw(1); err != nil {
			return nil, err
		}
	}
	return fields, nil
}
