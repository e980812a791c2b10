package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func mustArgs(t testing.TB, values ...any) Args {
	t.Helper()
	a, err := NewArgs(values...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEncodePinsWireStrings(t *testing.T) {
	buf := []byte{1, 2, 3}
	tests := []struct {
		name        string
		packet      Packet
		text        string
		attachments int
	}{
		{"connect to main namespace (v5)", Packet{Type: PacketConnect, Namespace: "/", Data: []byte(`{"sid":"abc"}`)}, `0{"sid":"abc"}`, 0},
		{"connect to main namespace (v4)", Packet{Type: PacketConnect, Namespace: "/"}, `0`, 0},
		{"connect to custom namespace (v4)", Packet{Type: PacketConnect, Namespace: "/admin"}, `0/admin,`, 0},
		{"connect with auth", Packet{Type: PacketConnect, Namespace: "/admin", Data: []byte(`{"token":"x"}`)}, `0/admin,{"token":"x"}`, 0},
		{"disconnect", Packet{Type: PacketDisconnect, Namespace: "/"}, `1`, 0},
		{"disconnect from namespace", Packet{Type: PacketDisconnect, Namespace: "/admin"}, `1/admin,`, 0},
		{"event", Packet{Type: PacketEvent, Namespace: "/", EventName: "ev", Args: mustArgs(t, 1)}, `2["ev",1]`, 0},
		{"event without args", Packet{Type: PacketEvent, Namespace: "/", EventName: "ev"}, `2["ev"]`, 0},
		{"event with ack id", Packet{Type: PacketEvent, Namespace: "/", EventName: "ev", HasID: true, ID: 12, Args: mustArgs(t, "a")}, `212["ev","a"]`, 0},
		{"event in namespace with ack", Packet{Type: PacketEvent, Namespace: "/chat", EventName: "ev", HasID: true, ID: 0, Args: mustArgs(t, map[string]any{"a": []any{true, nil}})}, `2/chat,0["ev",{"a":[true,null]}]`, 0},
		{"ack", Packet{Type: PacketAck, Namespace: "/", HasID: true, ID: 1, Args: mustArgs(t, "x", 2.5)}, `31["x",2.5]`, 0},
		{"ack without args", Packet{Type: PacketAck, Namespace: "/", HasID: true, ID: 7}, `37[]`, 0},
		{"connect error (v5)", Packet{Type: PacketConnectError, Namespace: "/random", Data: []byte(`{"message":"Invalid namespace"}`)}, `4/random,{"message":"Invalid namespace"}`, 0},
		{"error with raw value (v4)", Packet{Type: PacketConnectError, Namespace: "/", Data: []byte(`"Not authorized"`)}, `4"Not authorized"`, 0},
		{"binary event", Packet{Type: PacketEvent, Namespace: "/", EventName: "ev", Args: mustArgs(t, buf)}, `51-["ev",{"_placeholder":true,"num":0}]`, 1},
		{"nested binary event in namespace with ack", Packet{Type: PacketEvent, Namespace: "/b", EventName: "ev", HasID: true, ID: 3, Args: mustArgs(t, map[string]any{"x": []any{buf, "s"}}, buf)},
			`52-/b,3["ev",{"x":[{"_placeholder":true,"num":0},"s"]},{"_placeholder":true,"num":1}]`, 2},
		{"binary ack", Packet{Type: PacketAck, Namespace: "/", HasID: true, ID: 789, Args: mustArgs(t, buf, buf)},
			`62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, 2},
		{"every integer type", Packet{Type: PacketEvent, Namespace: "/", EventName: "n", Args: mustArgs(t, int8(-1), uint8(2), int16(-3), uint16(4), int32(5), uint32(6), int64(-7), uint64(8), uint(9), json.Number("1e3"))},
			`2["n",-1,2,-3,4,5,6,-7,8,9,1e3]`, 0},
		{"strings like JSON.stringify", Packet{Type: PacketEvent, Namespace: "/", EventName: "é\"", Args: mustArgs(t, "<b>&\n\x01", 1e21, 1e-7, 0.1, math.Copysign(0, -1))},
			`2["é\"","<b>&\n\u0001",1e+21,1e-7,0.1,0]`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(encodePacket(&tc.packet))
			if got != tc.text {
				t.Errorf("encoded as\n %s\nwant\n %s", got, tc.text)
			}
			if n := len(tc.packet.Args.Attachments); n != tc.attachments {
				t.Errorf("%d attachments, want %d", n, tc.attachments)
			}
		})
	}
}

func TestDecodeAcceptsWhatClientsSend(t *testing.T) {
	tests := []struct {
		in          string
		typ         PacketType
		nsp         string
		id          int64 // -1: none
		event       string
		args        []string
		data        string
		attachments int
	}{
		{in: `0`, typ: PacketConnect, nsp: "/", id: -1},
		{in: `0{"token":"123"}`, typ: PacketConnect, nsp: "/", id: -1, data: `{"token":"123"}`},
		{in: `0/custom,`, typ: PacketConnect, nsp: "/custom", id: -1},
		{in: `0/custom`, typ: PacketConnect, nsp: "/custom", id: -1},
		{in: `0/admin,{"token":"x"}`, typ: PacketConnect, nsp: "/admin", id: -1, data: `{"token":"x"}`},
		{in: `0/admin?token=x&a=b,`, typ: PacketConnect, nsp: "/admin?token=x&a=b", id: -1},
		{in: `1`, typ: PacketDisconnect, nsp: "/", id: -1},
		{in: `1/custom,`, typ: PacketDisconnect, nsp: "/custom", id: -1},
		{in: `2["ev",1]`, typ: PacketEvent, nsp: "/", id: -1, event: "ev", args: []string{`1`}},
		{in: `2["message",1,"2",{"3":[true]}]`, typ: PacketEvent, nsp: "/", id: -1, event: "message", args: []string{`1`, `"2"`, `{"3":[true]}`}},
		{in: `2456["message-with-ack",1,"2",{"3":[false]}]`, typ: PacketEvent, nsp: "/", id: 456, event: "message-with-ack", args: []string{`1`, `"2"`, `{"3":[false]}`}},
		{in: `2/chat,7["a\"b", [1, "]" ] , {"k":"}{,"} ]`, typ: PacketEvent, nsp: "/chat", id: 7, event: `a"b`, args: []string{`[1, "]" ]`, `{"k":"}{,"}`}},
		{in: `2[42]`, typ: PacketEvent, nsp: "/", id: -1, event: "42"},
		{in: `31["x"]`, typ: PacketAck, nsp: "/", id: 1, args: []string{`"x"`}},
		{in: `3/a,0[]`, typ: PacketAck, nsp: "/a", id: 0},
		{in: `51-["ev",{"_placeholder":true,"num":0}]`, typ: PacketEvent, nsp: "/", id: -1, event: "ev", args: []string{`{"_placeholder":true,"num":0}`}, attachments: 1},
		{in: `62-/n,789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, typ: PacketAck, nsp: "/n", id: 789, args: []string{`{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":1}`}, attachments: 2},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, n, err := decodePacket([]byte(tc.in), defaultMaxAttachments)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if p.Type != tc.typ || p.Namespace != tc.nsp || p.EventName != tc.event || n != tc.attachments {
				t.Errorf("got type %s nsp %q event %q attachments %d", p.Type, p.Namespace, p.EventName, n)
			}
			if (tc.id >= 0) != p.HasID || (p.HasID && int64(p.ID) != tc.id) {
				t.Errorf("got id %d (has %v), want %d", p.ID, p.HasID, tc.id)
			}
			if string(p.Data) != tc.data {
				t.Errorf("got data %s, want %s", p.Data, tc.data)
			}
			var got []string
			for _, a := range p.Args.JSON {
				got = append(got, string(a))
			}
			if strings.Join(got, "|") != strings.Join(tc.args, "|") {
				t.Errorf("got args %q, want %q", got, tc.args)
			}
		})
	}
}

func TestDecodeRejectsWhatSocketIOParserRejects(t *testing.T) {
	for _, in := range []string{
		``,
		`4abc`,                       // CONNECT_ERROR with a payload that is not JSON
		`7`,                          // unknown type
		`a`,                          // unknown type
		`2{}`,                        // event payload is not an array
		`2`,                          // event without payload
		`2[]`,                        // event without name
		`2[null]`,                    // event name not a string
		`2[{}]`,                      // event name not a string
		`2abc["message-with-ack",1]`, // invalid ack id
		`2["connect"]`,
		`2["connect_error"]`,
		`2["disconnect",1]`,
		`2["disconnecting"]`,
		`2["newListener"]`,
		`2["removeListener"]`,
		`2["ev",]`,
		`2["ev"`,
		`3{}`,
		`1{}`,          // disconnect with payload
		`0[]`,          // connect payload must be an object
		`0"x"`,         // connect payload must be an object
		`4[1]`,         // connect error must be an object or string
		`5-["ev"]`,     // no attachment count
		`50-["ev"]`,    // zero attachments
		`5a-["ev"]`,    // bad count
		`51["ev"]`,     // no dash
		`511-["ev"]`,   // too many attachments (limit 10)
		`599999-["e"]`, // far too many
		`299999999999999999999999["ev"]`,
	} {
		if p, _, err := decodePacket([]byte(in), defaultMaxAttachments); err == nil {
			t.Errorf("%q accepted as %+v", in, p)
		}
	}
}

func TestDecoderReassemblesAttachments(t *testing.T) {
	var d decoder
	if _, err := d.add([]byte(`52-789["message",{"_placeholder":true,"num":0},{"n":{"_placeholder":true,"num":1}}]`), false); !errors.Is(err, errIncomplete) {
		t.Fatalf("text part: %v", err)
	}
	if _, err := d.add([]byte{1, 2, 3}, true); !errors.Is(err, errIncomplete) {
		t.Fatalf("first attachment: %v", err)
	}
	p, err := d.add([]byte{4, 5, 6}, true)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != PacketEvent || p.EventName != "message" || !p.HasID || p.ID != 789 {
		t.Fatalf("got %+v", p)
	}
	if b, ok := p.Args.Bytes(0); !ok || !bytes.Equal(b, []byte{1, 2, 3}) {
		t.Errorf("arg 0: %v %v", b, ok)
	}
	var nested struct{ N []byte }
	if err := p.Args.Decode(1, &nested); err != nil || !bytes.Equal(nested.N, []byte{4, 5, 6}) {
		t.Errorf("arg 1: %v %v", nested, err)
	}
	v, err := p.Args.Value(1)
	if err != nil || !bytes.Equal(v.(map[string]any)["n"].([]byte), []byte{4, 5, 6}) {
		t.Errorf("arg 1 as value: %v %v", v, err)
	}
	// Re-encoding the decoded packet gives the same bytes: the relay path.
	out := Packet{Type: PacketEvent, Namespace: "/", EventName: "message-back", Args: p.Args}
	if got := string(encodePacket(&out)); got != `52-["message-back",{"_placeholder":true,"num":0},{"n":{"_placeholder":true,"num":1}}]` {
		t.Errorf("re-encoded as %s", got)
	}
}

func TestDecoderRejectsBadAttachmentSequences(t *testing.T) {
	t.Run("binary without a packet", func(t *testing.T) {
		var d decoder
		if _, err := d.add([]byte{1}, true); err == nil || errors.Is(err, errIncomplete) {
			t.Errorf("accepted: %v", err)
		}
	})
	t.Run("text while waiting for attachments", func(t *testing.T) {
		var d decoder
		d.add([]byte(`51-["ev",{"_placeholder":true,"num":0}]`), false)
		if _, err := d.add([]byte(`2["ev"]`), false); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("placeholder out of range", func(t *testing.T) {
		var d decoder
		d.add([]byte(`51-["ev",{"_placeholder":true,"num":1}]`), false)
		if _, err := d.add([]byte{1}, true); err == nil || errors.Is(err, errIncomplete) {
			t.Errorf("accepted: %v", err)
		}
	})
	t.Run("placeholder num not a number", func(t *testing.T) {
		var d decoder
		d.add([]byte(`51-["ev",[{"_placeholder":true,"num":"0"}]]`), false)
		if _, err := d.add([]byte{1}, true); err == nil || errors.Is(err, errIncomplete) {
			t.Errorf("accepted: %v", err)
		}
	})
}

func TestArgsSpliceRenumbersPlaceholders(t *testing.T) {
	inner := mustArgs(t, "a", []byte{9})
	a := mustArgs(t, []byte{1}, inner, map[string]any{"z": []byte{2}})
	var got []string
	for _, r := range a.JSON {
		got = append(got, string(r))
	}
	want := `{"_placeholder":true,"num":0}|"a"|{"_placeholder":true,"num":1}|{"z":{"_placeholder":true,"num":2}}`
	if strings.Join(got, "|") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if len(a.Attachments) != 3 || a.Attachments[1][0] != 9 || a.Attachments[2][0] != 2 {
		t.Errorf("attachments %v", a.Attachments)
	}
}

func TestArgsRejectInvalidRawJSON(t *testing.T) {
	if _, err := NewArgs(json.RawMessage(`{`)); err == nil {
		t.Error("invalid json.RawMessage accepted")
	}
}
