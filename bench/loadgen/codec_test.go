package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestAppendSIOWritesTheWireBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  byte
		ns   string
		id   int64
		data string
		want string
	}{
		{"connect to the main namespace", sioConnect, "/", -1, "", "40"},
		{"connect to a custom namespace", sioConnect, "/chat", -1, "", "40/chat,"},
		{"event with an ack id", sioEvent, "/", 12, `["echo",1,2]`, `4212["echo",1,2]`},
		{"event in a namespace with an ack id", sioEvent, "/chat", 7, `["a"]`, `42/chat,7["a"]`},
		{"event without an ack", sioEvent, "/", -1, `["a"]`, `42["a"]`},
		{"ack id zero is an id", sioAck, "/", 0, `[]`, `430[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendSIO(nil, tc.typ, tc.ns, tc.id, []byte(tc.data)))
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeSIOReadsWhatServersSend(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want sioPacket
	}{
		{`40{"sid":"abc"}`, sioPacket{sioConnect, "/", -1, []byte(`{"sid":"abc"}`)}},
		{`40/chat,{"sid":"abc"}`, sioPacket{sioConnect, "/chat", -1, []byte(`{"sid":"abc"}`)}},
		{`40`, sioPacket{sioConnect, "/", -1, nil}},
		{`40/chat`, sioPacket{sioConnect, "/chat", -1, nil}}, // protocol 3 servers omit the comma
		{`430[]`, sioPacket{sioAck, "/", 0, []byte(`[]`)}},
		{`43/chat,15[]`, sioPacket{sioAck, "/chat", 15, []byte(`[]`)}},
		{`42["fanout",3,1000]`, sioPacket{sioEvent, "/", -1, []byte(`["fanout",3,1000]`)}},
		{`44{"message":"Invalid namespace"}`, sioPacket{sioConnectError, "/", -1, []byte(`{"message":"Invalid namespace"}`)}},
		{`451-/chat,["a",{"_placeholder":true,"num":0}]`, sioPacket{sioBinaryEvent, "/chat", -1, []byte(`["a",{"_placeholder":true,"num":0}]`)}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := decodeSIO([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tc.want.Type || got.Namespace != tc.want.Namespace || got.ID != tc.want.ID || !bytes.Equal(got.Data, tc.want.Data) {
				t.Fatalf("got %+v (data %q), want %+v (data %q)", got, got.Data, tc.want, tc.want.Data)
			}
		})
	}
}

func TestDecodeSIORefusesWhatIsNotASocketIOPacket(t *testing.T) {
	for _, in := range []string{"", "4", "2", "49", `45["a"]`} {
		if _, err := decodeSIO([]byte(in)); err == nil {
			t.Errorf("decodeSIO(%q) accepted it", in)
		}
	}
}

func TestPayloadsJoinAndSplitPerProtocol(t *testing.T) {
	packets := [][]byte{[]byte("40"), []byte(`42["é😀"]`)}
	for _, tc := range []struct {
		proto int
		wire  string
	}{
		{4, "40\x1e42[\"é😀\"]"},
		// Protocol 3 counts UTF-16 code units: é is one, 😀 two.
		{3, "2:409:42[\"é😀\"]"},
	} {
		got := appendPayload(nil, tc.proto, packets...)
		if string(got) != tc.wire {
			t.Errorf("EIO%d payload = %q, want %q", tc.proto, got, tc.wire)
		}
		split, err := splitPayload([]byte(tc.wire), tc.proto)
		if err != nil {
			t.Fatalf("EIO%d split: %v", tc.proto, err)
		}
		if len(split) != 2 || string(split[0]) != "40" || string(split[1]) != `42["é😀"]` {
			t.Errorf("EIO%d split = %q", tc.proto, split)
		}
	}
}

func TestSplitPayloadRefusesBrokenProtocol3Framing(t *testing.T) {
	for _, in := range []string{"40", "x:40", "5:40", "\x00\x02\xff40"} {
		if _, err := splitPayload([]byte(in), 3); err == nil {
			t.Errorf("splitPayload(%q) accepted it", in)
		}
	}
}

func TestParseOpenReadsNodesHandshake(t *testing.T) {
	o, err := parseOpen([]byte(`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	if err != nil {
		t.Fatal(err)
	}
	if o.SID != "lv_VI97HAXpY6yYWAAAC" || o.pingInterval().Seconds() != 25 || o.PingTimeout != 20000 || o.MaxPayload != 1000000 {
		t.Fatalf("parsed %+v", o)
	}
	for _, bad := range []string{`40`, `0{}`, `0{"sid":"x"}`, `0not json`} {
		if _, err := parseOpen([]byte(bad)); err == nil {
			t.Errorf("parseOpen(%q) accepted it", bad)
		}
	}
}

func TestStampsSurviveARelay(t *testing.T) {
	args := appendStamp(nil, "fanout", 42, 1234567, 3)
	if string(args) != `["fanout",42,1234567,"xxx"]` {
		t.Fatalf("stamp = %s", args)
	}
	seq, at, ok := parseStamp(args)
	if !ok || seq != 42 || at != 1234567 {
		t.Fatalf("parseStamp(%s) = %d, %d, %v", args, seq, at, ok)
	}
	for _, bad := range []string{``, `[]`, `["fanout"]`, `["fanout",1]`, `["fanout","a",2]`} {
		if _, _, ok := parseStamp([]byte(bad)); ok {
			t.Errorf("parseStamp(%s) accepted it", bad)
		}
	}
}

func TestHistogramQuantilesAreWithinABucket(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 10000; v++ {
		h.record(v)
	}
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0.5, 5000}, {0.99, 9900}, {1, 10000}} {
		got := h.quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff > 0.035 || diff < -0.035 {
			t.Errorf("quantile(%v) = %d, want %d within 3.5%%", tc.q, got, tc.want)
		}
	}
	var small histogram
	small.record(3)
	small.record(7)
	if small.quantile(0.5) != 3 || small.quantile(1) != 7 {
		t.Errorf("small values must be exact: p50 %d, max %d", small.quantile(0.5), small.quantile(1))
	}
	var merged histogram
	merged.merge(&h)
	merged.merge(&small)
	if merged.n != 10002 || merged.max != 10000 {
		t.Errorf("merged n %d max %d", merged.n, merged.max)
	}
}

func TestParseStatSumsUserAndSystemTime(t *testing.T) {
	// A command name with spaces and parentheses, as node's can be.
	line := "4242 (node (main) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 11 0 100 1000000 3000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != 1 || st.cpu.Seconds() != 3 || st.sys.Seconds() != 0.5 || st.rss != 3000*int64(os.Getpagesize()) {
		t.Fatalf("parsed %+v", st)
	}
	if _, err := parseStat([]byte("4242 (node) S 1")); err == nil || !strings.Contains(err.Error(), "fields") {
		t.Fatalf("short line: %v", err)
	}
}

func TestMedianOfResults(t *testing.T) {
	rs := []result{{OpsPerSec: 3}, {OpsPerSec: 1}, {OpsPerSec: 2}}
	if m := median(rs, func(r result) float64 { return r.OpsPerSec }); m != 2 {
		t.Fatalf("median = %v", m)
	}
	if m := median(rs[:2], func(r result) float64 { return r.OpsPerSec }); m != 2 {
		t.Fatalf("median of two = %v", m)
	}
}
