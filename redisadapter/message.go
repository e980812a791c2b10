package redisadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Socket.IO packet types that travel between nodes.
const (
	packetEvent       = 2
	packetBinaryEvent = 5
)

// Packet is a Socket.IO event before encoding, as Node's adapter sees it:
// {type, data: [event, ...args], nsp[, id]}. Args are raw JSON in which each
// binary value is a {"_placeholder":true,"num":N} object standing for
// Attachments[N], the form the socketio package keeps arguments in.
type Packet struct {
	Type        int
	Nsp         string
	Event       string
	Args        []json.RawMessage
	Attachments [][]byte
	// ID is the acknowledgement id, or -1 when the packet has none.
	ID int64
}

// Options selects the receivers of a broadcast: sockets in any of Rooms (all
// sockets when empty), minus the sockets in any of Except.
type Options struct {
	Rooms  []string
	Except []string
	Flags  Flags
}

// Flags are the broadcast flags Node sends along; it leaves out those that
// are not set.
type Flags struct {
	Volatile bool
	Compress *bool
	Local    bool
	// Timeout of a broadcast with acknowledgements, in milliseconds; 0: none.
	Timeout int64
}

// BroadcastMessage is what a node publishes on "<prefix>#<nsp>#[<room>#]":
// the MessagePack array [uid, packet, opts].
type BroadcastMessage struct {
	UID    string
	Packet Packet
	Opts   Options
}

// encodeBroadcast writes [uid, {type, data, nsp}, {rooms, except, flags}]
// with the key order of Node's adapter, so that the bytes equal Node's.
func encodeBroadcast(m *BroadcastMessage) ([]byte, error) {
	e := newToMsgpack(m.Packet.Attachments)
	if err := e.enc.EncodeArrayLen(3); err != nil {
		return nil, err
	}
	if err := e.enc.EncodeString(m.UID); err != nil {
		return nil, err
	}
	if err := e.packet(&m.Packet); err != nil {
		return nil, err
	}
	if err := e.options(&m.Opts); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

func (e *toMsgpack) packet(p *Packet) error {
	e.atts = p.Attachments
	n := 3
	if p.ID >= 0 {
		n++
	}
	if err := e.enc.EncodeMapLen(n); err != nil {
		return err
	}
	if err := e.enc.EncodeString("type"); err != nil {
		return err
	}
	// Node publishes EVENT and lets each receiving node see the binary.
	if err := e.enc.EncodeInt(int64(p.Type)); err != nil {
		return err
	}
	if err := e.enc.EncodeString("data"); err != nil {
		return err
	}
	if err := e.enc.EncodeArrayLen(1 + len(p.Args)); err != nil {
		return err
	}
	if err := e.enc.EncodeString(p.Event); err != nil {
		return err
	}
	for i, a := range p.Args {
		if err := e.json(a); err != nil {
			return fmt.Errorf("argument %d: %w", i, err)
		}
	}
	if err := e.enc.EncodeString("nsp"); err != nil {
		return err
	}
	if err := e.enc.EncodeString(p.Nsp); err != nil {
		return err
	}
	if p.ID >= 0 {
		if err := e.enc.EncodeString("id"); err != nil {
			return err
		}
		return e.enc.EncodeInt(p.ID)
	}
	return nil
}

// options writes {rooms, except, flags}.
func (e *toMsgpack) options(o *Options) error {
	if err := e.enc.EncodeMapLen(3); err != nil {
		return err
	}
	if err := e.stringList("rooms", o.Rooms); err != nil {
		return err
	}
	if err := e.stringList("except", o.Except); err != nil {
		return err
	}
	if err := e.enc.EncodeString("flags"); err != nil {
		return err
	}
	f := o.Flags
	n := 0
	for _, set := range []bool{f.Compress != nil, f.Volatile, f.Local, f.Timeout > 0} {
		if set {
			n++
		}
	}
	if err := e.enc.EncodeMapLen(n); err != nil {
		return err
	}
	// The order in which Node's BroadcastOperator methods are usually called.
	if f.Compress != nil {
		if err := e.flag("compress", *f.Compress); err != nil {
			return err
		}
	}
	if f.Volatile {
		if err := e.flag("volatile", true); err != nil {
			return err
		}
	}
	if f.Local {
		if err := e.flag("local", true); err != nil {
			return err
		}
	}
	if f.Timeout > 0 {
		if err := e.enc.EncodeString("timeout"); err != nil {
			return err
		}
		return e.enc.EncodeInt(f.Timeout)
	}
	return nil
}

func (e *toMsgpack) flag(name string, v bool) error {
	if err := e.enc.EncodeString(name); err != nil {
		return err
	}
	return e.enc.EncodeBool(v)
}

func (e *toMsgpack) stringList(key string, list []string) error {
	if err := e.enc.EncodeString(key); err != nil {
		return err
	}
	if err := e.enc.EncodeArrayLen(len(list)); err != nil {
		return err
	}
	for _, s := range list {
		if err := e.enc.EncodeString(s); err != nil {
			return err
		}
	}
	return nil
}

// decodeBroadcast reads [uid, packet, opts]. A packet without nsp is in "/",
// as Node's adapter assumes.
func decodeBroadcast(b []byte) (*BroadcastMessage, error) {
	if len(b) == 0 {
		return nil, errEmptyMessage
	}
	t := newToJSON(b)
	c, _ := t.dec.PeekCode()
	if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
		return nil, fmt.Errorf("broadcast starts with MessagePack code 0x%02x; want the array [uid, packet, opts]", c)
	}
	n, err := t.dec.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	if n < 2 || n > 3 {
		return nil, fmt.Errorf("broadcast is an array of %d; want [uid, packet, opts]", n)
	}
	m := &BroadcastMessage{}
	// An emitter's uid may be anything.
	if m.UID, _, err = t.string1(); err != nil {
		return nil, err
	}
	p, err := t.packet()
	if err != nil {
		return nil, err
	}
	m.Packet = *p
	if n == 3 {
		if m.Opts, err = t.options(); err != nil {
			return nil, err
		}
	}
	if t.r.Len() != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the broadcast", t.r.Len())
	}
	return m, nil
}

