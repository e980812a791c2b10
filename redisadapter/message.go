package redisadapter

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

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
	uid, err := t.raw(1)
	if err != nil {
		return nil, err
	}
	_ = json.Unmarshal(uid, &m.UID) // an emitter's uid may be anything
	p, err := t.packet()
	if err != nil {
		return nil, err
	}
	m.Packet = *p
	if n == 3 {
		o, err := t.raw(1)
		if err != nil {
			return nil, err
		}
		if m.Opts, err = optionsFromJSON(o); err != nil {
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
	p := &Packet{Nsp: "/", ID: -1}
	args := t.sub()
	var data []json.RawMessage
	hasData := false
	fields, err := t.mapFields(map[string]func(*toJSON) error{
		"data": func(t *toJSON) error {
			c, err := t.dec.PeekCode()
			if err != nil {
				return err
			}
			if !msgpcode.IsFixedArray(c) && c != msgpcode.Array16 && c != msgpcode.Array32 {
				return fmt.Errorf("MessagePack code 0x%02x; want the array [event, ...args]", c)
			}
			n, err := t.dec.DecodeArrayLen()
			if err != nil {
				return err
			}
			if err := t.fits(n, 1); err != nil {
				return err
			}
			data = make([]json.RawMessage, 0, n)
			for range n {
				a, err := args.arg(2)
				if err != nil {
					return err
				}
				data = append(data, a)
			}
			hasData = true
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("packet: %w", err)
	}
	var typ float64
	if err := json.Unmarshal(fields["type"], &typ); err != nil {
		return nil, fmt.Errorf("packet type is %.20s; want a number", fields["type"])
	}
	p.Type = int(typ)
	if p.Type != packetEvent && p.Type != packetBinaryEvent {
		return nil, fmt.Errorf("packet type %v cannot be broadcast; want an event (2 or 5)", typ)
	}
	if raw, ok := fields["nsp"]; ok {
		_ = json.Unmarshal(raw, &p.Nsp)
	}
	if raw, ok := fields["id"]; ok {
		var id float64
		if json.Unmarshal(raw, &id) == nil && id >= 0 && id == float64(int64(id)) {
			p.ID = int64(id)
		}
	}
	if !hasData || len(data) == 0 {
		return nil, errors.New("packet without data; want [event, ...args]")
	}
	if err := json.Unmarshal(data[0], &p.Event); err != nil {
		return nil, fmt.Errorf("event name is %.20s; want a string", data[0])
	}
	p.Args = data[1:]
	p.Attachments = args.atts
	return p, nil
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
