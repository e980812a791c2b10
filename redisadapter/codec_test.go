package redisadapter

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
	"github.com/vmihailenco/msgpack/v5"
)

// fixture is one message the real Node libraries published, recorded by
// testdata/wire_fixtures.js.
type fixture struct {
	Name    string `json:"name"`
	Channel string `json:"channel"`
	Hex     string `json:"hex"`
	bytes   []byte
}

var (
	fixturesOnce sync.Once
	fixtures     map[string][]fixture
	fixturesErr  string
)

// nodeFixtures runs the Node script once per test binary.
func nodeFixtures(t *testing.T) map[string][]fixture {
	t.Helper()
	testpeer.Node(t)
	fixturesOnce.Do(func() {
		res := testpeer.RunNode(t, 30*time.Second, filepath.Join("testdata", "wire_fixtures.js"))
		if res.Err != nil {
			fixturesErr = res.Err.Error() + "\n" + res.Stderr
			return
		}
		fixtures = map[string][]fixture{}
		for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
			var f fixture
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				fixturesErr = "bad line " + line
				return
			}
			f.bytes, _ = hex.DecodeString(f.Hex)
			fixtures[f.Name] = append(fixtures[f.Name], f)
		}
	})
	if fixturesErr != "" {
		t.Fatalf("wire_fixtures.js: %s", fixturesErr)
	}
	return fixtures
}

func one(t *testing.T, name string) fixture {
	t.Helper()
	fs := nodeFixtures(t)[name]
	if len(fs) != 1 {
		t.Fatalf("want 1 fixture %q, have %d", name, len(fs))
	}
	return fs[0]
}

func joinArgs(args []json.RawMessage) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = string(a)
	}
	return strings.Join(parts, ",")
}

func TestBroadcastsPublishedByNodeDecodeAndEncodeBackToTheSameBytes(t *testing.T) {
	tests := []struct {
		name, channel, nsp, event, args string
		atts                            []string
		rooms, except                   []string
		flags                           string
	}{
		{
			name: "broadcast-room", channel: "socket.io#/#room1#", nsp: "/", event: "chat",
			args:  `"hi",1,1.5,-3,300,70000,1099511627776,-1099511627776,true,null,{"a":1,"b":[1,2]}`,
			rooms: []string{"room1"},
		},
		{
			name: "broadcast-binary", channel: "socket.io#/chat#", nsp: "/chat", event: "bin",
			args: `{"_placeholder":true,"num":0},{"nested":{"buf":{"_placeholder":true,"num":1}},` +
				`"list":[{"_placeholder":true,"num":2},"after"]}`,
			atts:   []string{"010203", strings.Repeat("07", 300), "78"},
			except: []string{"e1", "e2"}, flags: "compress volatile",
		},
		{
			name: "broadcast-strings", channel: "socket.io#/#", nsp: "/", event: "str",
			args: `"héllo 😀","` + strings.Repeat("x", 40) + `","` + strings.Repeat("y", 300) + `",` +
				`"\n\t\u0001\"\\",{"key with space":"v","":0}`,
			rooms: []string{"r1", "r2"},
		},
		{
			name: "broadcast-floats", channel: "socket.io#/#", nsp: "/", event: "num",
			args: `0.1,-2.5,1e-7,123456789.125,9007199254740992,0,1152921504606847000,1.5e-300,9223372036854776000`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := one(t, tt.name)
			if f.Channel != tt.channel {
				t.Errorf("Node published on %q; test expects %q", f.Channel, tt.channel)
			}
			m, err := decodeBroadcast(f.bytes)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(m.UID) != 6 {
				t.Errorf("uid %q; want Node's 6 characters", m.UID)
			}
			p := m.Packet
			if p.Type != packetEvent || p.Nsp != tt.nsp || p.Event != tt.event || p.ID != -1 {
				t.Errorf("packet type %d nsp %q event %q id %d; want 2 %q %q -1", p.Type, p.Nsp, p.Event, p.ID, tt.nsp, tt.event)
			}
			if got := joinArgs(p.Args); got != tt.args {
				t.Errorf("args\n got %s\nwant %s", got, tt.args)
			}
			var atts []string
			for _, a := range p.Attachments {
				atts = append(atts, hex.EncodeToString(a))
			}
			if strings.Join(atts, " ") != strings.Join(tt.atts, " ") {
				t.Errorf("attachments %v; want %v", atts, tt.atts)
			}
			if strings.Join(m.Opts.Rooms, ",") != strings.Join(tt.rooms, ",") ||
				strings.Join(m.Opts.Except, ",") != strings.Join(tt.except, ",") {
				t.Errorf("rooms %v except %v; want %v %v", m.Opts.Rooms, m.Opts.Except, tt.rooms, tt.except)
			}
			var flags []string
			if m.Opts.Flags.Compress != nil && *m.Opts.Flags.Compress {
				flags = append(flags, "compress")
			}
			if m.Opts.Flags.Volatile {
				flags = append(flags, "volatile")
			}
			if strings.Join(flags, " ") != tt.flags {
				t.Errorf("flags %v; want %q", flags, tt.flags)
			}
			again, err := encodeBroadcast(m)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.Equal(again, f.bytes) {
				t.Errorf("encoded back\n got %x\nwant %x", again, f.bytes)
			}
			if ch := broadcastChannel("socket.io", tt.nsp, m.Opts.Rooms); ch != tt.channel {
				t.Errorf("our channel %q; Node's %q", ch, tt.channel)
			}
		})
	}
}