// packet reads a packet object {type, data, nsp[, id]}.
func (t *toJSON) packet() (*Packet, error) {
	p := &Packet{Nsp: "/", ID: -1, Type: -1}
	args := t.sub()
	args.out = make([]byte, 0, t.r.Len()+t.r.Len()/4)
	var data []json.RawMessage
	n, err := t.mapLen()
	if err != nil {
		return nil, fmt.Errorf("packet: %w", err)
	}
	for range n {
		key, err := t.key1()
		if err != nil {
			return nil, fmt.Errorf("packet: %w", err)
		}
		switch key {
		case "type":
			typ, ok, err := t.number()
			if err != nil {
				return nil, err
			}
			if !ok || typ != math.Trunc(typ) {
				return nil, errors.New("packet type is not a number")
			}
			p.Type = int(typ)
		case "nsp":
			if nsp, ok, err := t.string1(); err != nil {
				return nil, err
			} else if ok {
				p.Nsp = nsp
			}
		case "id":
			id, ok, err := t.number()
			if err != nil {
				return nil, err
			}
			if ok && id >= 0 && id == math.Trunc(id) && id <= 1<<53 {
				p.ID = int64(id)
			}
		case "data":
			c, err := t.dec.PeekCode()
			if err != nil {
				return nil, err
			}
			if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
				return nil, fmt.Errorf("packet data: MessagePack code 0x%02x; want the array [event, ...args]", c)
			}
			n, err := t.dec.DecodeArrayLen()
			if err != nil {
				return nil, err
			}
			if err := t.fits(n, 1); err != nil {
				return nil, err
			}
			data = make([]json.RawMessage, 0, n)
			for range n {
				a, err := args.arg(2)
				if err != nil {
					return nil, err
				}
				data = append(data, a)
			}
		default:
			if err := t.skip(1); err != nil {
				return nil, err
			}
		}
	}
	if p.Type != packetEvent && p.Type != packetBinaryEvent {
		return nil, fmt.Errorf("packet type %d cannot be broadcast; want an event (2 or 5)", p.Type)
	}
	if len(data) == 0 {
		return nil, errors.New("packet without data; want [event, ...args]")
	}
	var ok bool
	if p.Event, ok = jsonString(data[0]); !ok {
		return nil, fmt.Errorf("event name is %.20s; want a string", data[0])
	}
	p.Args = data[1:]
	p.Attachments = args.atts
	return p, nil
}

