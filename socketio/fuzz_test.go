package socketio

import (
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
