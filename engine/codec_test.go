package engine

import (
	"bytes"
	"testing"
)

func text(typ byte, data string) packet { return packet{typ: typ, data: []byte(data)} }
func bin(data ...byte) packet           { return packet{typ: packetMessage, binary: true, data: data} }

func TestPayloadV4Bytes(t *testing.T) {
	tests := []struct {
		name string
		pkts []packet
		wire string
	}{
		{"one text message", []packet{text(packetMessage, "hello")}, "4hello"},
		{"ping with no data", []packet{text(packetPing, "")}, "2"},
		{"probe pong", []packet{text(packetPong, "probe")}, "3probe"},
		{"several packets joined by 0x1e", []packet{text(packetMessage, "test1"), text(packetMessage, "test2"), text(packetMessage, "test3")}, "4test1\x1e4test2\x1e4test3"},
		{"binary as b + base64, no type", []packet{text(packetMessage, "hello"), bin(1, 2, 3, 4)}, "4hello\x1ebAQIDBA=="},
		{"utf-8 text kept as is", []packet{text(packetMessage, "€🙂")}, "4€🙂"},
		{"empty binary", []packet{bin()}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodePayloadV4(tt.pkts)
			if string(got) != tt.wire {
				t.Fatalf("encode = %q, want %q", got, tt.wire)
			}
			back, err := decodePayloadV4([]byte(tt.wire))
			if err != nil {
				t.Fatalf("decode %q: %v", tt.wire, err)
			}
			assertPackets(t, back, tt.pkts)
		})
	}
}

func TestDecodePayloadV4Errors(t *testing.T) {
	tests := []struct {
		wire      string
		delivered int // packets before the malformed one
	}{
		{"", 0},
		{"abc", 0},
		{"4a\x1e", 1},         // an empty packet after a separator
		{"4a\x1e9x\x1e4b", 1}, // unknown type: the rest is dropped
		{"b!!!", 0},           // not base64
	}
	for _, tt := range tests {
		pkts, err := decodePayloadV4([]byte(tt.wire))
		if err == nil {
			t.Errorf("decodePayloadV4(%q) accepted a malformed payload", tt.wire)
		}
		if len(pkts) != tt.delivered {
			t.Errorf("decodePayloadV4(%q) kept %d packets, want %d", tt.wire, len(pkts), tt.delivered)
		}
	}
}

func TestPayloadV3TextBytes(t *testing.T) {
	tests := []struct {
		name string
		pkts []packet
		wire string
	}{
		{"handshake-like", []packet{text(packetOpen, `{"sid":"x"}`)}, `12:0{"sid":"x"}`},
		{"two messages", []packet{text(packetMessage, "hello"), text(packetPing, "")}, "6:4hello1:2"},
		// JavaScript counts UTF-16 code units: é is 1, 🙂 is 2, € is 1.
		{"lengths in UTF-16 units", []packet{text(packetMessage, "é🙂€")}, "5:4é🙂€"},
		{"binary as b4 + base64", []packet{bin(1, 2, 3, 4)}, "10:b4AQIDBA=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := encodePayloadV3Text(tt.pkts)
			if string(got) != tt.wire {
				t.Fatalf("encode = %q, want %q", got, tt.wire)
			}
			back, err := decodePayloadV3Text([]byte(tt.wire))
			if err != nil {
				t.Fatalf("decode %q: %v", tt.wire, err)
			}
			assertPackets(t, back, tt.pkts)
		})
	}
}

func TestPayloadV3BinaryBytes(t *testing.T) {
	pkts := []packet{text(packetMessage, "hé"), bin(1, 2, 3)}
	// text: 0, length 4 ("4hé" is 4 UTF-8 bytes) as digit bytes, 255, bytes;
	// binary: 1, length 4 (type byte + 3), 255, type 4, data.
	want := []byte{0, 4, 255, '4', 'h', 0xc3, 0xa9, 1, 4, 255, 4, 1, 2, 3}
	got := encodePayloadV3Binary(pkts)
	if !bytes.Equal(got, want) {
		t.Fatalf("encode = %v, want %v", got, want)
	}
	back, err := decodePayloadV3Binary(want)
	if err != nil {
		t.Fatal(err)
	}
	assertPackets(t, back, pkts)

	long := bytes.Repeat([]byte{'x'}, 11)
	got = encodePayloadV3Binary([]packet{{typ: packetMessage, data: long}})
	if !bytes.Equal(got[:4], []byte{0, 1, 2, 255}) {
		t.Fatalf("length 12 must be the digit bytes 1, 2: got %v", got[:4])
	}
}

