package redisadapter

import (
	"encoding/json"
	"testing"
)

// A typical chat message: an event with a small object.
var benchMessage = &BroadcastMessage{UID: "abcdef", Packet: Packet{Type: 2, Nsp: "/", Event: "message", ID: -1,
	Args: []json.RawMessage{json.RawMessage(`{"user":"ann","text":"hello everybody, how are you today?","ts":1700000000123,"tags":["a","b"]}`)}},
	Opts: Options{Rooms: []string{"room1"}}}

func BenchmarkEncodeBroadcast(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeBroadcast(benchMessage); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBroadcast(b *testing.B) {
	msg, err := encodeBroadcast(benchMessage)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := decodeBroadcast(msg); err != nil {
			b.Fatal(err)
		}
	}
}
