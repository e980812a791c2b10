package hooks

import (
	"bytes"
	"encoding/json"
	"testing"
)

// oddStrings are strings json.Marshal escapes: quotes, backslashes,
// control characters, HTML characters, U+2028/U+2029, invalid UTF-8, and
// plain unicode it leaves as it is.
var oddStrings = []string{
	"", "plain", `quo"te`, `back\slash`, "tab\tnew\nline\rcr", "\b\f\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "line\u2028para\u2029", "bad\xffutf8\xc3", "héllo 日本 🎉 €", "\u2027\u202a",
}

// oddRaws are valid JSON values as clients and backends send them:
// compact or not, with HTML characters and line separators in strings.
var oddRaws = []string{
	`1`, `"x"`, `{"sku":"A1","qty":2}`, `{ "a" : [ 1 , 2 ] }`, "[\n1,\t2\r]", `"<b>&</b>"`, "\"\u2028\"",
	`{"s":"a b"}`, `"\"quoted\" \\"`, `null`, `{"€":"日本"}`, `[{"_binary":"AAE="}]`,
}

func oddEnvelopes() []envelope {
	var out []envelope
	for i, s := range oddStrings {
		raw := json.RawMessage(oddRaws[i%len(oddRaws)])
		out = append(out, envelope{
			ID: s, Type: "event", Time: int64(i) * 1767225600123, Namespace: "/" + s,
			Socket: socketInfo{ID: s, Transport: "websocket", Protocol: 5 - i%2, Address: s, Rooms: []string{s, "r"},
				Data: raw, Meta: json.RawMessage(oddRaws[(i+3)%len(oddRaws)]), Recovered: i%2 == 0},
			Handshake: raw,
		})
	}
	out = append(out, envelope{}, envelope{Socket: socketInfo{Rooms: []string{}}})
	return out
}

// The hand-written encoder writes what json.Marshal wrote for every body
// shape, byte for byte.
func TestEncodeMatchesMarshal(t *testing.T) {
	for i, e := range oddEnvelopes() {
		check(t, "envelope", func() ([]byte, error) { return encodeEnvelope(&e) }, func() ([]byte, error) { return json.Marshal(e) })
		ev := &eventRequest{envelope: e, Event: oddStrings[i%len(oddStrings)], Ack: i%2 == 1}
		for _, r := range oddRaws[:i%len(oddRaws)] {
			ev.Args = append(ev.Args, json.RawMessage(r))
		}
		if i == 0 {
			ev.Args = nil
		}
		check(t, "event", func() ([]byte, error) { return encodeEvent(ev) }, func() ([]byte, error) { return json.Marshal(ev) })
		n := &notification{envelope: e, Reason: oddStrings[i%len(oddStrings)], Room: oddStrings[(i+1)%len(oddStrings)]}
		check(t, "notification", func() ([]byte, error) { return encodeNotification(n) }, func() ([]byte, error) { return json.Marshal(n) })
	}
}

func check(t *testing.T, what string, got, want func() ([]byte, error)) {
	t.Helper()
	g, err := got()
	w, werr := want()
	if err != nil || werr != nil {
		t.Fatalf("%s: errors %v, %v", what, err, werr)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// FuzzEncodeMatchesMarshal: for any strings and any valid raw JSON, the
// encoder and json.Marshal agree.
func FuzzEncodeMatchesMarshal(f *testing.F) {
	for i, s := range oddStrings {
		f.Add(s, oddStrings[(i+1)%len(oddStrings)], oddRaws[i%len(oddRaws)], []byte(oddRaws[(i+2)%len(oddRaws)]))
	}
	f.Fuzz(func(t *testing.T, a, b, raw string, arg []byte) {
		if !json.Valid([]byte(raw)) || !json.Valid(arg) {
			return
		}
		ev := &eventRequest{
			envelope: envelope{ID: a, Type: b, Namespace: a + b, Socket: socketInfo{ID: b, Address: a, Rooms: []string{a, b},
				Data: json.RawMessage(raw), Meta: json.RawMessage(arg)}, Handshake: json.RawMessage(raw)},
			Event: b, Args: []json.RawMessage{arg, json.RawMessage(raw)},
		}
		check(t, "event", func() ([]byte, error) { return encodeEvent(ev) }, func() ([]byte, error) { return json.Marshal(ev) })
	})
}

// BenchmarkEncodeEvent is one event body as a hooked ack builds it, by
// the hand-written encoder and by json.Marshal.
func BenchmarkEncodeEvent(b *testing.B) {
	ev := &eventRequest{
		envelope: envelope{ID: "9f86d081884c7d65-7", Type: "event", Time: 1767225600123, Namespace: "/shop",
			Socket: socketInfo{ID: "lpaEr2xX0A7f2WxOAAAB", Transport: "websocket", Protocol: 5, Address: "127.0.0.1",
				Rooms: []string{"lpaEr2xX0A7f2WxOAAAB", "user:42"}, Data: json.RawMessage(`{"user":42}`)},
			Handshake: json.RawMessage(`{"url":"/socket.io/?EIO=4\u0026transport=websocket","query":{"EIO":"4","transport":"websocket"},"headers":{},"auth":{},"secure":false,"time":"Wed Dec 02 2026 04:43:38 GMT+0000 (UTC)","issued":1796186618187}`)},
		Event: "order:place", Args: []json.RawMessage{json.RawMessage(`{"sku":"A1","qty":2}`)}, Ack: true,
	}
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = encodeEvent(ev)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(ev)
		}
	})
}