func TestEmitterMessagesDecode(t *testing.T) {
	m, err := decodeBroadcast(one(t, "emitter-room-except").bytes)
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != "emitter" || m.Packet.Nsp != "/" || m.Packet.Event != "ev" ||
		joinArgs(m.Packet.Args) != `{"_placeholder":true,"num":0},{"x":1}` ||
		hex.EncodeToString(m.Packet.Attachments[0]) != "ff00" ||
		strings.Join(m.Opts.Rooms, ",") != "room1" || strings.Join(m.Opts.Except, ",") != "room2" {
		t.Errorf("decoded %+v", m)
	}
	m, err = decodeBroadcast(one(t, "emitter-namespace").bytes)
	if err != nil {
		t.Fatal(err)
	}
	if m.Packet.Nsp != "/chat" || m.Packet.Event != "ev2" || len(m.Packet.Args) != 0 || len(m.Opts.Rooms) != 0 {
		t.Errorf("decoded %+v", m)
	}
	r, err := decodeRequest(one(t, "emitter-join").bytes)
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != typeRemoteJoin || r.UID != "" || r.Opts == nil || strings.Join(r.Opts.Rooms, ",") != "room1" ||
		strings.Join(r.Rooms, ",") != "room3" {
		t.Errorf("decoded %+v", r)
	}
}

func TestDatesBecomeWhatJSONStringifyPrints(t *testing.T) {
	m, err := decodeBroadcast(one(t, "dates").bytes)
	if err != nil {
		t.Fatal(err)
	}
	want := `"2023-11-14T22:13:20.000Z","2023-11-14T22:13:20.123Z","1969-12-31T23:59:58.500Z",` +
		`"2514-05-30T01:53:04.005Z","+010000-01-01T00:00:00.000Z",null,{"v":1}`
	if got := joinArgs(m.Packet.Args); got != want {
		t.Errorf("args\n got %s\nwant %s", got, want)
	}
}

