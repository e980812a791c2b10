package redisadapter

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// Seeds recorded from the Node libraries by testdata/wire_fixtures.js.
var fuzzSeeds = []string{
	// io.to("room1").emit("chat", "hi", 1, 1.5, ...)
	"93a636366c61667583a47479706502a4646174619ca463686174a2686901cb3ff8000000000000fdcd012cce00011170cf0000010000000000d3ffffff0000000000c3c082a16101a162920102a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380",
	// emitter.to("room1").except("room2").emit("ev", Buffer, {x: 1})
	"93a7656d697474657283a47479706502a46461746193a26576c402ff0081a17801a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677380a665786365707491a5726f6f6d32",
	// a broadcast with acknowledgements (request type 7)
	"85a3756964a636366c616675a9726571756573744964a6624863315a52a47479706507a67061636b657483a47479706502a46461746193a361736ba171c40109a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f757432",
	// a client's acknowledgement of it (response type 9)
	"83a47479706509a9726571756573744964a472657134a67061636b657481a6616e73776572c4020402",
	// dates
	"93a7656d697474657283a47479706502a46461746198a56461746573d6ff6553f100d7ff1d5353006553f100c70cff1dcd6500fffffffffffffffec70cff004c4b400000000400000000c70cff000000000000003afff44180c081a17601a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380",
}

var fuzzJSONSeeds = []string{
	`{"uid":"66lafu","requestId":"XADN80","type":5,"opts":{"rooms":["room1"],"except":["room2"]}}`,
	`{"type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room3"]}`,
	`{"uid":"66lafu","type":4,"opts":{"rooms":["room1"],"except":[]},"close":true}`,
	`{"uid":"66lafu","requestId":"fPrLpA","type":6,"data":["question",42]}`,
	`{"requestId":"req1","sockets":[{"id":"AAAAAAAAAAAAAAAAAAAA","handshake":{},"rooms":["r"],"data":null}]}`,
	`{"type":8,"requestId":"req4","clientCount":1}`,
	`{"requestId":"req2","rooms":["a",1]}`,
}

func addSeeds(f *testing.F) {
	for _, s := range fuzzSeeds {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	for _, s := range fuzzJSONSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}) // an array claiming 4G elements
	f.Add(bytes.Repeat([]byte{0x91}, 10000))    // nested deeper than allowed
}

// Whatever is published, the decoders return an error or a value, never
// panic, and what they return is well-formed: arguments are valid JSON whose
// placeholders point at attachments.
func FuzzDecodeBroadcast(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeBroadcast(b)
		if err != nil {
			return
		}
		checkArgs(t, m.Packet.Args, m.Packet.Attachments)
		// What we decoded we can publish again, and it reads back the same.
		out, err := encodeBroadcast(m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		m2, err := decodeBroadcast(out)
		if err != nil {
			t.Fatalf("our own encoding does not decode: %v\n%x", err, out)
		}
		if joinArgs(m2.Packet.Args) != joinArgs(m.Packet.Args) || m2.Packet.Event != m.Packet.Event {
			t.Fatalf("round trip changed the arguments:\n%s\n%s", joinArgs(m.Packet.Args), joinArgs(m2.Packet.Args))
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			return
		}
		if r.Packet != nil {
			checkArgs(t, r.Packet.Args, r.Packet.Attachments)
		}
		for _, d := range r.Data {
			if !json.Valid(d) {
				t.Fatalf("invalid JSON in data: %q", d)
			}
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeResponse(b)
		if err != nil {
			return
		}
		if r.Ack != nil {
			checkArgs(t, []json.RawMessage{r.Ack}, r.AckAttachments)
		}
	})
}

// FuzzMsgpackToJSON checks the converter on any value: valid JSON comes
// out, and converting it back and forth again is stable.
func FuzzMsgpackToJSON(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		js, atts, err := msgpackToJSON(b)
		if err != nil {
			return
		}
		checkArgs(t, []json.RawMessage{js}, atts)
		e := newToMsgpack(atts)
		if err := e.json(js); err != nil {
			t.Fatalf("converted JSON does not convert back: %v\n%s", err, js)
		}
		js2, _, err := msgpackToJSON(e.buf.Bytes())
		if err != nil || !bytes.Equal(js, js2) {
			t.Fatalf("unstable conversion (%v):\n%s\n%s", err, js, js2)
		}
	})
}

func checkArgs(t *testing.T, args []json.RawMessage, atts [][]byte) {
	t.Helper()
	for _, a := range args {
		if !json.Valid(a) {
			t.Fatalf("invalid JSON argument %q", a)
		}
	}
}

// FuzzJSONToMsgpack checks the JSON scanner against encoding/json: it
// accepts what json.Valid accepts (and nothing json.Valid refuses), and
// the value survives the trip to MessagePack and back.
func FuzzJSONToMsgpack(f *testing.F) {
	for _, s := range fuzzJSONSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`1.5e300`, `-0`, `"\u00e9\ud83d\ude00"`, `[1,[2,[3]]]`, `{"_placeholder":true,"num":0}`, `012`, `1e`, `"\x01"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e := newToMsgpack(nil)
		err := e.json(b)
		if valid := json.Valid(b); (err == nil) != valid {
			if !(valid && errors.Is(err, errTooDeep)) {
				t.Fatalf("json.Valid %v, scanner error %v, for %q", valid, err, b)
			}
		}
		if err != nil {
			return
		}
		back, _, err := msgpackToJSON(e.buf.Bytes())
		if err != nil {
			t.Fatalf("our MessagePack does not decode: %v", err)
		}
		var v1, v2 any
		if json.Unmarshal(back, &v2) != nil {
			t.Fatalf("round trip %q -> %q is not JSON", b, back)
		}
		if json.Unmarshal(b, &v1) != nil {
			return // a number beyond float 64, which JavaScript reads as Infinity
		}
		if !reflect.DeepEqual(v1, v2) {
			t.Fatalf("round trip changed the value:\n%q\n%q", b, back)
		}
	})
}