func TestDecodePayloadV3Errors(t *testing.T) {
	for _, wire := range []string{"", "5:4hi", "x:4hi", "2:4", "2:4🙂", "2:9x", "1:b"} {
		if _, err := decodePayloadV3Text([]byte(wire)); err == nil {
			t.Errorf("decodePayloadV3Text(%q) accepted a malformed payload", wire)
		}
	}
	for _, wire := range [][]byte{{0, 9, 255, '4'}, {0, 1}, {1, 1, 255, 9}, {0, 12, 255, '4'}, {0, 255}} {
		if _, err := decodePayloadV3Binary(wire); err == nil {
			t.Errorf("decodePayloadV3Binary(%v) accepted a malformed payload", wire)
		}
	}
}

func TestWebSocketFrames(t *testing.T) {
	tests := []struct {
		protocol int
		b64      bool
		p        packet
		kind     int
		wire     []byte
	}{
		{4, false, text(packetMessage, "hi"), 1, []byte("4hi")},
		{4, false, bin(1, 2), 2, []byte{1, 2}},
		{4, true, bin(1, 2), 1, []byte("bAQI=")},
		{3, false, bin(1, 2), 2, []byte{4, 1, 2}},
		{3, true, bin(1, 2), 1, []byte("b4AQI=")},
		{3, false, text(packetPong, "probe"), 1, []byte("3probe")},
	}
	for _, tt := range tests {
		kind, data := websocketData(tt.protocol, tt.p, tt.b64)
		if kind != tt.kind || !bytes.Equal(data, tt.wire) {
			t.Errorf("v%d b64=%v %+v: got frame %d %q, want %d %q", tt.protocol, tt.b64, tt.p, kind, data, tt.kind, tt.wire)
		}
		back, err := decodeWS(tt.protocol, kind, data)
		if err != nil {
			t.Errorf("decodeWS(%d, %q): %v", kind, data, err)
			continue
		}
		assertPackets(t, []packet{back}, []packet{tt.p})
	}
}

func TestHandshakeData(t *testing.T) {
	opts := newSettings(Options{})
	got := string(handshakeData("abc", opts, transportPolling))
	want := `{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if got != want {
		t.Fatalf("polling handshake = %s, want %s", got, want)
	}
	got = string(handshakeData("abc", opts, transportWebSocket))
	want = `{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	if got != want {
		t.Fatalf("websocket handshake = %s, want %s", got, want)
	}
}

func TestJSONP(t *testing.T) {
	got := string(jsonpWrap(jsonpIndex("1<script>2"), []byte("4a\"b\u2028")))
	want := `___eio[12]("4a\"b\u2028");`
	if got != want {
		t.Fatalf("jsonpWrap = %s, want %s", got, want)
	}
	data, err := jsonpData([]byte(`d=6%3A4a%5Cnb%5C%5Cn`))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "6:4a\nb\\n" {
		t.Fatalf("jsonpData = %q", data)
	}
}

func TestChooseEncoding(t *testing.T) {
	for header, want := range map[string]string{
		"":                           "",
		"gzip, deflate, br":          "gzip",
		"deflate":                    "deflate",
		"gzip;q=0.5, deflate":        "deflate",
		"gzip;q=0":                   "",
		"*":                          "gzip",
		"identity":                   "",
		"br, deflate;q=0.8, *;q=0.1": "deflate",
	} {
		if got := chooseEncoding(header); got != want {
			t.Errorf("chooseEncoding(%q) = %q, want %q", header, got, want)
		}
	}
}

func assertPackets(t *testing.T, got, want []packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.typ != w.typ || g.binary != w.binary || !bytes.Equal(g.data, w.data) {
			t.Errorf("packet %d = {%c %v %q}, want {%c %v %q}", i, g.typ, g.binary, g.data, w.typ, w.binary, w.data)
		}
	}
}