// options reads {rooms, except, flags}; missing lists are empty.
func (t *toJSON) options() (Options, error) {
	var o Options
	c, err := t.dec.PeekCode()
	if err != nil {
		return o, err
	}
	if c == msgpcode.Nil {
		return o, t.dec.DecodeNil()
	}
	n, err := t.mapLen()
	if err != nil {
		return o, fmt.Errorf("broadcast options: %w", err)
	}
	for range n {
		key, err := t.key1()
		if err != nil {
			return o, err
		}
		switch key {
		case "rooms":
			if o.Rooms, err = t.roomList(); err != nil {
				return o, fmt.Errorf("rooms: %w", err)
			}
		case "except":
			if o.Except, err = t.roomList(); err != nil {
				return o, fmt.Errorf("except: %w", err)
			}
		case "flags":
			if o.Flags, err = t.flags(); err != nil {
				return o, fmt.Errorf("flags: %w", err)
			}
		default:
			if err := t.skip(1); err != nil {
				return o, err
			}
		}
	}
	return o, nil
}

func (t *toJSON) flags() (Flags, error) {
	var f Flags
	c, err := t.dec.PeekCode()
	if err != nil || c == msgpcode.Nil {
		return f, t.skip(1)
	}
	n, err := t.mapLen()
	if err != nil {
		return f, err
	}
	for range n {
		key, err := t.key1()
		if err != nil {
			return f, err
		}
		c, err := t.dec.PeekCode()
		if err != nil {
			return f, err
		}
		switch {
		case c == msgpcode.True || c == msgpcode.False:
			v, _ := t.dec.DecodeBool()
			switch key {
			case "volatile":
				f.Volatile = v
			case "local":
				f.Local = v
			case "compress":
				f.Compress = &v
			}
		case key == "timeout":
			ms, ok, err := t.number()
			if err != nil {
				return f, err
			}
			if ok && ms > 0 && ms < math.MaxInt32 {
				f.Timeout = int64(ms)
			}
		default:
			if err := t.skip(1); err != nil {
				return f, err
			}
		}
	}
	return f, nil
}

// roomList reads an array of room names: strings, or numbers, which Node
// allows and which are kept in the form JavaScript prints them.
func (t *toJSON) roomList() ([]string, error) {
	c, err := t.dec.PeekCode()
	if err != nil {
		return nil, err
	}
	if c == msgpcode.Nil {
		return nil, t.dec.DecodeNil()
	}
	if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
		return nil, fmt.Errorf("MessagePack code 0x%02x; want an array of room names", c)
	}
	n, err := t.dec.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	if err := t.fits(n, 1); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	rooms := make([]string, 0, n)
	for range n {
		if s, ok, err := t.string1(); err != nil {
			return nil, err
		} else if ok {
			rooms = append(rooms, s)
			continue
		}
		return nil, errors.New("a room name is neither a string nor a number")
	}
	return rooms, nil
}

// mapLen reads a map header.
func (t *toJSON) mapLen() (int, error) {
	c, err := t.dec.PeekCode()
	if err != nil {
		return 0, err
	}
	if !msgpcode.IsFixedMap(c) && c != msgpcode.Map16 && c != msgpcode.Map32 {
		return 0, fmt.Errorf("MessagePack code 0x%02x where an object was expected", c)
	}
	n, err := t.dec.DecodeMapLen()
	if err != nil {
		return 0, err
	}
	return n, t.fits(n, 2)
}

