package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecodePacket checks that the decoder never panics, and that whatever
// it accepts encodes back into a packet it accepts again with the same
// meaning.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{
		`0`, `0{"token":"123"}`, `0/custom,`, `0/admin?x=1,`, `1`, `1/a,`,
		`2["ev",1]`, `2/chat,7["a\"b",[1,"]"],{"k":"}{,"}]`, `2456["m",1,"2",{"3":[false]}]`,
		`31["x"]`, `4{"message":"x"}`, `4"raw"`, `2[42]`, `2["ev", 1 , 2 ]`,
		`51-["ev",{"_placeholder":true,"num":0}]`, `62-/n,789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, n, err := decodePacket(data, defaultMaxAttachments)
		if err != nil {
			return
		}
		if n > 0 {
			p.Args.Attachments = make([][]byte, n)
		}
		again, n2, err := decodePacket(encodePacket(p), defaultMaxAttachments)
		if err != nil {
			t.Fatalf("%q decoded, re-encoded as %q, which is refused: %v", data, encodePacket(p), err)
		}
		if again.Type != p.Type || again.Namespace != p.Namespace || again.HasID != p.HasID || again.ID != p.ID ||
			again.EventName != p.EventName || len(again.Args.JSON) != len(p.Args.JSON) || n2 != n {
			t.Fatalf("%q: round trip changed %+v into %+v", data, p, again)
		}
	})
}

// FuzzDecoder feeds a sequence of text and binary messages to one decoder:
// it must never panic, and every packet it returns must have its
// placeholders pointing at attachments it holds.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte(`52-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), []byte{1, 2}, []byte{3}, true)
	f.Add([]byte(`51-["m",{"_placeholder":true,"num":3}]`), []byte{1}, []byte{2}, false)
	f.Fuzz(func(t *testing.T, text, bin1, bin2 []byte, secondBinary bool) {
		var d decoder
		for i, m := range []struct {
			data   []byte
			binary bool
		}{{text, false}, {bin1, true}, {bin2, secondBinary}} {
			p, err := d.add(m.data, m.binary)
			if err != nil {
				if !errors.Is(err, errIncomplete) {
					return
				}
				continue
			}
			if len(p.Args.Attachments) > 0 {
				if _, err := p.Args.Values(); err != nil {
					t.Fatalf("message %d: accepted a packet whose arguments do not decode: %v", i, err)
				}
			}
		}
	})
}

// FuzzArgsRoundTrip encodes a string and bytes as event arguments, nested
// and not, and checks that decoding the packet gives them back.
func FuzzArgsRoundTrip(f *testing.F) {
	f.Add("hello", []byte{1, 2, 3})
	f.Add("\u2028<script>\"\\\x00\xff", []byte{})
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		args, err := NewArgs(s, b, map[string]any{"k": []any{b, s, 1.5}})
		if err != nil {
			t.Fatal(err)
		}
		text := encodePacket(&Packet{Type: PacketEvent, Namespace: "/", EventName: s, Args: args})
		p, n, err := decodePacket(text, defaultMaxAttachments)
		if err != nil {
			if reservedEvent(s) {
				return
			}
			t.Fatalf("%q refused: %v", text, err)
		}
		if n != 2 {
			t.Fatalf("%d attachments announced, want 2", n)
		}
		p.Args.Attachments = args.Attachments
		var want string
		if err := json.Unmarshal(mustMarshal(t, s), &want); err != nil {
			t.Fatal(err)
		}
		if p.EventName != want {
			t.Errorf("event name %q, want %q", p.EventName, want)
		}
		var got0 string
		if err := p.Args.Decode(0, &got0); err != nil || got0 != want {
			t.Errorf("argument 0: %q %v, want %q", got0, err, want)
		}
		if got1, ok := p.Args.Bytes(1); !ok || !bytes.Equal(got1, b) {
			t.Errorf("argument 1: %v %v, want %v", got1, ok, b)
		}
		var nested struct{ K []any }
		if err := p.Args.Decode(2, &nested); err != nil || len(nested.K) != 3 {
			t.Fatalf("argument 2: %v %v", nested, err)
		}
		v, err := p.Args.Value(2)
		if err != nil {
			t.Fatal(err)
		}
		k := v.(map[string]any)["k"].([]any)
		if !bytes.Equal(k[0].([]byte), b) || k[1].(string) != want || k[2].(float64) != 1.5 {
			t.Errorf("argument 2 decoded as %v", k)
		}
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