func TestRequestsPublishedByNodeDecode(t *testing.T) {
	uid := string(mustHex(t, one(t, "uid").Hex))
	r, err := decodeRequest(one(t, "fetch-sockets").bytes)
	if err != nil {
		t.Fatal(err)
	}
	if r.UID != uid || r.Type != typeRemoteFetch || len(r.RequestID) != 6 ||
		strings.Join(r.Opts.Rooms, ",") != "room1" || strings.Join(r.Opts.Except, ",") != "room2" {
		t.Errorf("fetch: %+v", r)
	}
	// Our encoding of the same request is byte for byte Node's.
	ours, _ := json.Marshal(fetchRequest{UID: uid, RequestID: r.RequestID, Type: typeRemoteFetch, Opts: filterOf(r.Opts)})
	if !bytes.Equal(ours, one(t, "fetch-sockets").bytes) {
		t.Errorf("our fetch request %s; Node's %s", ours, one(t, "fetch-sockets").bytes)
	}

	r, _ = decodeRequest(one(t, "all-rooms").bytes)
	ours, _ = json.Marshal(allRoomsRequest{UID: uid, RequestID: r.RequestID, Type: typeAllRooms})
	if r.Type != typeAllRooms || !bytes.Equal(ours, one(t, "all-rooms").bytes) {
		t.Errorf("all rooms: %+v; ours %s", r, ours)
	}

	r, _ = decodeRequest(one(t, "sockets-join").bytes)
	ours, _ = json.Marshal(roomsRequest{UID: uid, Type: typeRemoteJoin, Opts: filterOf(r.Opts), Rooms: r.Rooms})
	if strings.Join(r.Rooms, ",") != "a,b" || !bytes.Equal(ours, one(t, "sockets-join").bytes) {
		t.Errorf("join: %+v; ours %s", r, ours)
	}

	r, _ = decodeRequest(one(t, "sockets-leave").bytes)
	ours, _ = json.Marshal(roomsRequest{UID: uid, Type: typeRemoteLeave, Opts: filterOf(r.Opts), Rooms: r.Rooms})
	if r.Type != typeRemoteLeave || !bytes.Equal(ours, one(t, "sockets-leave").bytes) {
		t.Errorf("leave: %+v; ours %s", r, ours)
	}

	r, _ = decodeRequest(one(t, "disconnect-sockets").bytes)
	ours, _ = json.Marshal(disconnectRequest{UID: uid, Type: typeRemoteDisconnect, Opts: filterOf(r.Opts), Close: r.Close})
	if !r.Close || !bytes.Equal(ours, one(t, "disconnect-sockets").bytes) {
		t.Errorf("disconnect: %+v; ours %s", r, ours)
	}

	r, _ = decodeRequest(one(t, "server-side-emit").bytes)
	ours, _ = json.Marshal(serverSideEmitRequest{UID: uid, Type: typeServerSideEmit, Data: json.RawMessage(`["hello","world",1,{"a":[true]}]`)})
	if r.HasRequestID || joinArgs(r.Data) != `"hello","world",1,{"a":[true]}` || !bytes.Equal(ours, one(t, "server-side-emit").bytes) {
		t.Errorf("server-side emit: %+v; ours %s", r, ours)
	}

	r, _ = decodeRequest(one(t, "server-side-emit-ack").bytes)
	ours, _ = json.Marshal(serverSideEmitRequest{UID: uid, RequestID: r.RequestID, Type: typeServerSideEmit, Data: json.RawMessage(`["question",42]`)})
	if !r.HasRequestID || !bytes.Equal(ours, one(t, "server-side-emit-ack").bytes) {
		t.Errorf("server-side emit with ack: %+v; ours %s", r, ours)
	}

	f := one(t, "broadcast-ack")
	r, err = decodeRequest(f.bytes)
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != typeBroadcast || r.Packet.Event != "ask" || joinArgs(r.Packet.Args) != `"q",{"_placeholder":true,"num":0}` ||
		hex.EncodeToString(r.Packet.Attachments[0]) != "09" || r.Opts.Flags.Timeout != 50 {
		t.Errorf("broadcast with ack: %+v %+v", r, r.Packet)
	}
	again, err := encodeBroadcastRequest(uid, r.RequestID, r.Packet, r.Opts)
	if err != nil || !bytes.Equal(again, f.bytes) {
		t.Errorf("encoded back (%v)\n got %x\nwant %x", err, again, f.bytes)
	}
}