// key1 reads a map key; keys that are not strings are read as JSON.
func (t *toJSON) key1() (string, error) {
	if s, ok, err := t.string1(); err != nil || ok {
		return s, err
	}
	return "", nil // string1 consumed the value
}

// string1 reads a string, or a number in its JavaScript form; any other
// value is consumed and reported as not a string.
func (t *toJSON) string1() (string, bool, error) {
	c, err := t.dec.PeekCode()
	if err != nil {
		return "", false, err
	}
	if msgpcode.IsString(c) {
		n, err := t.dec.DecodeBytesLen()
		if err != nil {
			return "", false, err
		}
		b, err := t.readBytes(n)
		return toWellFormed(b), true, err
	}
	if f, ok, err := t.number(); err != nil || ok {
		return string(appendJSNumber(nil, f)), ok, err
	}
	return "", false, t.skip(1)
}

// toWellFormed decodes UTF-8 as Node's Buffer.toString does: invalid bytes
// become U+FFFD.
func toWellFormed(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\ufffd")
}

// number reads a number as a float 64, or reports false without consuming
// anything when the next value is not one.
func (t *toJSON) number() (float64, bool, error) {
	c, err := t.dec.PeekCode()
	if err != nil {
		return 0, false, err
	}
	switch {
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := t.dec.DecodeFloat64()
		return f, err == nil, err
	case c == msgpcode.Uint64:
		u, err := t.dec.DecodeUint64()
		return float64(u), err == nil, err
	case msgpcode.IsFixedNum(c), c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64,
		c == msgpcode.Uint8, c == msgpcode.Uint16, c == msgpcode.Uint32:
		i, err := t.dec.DecodeInt64()
		return float64(i), err == nil, err
	}
	return 0, false, nil
}

// skip consumes the next value, within the depth limit.
func (t *toJSON) skip(depth int) error {
	return t.sub().value(depth)
}

// jsonOptions is {rooms, except, flags} as JSON or converted MessagePack.
type jsonOptions struct {
	Rooms  []json.RawMessage `json:"rooms"`
	Except []json.RawMessage `json:"except"`
	Flags  struct {
		Volatile bool    `json:"volatile"`
		Compress *bool   `json:"compress"`
		Local    bool    `json:"local"`
		Timeout  float64 `json:"timeout"`
	} `json:"flags"`
}

// optionsFromJSON reads broadcast options; missing lists are empty, and a
// flag of the wrong type is an error.
func optionsFromJSON(raw json.RawMessage) (Options, error) {
	var o Options
	if len(raw) == 0 || string(raw) == "null" {
		return o, nil
	}
	var j jsonOptions
	if err := json.Unmarshal(raw, &j); err != nil {
		return o, fmt.Errorf("broadcast options: %w", err)
	}
	var err error
	if o.Rooms, err = roomList(j.Rooms); err != nil {
		return o, fmt.Errorf("rooms: %w", err)
	}
	if o.Except, err = roomList(j.Except); err != nil {
		return o, fmt.Errorf("except: %w", err)
	}
	o.Flags = Flags{Volatile: j.Flags.Volatile, Compress: j.Flags.Compress, Local: j.Flags.Local}
	if j.Flags.Timeout > 0 {
		o.Flags.Timeout = int64(j.Flags.Timeout)
	}
	return o, nil
}

// roomList reads room names. Node allows numbers as room names; they are
// kept in the form JavaScript prints them.
func roomList(raw []json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	rooms := make([]string, 0, len(raw))
	for _, r := range raw {
		var s string
		if json.Unmarshal(r, &s) == nil {
			rooms = append(rooms, s)
			continue
		}
		var f float64
		if json.Unmarshal(r, &f) == nil {
			rooms = append(rooms, strconv.FormatFloat(f, 'f', -1, 64))
			continue
		}
		return nil, fmt.Errorf("room name %.20s is not a string", r)
	}
	return rooms, nil
}

var errEmptyMessage = errors.New("empty message")

// jsonString reads a JSON string, quickly when it has no escapes.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}
