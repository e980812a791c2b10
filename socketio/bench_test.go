package socketio

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

func BenchmarkEncodeEvent(b *testing.B) {
	args := mustArgs(b, "hello world", 42, map[string]any{"user": "ada", "n": 3})
	p := &Packet{Type: PacketEvent, Namespace: "/chat", EventName: "message", Args: args}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPacket(buf[:0], p)
	}
}

func BenchmarkEncodeArgs(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewArgs("hello world", 42, map[string]any{"user": "ada", "n": 3}, []byte{1, 2, 3}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	msg := []byte(`2/chat,12["message","hello world",42,{"n":3,"user":"ada"}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		var d decoder
		if _, err := d.add(msg, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBinaryEvent(b *testing.B) {
	text := []byte(`52-["upload",{"name":"a.bin","data":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]`)
	att := make([]byte, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var d decoder
		d.add(text, false)
		d.add(att, true)
		if _, err := d.add(att, true); err != nil {
			b.Fatal(err)
		}
	}
}

// pollingSocket connects one polling client to srv through ServeHTTP, with
// no network, and returns its Engine.IO sid to drain its queue with.
func pollingSocket(b *testing.B, h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil))
	body := rec.Body.String()
	if !strings.HasPrefix(body, `0{"sid":"`) {
		b.Fatalf("handshake: %d %q", rec.Code, body)
	}
	sid := strings.Split(body, `"`)[3]
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/socket.io/?EIO=4&transport=polling&sid="+sid, strings.NewReader("40")))
	if rec.Code != 200 {
		b.Fatalf("CONNECT: %d %q", rec.Code, rec.Body.String())
	}
	drain(b, h, sid)
	return sid
}

// drain takes what the server queued for sid; something must be queued,
// or the GET would wait for it.
func drain(b *testing.B, h http.Handler, sid string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling&sid="+sid, nil))
	if rec.Code != 200 {
		b.Fatalf("poll: %d %q", rec.Code, rec.Body.String())
	}
}

// BenchmarkBroadcast measures one Namespace.Emit to every socket: one
// encoding, then the same prepared messages queued on each receiver. It
// reports the cost per receiver.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, binary := range []bool{false, true} {
			b.Run(fmt.Sprintf("receivers=%d/binary=%v", n, binary), func(b *testing.B) {
				args := []any{"hello world", map[string]any{"user": "ada", "n": 3}}
				if binary {
					args = append(args, make([]byte, 256))
				}
				benchBroadcast(b, Options{}, n, args)
			})
		}
	}
}

// benchBroadcast measures io.Of("/").Emit("message", args...) to n polling
// sockets of a server with opts, per receiver: the time, and the
// allocations (the drains that keep the queues short not counted).
func benchBroadcast(b *testing.B, opts Options, n int, args []any) {
	eng := engine.NewServer(engine.Options{})
	io := NewServer(eng, opts)
	sids := make([]string, n)
	for i := range sids {
		sids[i] = pollingSocket(b, io)
	}
	nsp := io.Of("/")
	const drainEvery = 200 // keep queues under the engine's slow-client limit
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := nsp.Emit("message", args...); err != nil {
			b.Fatal(err)
		}
		if (i+1)%drainEvery == 0 {
			b.StopTimer()
			runtime.ReadMemStats(&after)
			for _, sid := range sids {
				drain(b, io, sid)
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			before.Mallocs += m.Mallocs - after.Mallocs // do not count the drain
			b.StartTimer()
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/receiver")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/receiver")
	for _, sid := range sids {
		h := httptest.NewRecorder()
		io.ServeHTTP(h, httptest.NewRequest("POST", "/socket.io/?EIO=4&transport=polling&sid="+sid, strings.NewReader("1")))
	}
}
