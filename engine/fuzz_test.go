package engine

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"
)

// Every decoder must reject or accept any input without panicking, and what
// it accepts must survive a round trip through the matching encoder.

func FuzzDecodePayloadV4(f *testing.F) {
	for _, s := range []string{"4hello", "4test1\x1e4test2", "4hello\x1ebAQIDBA==", "2", "3probe", "b", "bAQI", "abc", "4a\x1e", "\x1e", "6\x1e1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pkts, err := decodePayloadV4(body)
		if err != nil {
			return
		}
		again, err := decodePayloadV4(encodePayloadV4(pkts))
		if err != nil {
			t.Fatalf("re-encoding %q produced an undecodable payload: %v", body, err)
		}
		samePackets(t, again, pkts)
	})
}

func FuzzDecodePayloadV3Text(f *testing.F) {
	for _, s := range []string{"6:4hello", "5:4é🙂€", "10:b4AQIDBA==", "1:2", "0:", "2:4🙂", "x:4", "99999999999:4", "1:b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pkts, err := decodePayloadV3Text(body)
		if err != nil || len(pkts) == 0 {
			return
		}
		again, err := decodePayloadV3Text(encodePayloadV3Text(pkts))
		if err != nil {
			t.Fatalf("re-encoding %q produced an undecodable payload: %v", body, err)
		}
		samePackets(t, again, pkts)
	})
}

func FuzzDecodePayloadV3Binary(f *testing.F) {
	f.Add([]byte{0, 4, 255, '4', 'h', 0xc3, 0xa9, 1, 4, 255, 4, 1, 2, 3})
	f.Add([]byte{0, 1, 2, 255})
	f.Add([]byte{1, 1, 255, 9})
	f.Add([]byte{0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 255})
	f.Fuzz(func(t *testing.T, body []byte) {
		pkts, err := decodePayloadV3Binary(body)
		if err != nil || len(pkts) == 0 {
			return
		}
		again, err := decodePayloadV3Binary(encodePayloadV3Binary(pkts))
		if err != nil {
			t.Fatalf("re-encoding %v produced an undecodable payload: %v", body, err)
		}
		samePackets(t, again, pkts)
	})
}

func FuzzDecodeWebSocketMessage(f *testing.F) {
	f.Add(4, true, []byte("4hello"))
	f.Add(4, false, []byte{1, 2, 3})
	f.Add(3, false, []byte{4, 1, 2})
	f.Add(3, true, []byte("b4AQI="))
	f.Add(3, false, []byte{})
	f.Fuzz(func(t *testing.T, protocol int, isText bool, data []byte) {
		if protocol != 3 {
			protocol = 4
		}
		kind := websocket.BinaryMessage
		if isText {
			kind = websocket.TextMessage
		}
		p, err := decodeWS(protocol, kind, data)
		if err != nil {
			return
		}
		if p.binary && !isText && protocol == 4 {
			_, wire := websocketData(protocol, p, false)
			if !bytes.Equal(wire, data) {
				t.Fatalf("binary frame %v re-encoded as %v", data, wire)
			}
		}
	})
}

func FuzzJSONPData(f *testing.F) {
	f.Add([]byte(`d=6%3A4a%5Cnb%5C%5Cn`))
	f.Add([]byte(`d=`))
	f.Add([]byte(`x=1&d=%ZZ`))
	f.Fuzz(func(t *testing.T, body []byte) {
		jsonpData(body)
	})
}

func samePackets(t *testing.T, got, want []packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("round trip: %d packets, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].typ != want[i].typ || got[i].binary != want[i].binary || !bytes.Equal(got[i].data, want[i].data) {
			t.Fatalf("round trip: packet %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
