package engine

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var benchPayload = []packet{
	{typ: packetMessage, data: []byte(`2["chat message",{"from":"ada","text":"hello, world"}]`)},
	{typ: packetMessage, binary: true, data: bytes.Repeat([]byte{7}, 256)},
	{typ: packetPing},
}

func BenchmarkEncodePayloadV4(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		encodePayloadV4(benchPayload)
	}
}

func BenchmarkDecodePayloadV4(b *testing.B) {
	body := encodePayloadV4(benchPayload)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePayloadV4(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePayloadV3Text(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		encodePayloadV3Text(benchPayload)
	}
}

func BenchmarkDecodePayloadV3Text(b *testing.B) {
	body := encodePayloadV3Text(benchPayload)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePayloadV3Text(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodePayloadV3Binary(b *testing.B) {
	body := encodePayloadV3Binary(benchPayload)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePayloadV3Binary(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleWebSocketSession reports the server's memory per idle
// WebSocket session (heap and goroutine stacks, after GC), the figure the
// project compares with Node's ~14 KB. The clients are bare TCP connections
// that did the WebSocket handshake by hand, so they add little (their share,
// a net.Conn each, is included).
func BenchmarkIdleWebSocketSession(b *testing.B) {
	const sessions = 500
	srv, addr := idleBenchServer(b, Options{})

	for b.Loop() {
		before := memInUse()
		stackBefore := stackInUse()
		conns := make([]net.Conn, 0, sessions)
		for range sessions {
			conns = append(conns, dialRawWebSocket(b, addr))
		}
		// Let the handshakes finish and the readers hand their idle
		// connections to the poller.
		time.Sleep(idleHandoff + 200*time.Millisecond)
		after := memInUse()
		b.ReportMetric(float64(after-before)/sessions, "bytes/session")
		b.ReportMetric(float64(int64(stackInUse())-int64(stackBefore))/sessions, "stack-bytes/session")
		for _, c := range conns {
			c.Close()
		}
		for range 200 {
			srv.mu.Lock()
			n := srv.sessions.Len()
			srv.mu.Unlock()
			if n == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// idleBenchServer serves an engine with opts whose sessions ignore their
// messages, until the benchmark ends, at the address it returns.
func idleBenchServer(b *testing.B, opts Options) (*Server, string) {
	srv := NewServer(opts)
	srv.OnConnection(func(s *Session) { s.OnMessage(func(Message) {}) })
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		srv.Shutdown(context.Background())
		hs.Close()
	})
	return srv, hs.Listener.Addr().String()
}

func memInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// dialRawWebSocket opens an Engine.IO WebSocket session with a hand-written
// handshake and reads up to the open packet.
func dialRawWebSocket(b *testing.B, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	_, err = c.Write([]byte("GET /?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	if err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReaderSize(c, 256)
	var seen strings.Builder
	for !strings.Contains(seen.String(), `"maxPayload"`) {
		line, err := r.ReadString('}')
		if err != nil {
			b.Fatalf("raw handshake: %v (read %q)", err, seen.String())
		}
		seen.WriteString(line)
	}
	return c
}

func stackInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse
}

// BenchmarkWebSocketSend measures Send to one WebSocket session, through
// the flusher to a client reading on loopback.
func BenchmarkWebSocketSend(b *testing.B) {
	srv := NewServer(Options{})
	sessions := make(chan *Session, 1)
	srv.OnConnection(func(s *Session) { sessions <- s })
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	conn := dialRawWebSocket(b, hs.Listener.Addr().String())
	defer conn.Close()
	s := <-sessions
	msg := Message{Data: []byte(`2["chat message","hello, world"]`)}
	frame := 2 + 1 + len(msg.Data) // header, type byte, data
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		want := b.N * frame
		for got := 0; got < want; {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			got += n
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for s.Send(msg) == ErrSlowClient {
			b.Fatal("queue overflow")
		}
	}
	<-done
}

// BenchmarkAbandonedPollingSession reports the server's heap per polling
// session that made its handshake and never came back (the handshake
// scenario of bench/ counts these), until the heartbeat closes it.
func BenchmarkAbandonedPollingSession(b *testing.B) {
	const sessions = 2000
	srv := NewServer(Options{})
	srv.OnConnection(func(s *Session) { s.OnMessage(func(Message) {}) })
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	client := &http.Client{}
	handshake := func() {
		r, err := client.Get(hs.URL + "/engine.io/?EIO=4&transport=polling")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	for range 100 {
		handshake() // warm up the client's connection and the server's pools
	}
	for b.Loop() {
		before := memInUse()
		for range sessions {
			handshake()
		}
		b.ReportMetric(float64(int64(memInUse())-int64(before))/sessions, "bytes/session")
	}
}

func BenchmarkDecodeWebSocketText(b *testing.B) {
	msg := []byte(`42["chat message",{"from":"ada","text":"hello, wörld, ça va? 🙂"}]`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeWS(4, websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleHeartbeat is what keeping idle WebSocket sessions alive
// allocates on the server: raw clients that answer each ping with a pong
// and do nothing else, over whole ping intervals after the readers handed
// their connections to the poller. Whatever a heartbeat allocates makes
// the heap of a server holding many idle connections climb to its
// collection goal, twice what is live, even when nothing else happens.
// alloc-B/heartbeat and allocs/heartbeat are per session per ping (the
// clients allocate nothing once connected).
func BenchmarkIdleHeartbeat(b *testing.B) {
	const (
		sessions = 500
		interval = 100 * time.Millisecond
		rounds   = 10
	)
	_, addr := idleBenchServer(b, Options{PingInterval: interval, PingTimeout: 5 * time.Second})

	for b.Loop() {
		conns := make([]net.Conn, 0, sessions)
		for range sessions {
			c := dialRawWebSocket(b, addr)
			conns = append(conns, c)
			go answerPings(c)
		}
		time.Sleep(idleHandoff + 2*interval)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		time.Sleep(rounds * interval)
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(sessions*rounds), "alloc-B/heartbeat")
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/(sessions*rounds), "allocs/heartbeat")
		for _, c := range conns {
			c.Close()
		}
	}
}

// answerPings answers each protocol 4 ping on c (an unmasked text frame
// "2") with a pong (a masked text frame "3"), until c fails.
func answerPings(c net.Conn) {
	ping := []byte{0x81, 1, '2'}
	pong := []byte{0x81, 0x80 | 1, 1, 2, 3, 4, '3' ^ 1}
	buf := make([]byte, 64)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		for range bytes.Count(buf[:n], ping) {
			if _, err := c.Write(pong); err != nil {
				return
			}
		}
	}
}