func TestResponsesPublishedByNodeDecode(t *testing.T) {
	r, err := decodeResponse(one(t, "answer-fetch").bytes)
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestID != "req1" || !r.HasSockets || len(r.Sockets) != 1 {
		t.Fatalf("fetch answer: %+v", r)
	}
	var s RemoteSocket
	if err := json.Unmarshal(r.Sockets[0], &s); err != nil || s.ID != "AAAAAAAAAAAAAAAAAAAA" ||
		strings.Join(s.Rooms, ",") != "AAAAAAAAAAAAAAAAAAAA,room1" || string(s.Data) != `{"user":"ann"}` {
		t.Errorf("socket %+v (%v)", s, err)
	}
	// Our answer to the same request, for the same socket, is Node's bytes.
	ours, _ := json.Marshal(fetchResponse{RequestID: "req1", Sockets: []RemoteSocket{s}})
	if !bytes.Equal(ours, one(t, "answer-fetch").bytes) {
		t.Errorf("our fetch answer\n%s\nNode's\n%s", ours, one(t, "answer-fetch").bytes)
	}

	r, _ = decodeResponse(one(t, "answer-all-rooms").bytes)
	ours, _ = json.Marshal(roomsResponse{RequestID: "req2", Rooms: r.Rooms})
	if !r.HasRooms || !bytes.Equal(ours, one(t, "answer-all-rooms").bytes) {
		t.Errorf("rooms answer %+v; ours %s", r, ours)
	}

	r, _ = decodeResponse(one(t, "answer-sockets").bytes)
	ours, _ = json.Marshal(socketsResponse{RequestID: "req3", Sockets: []string{"AAAAAAAAAAAAAAAAAAAA"}})
	if !bytes.Equal(ours, one(t, "answer-sockets").bytes) {
		t.Errorf("sockets answer %+v; ours %s", r, ours)
	}

	acks := nodeFixtures(t)["answer-broadcast-ack"]
	if len(acks) != 2 {
		t.Fatalf("want a client count and an ack, have %d messages", len(acks))
	}
	r, _ = decodeResponse(acks[0].bytes)
	ours, _ = json.Marshal(clientCountResponse{Type: typeBroadcastClientCount, RequestID: "req4", ClientCount: 1})
	if r.Type != typeBroadcastClientCount || r.ClientCount != 1 || !bytes.Equal(ours, acks[0].bytes) {
		t.Errorf("client count %+v; ours %s", r, ours)
	}
	r, err = decodeResponse(acks[1].bytes)
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != typeBroadcastAck || string(r.Ack) != `{"answer":{"_placeholder":true,"num":0}}` ||
		hex.EncodeToString(r.AckAttachments[0]) != "0402" {
		t.Errorf("ack %+v", r)
	}
	again, err := encodeBroadcastAck("req4", r.Ack, r.AckAttachments)
	if err != nil || !bytes.Equal(again, acks[1].bytes) {
		t.Errorf("ack encoded back (%v)\n got %x\nwant %x", err, again, acks[1].bytes)
	}

	r, _ = decodeResponse(one(t, "answer-server-side-emit").bytes)
	ours, _ = json.Marshal(serverSideEmitResponse{Type: typeServerSideEmit, RequestID: "req5", Data: r.Data})
	if string(r.Data) != `{"n":7}` || !bytes.Equal(ours, one(t, "answer-server-side-emit").bytes) {
		t.Errorf("server-side emit answer %+v; ours %s", r, ours)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A MessagePack map key that is not a string (which no JavaScript object
// makes, but another producer may) becomes the property name JavaScript
// gives it, and a key nested deep costs no more than its size.
func TestNonStringKeysBecomeWhatJavaScriptMakesOfThem(t *testing.T) {
	var b bytes.Buffer
	enc := msgpack.NewEncoder(&b)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(enc.EncodeMapLen(4))
	must(enc.EncodeMapLen(1)) // {"a": 1} as a key
	must(enc.EncodeString("a"))
	must(enc.EncodeInt(1))
	must(enc.EncodeInt(1))
	must(enc.Encode([]any{1, []any{2, nil}, "x\"y"})) // an array as a key
	must(enc.EncodeInt(2))
	must(enc.EncodeInt(5))
	must(enc.EncodeInt(3))
	must(enc.EncodeBool(true))
	must(enc.EncodeInt(4))
	js, _, err := msgpackToJSON(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"[object Object]":1,"1,2,,x\"y":2,"5":3,"true":4}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}

	// 200 maps, each the key of the one around it: linear, not 2^200.
	b.Reset()
	for range 200 {
		must(enc.EncodeMapLen(1))
	}
	must(enc.EncodeString("k"))
	must(enc.EncodeString("v"))
	for range 199 {
		must(enc.EncodeInt(0))
	}
	js, _, err = msgpackToJSON(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"[object Object]":0}`; string(js) != want {
		t.Errorf("nested keys: got %s, want %s", js, want)
	}
}
