package socketio

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// relayServer serves a server whose namespace "/" relays, on loopback
// until b ends, and returns its WebSocket URL.
func relayServer(b *testing.B) string {
	eng := engine.NewServer(engine.Options{})
	srv := NewServer(eng, Options{})
	srv.Of("/").Relay()
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		eng.Shutdown(context.Background())
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
}

// BenchmarkRelayedAck measures what the benchmarks' echo does, in one
// process: a WebSocket client on loopback emits an event with an ack to a
// relay namespace where it is alone, and waits for the ack before the
// next; so each operation is one message read, relayed to nobody, acked
// and written, and one wake-up of the server's reader. Besides ns/op it
// reports the process's CPU time per operation (client included, the same
// on both sides of a comparison) and allocations per operation.
func BenchmarkRelayedAck(b *testing.B) {
	conn, _, err := websocket.DefaultDialer.Dial(relayServer(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	// read returns the next message that is not a heartbeat, answering pings.
	read := func() []byte {
		for {
			_, r, err := conn.NextReader()
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				m, err := r.Read(buf[n:])
				n += m
				if err != nil {
					break
				}
			}
			if n > 0 && buf[0] == '2' {
				if err := conn.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
					b.Fatal(err)
				}
				continue
			}
			return buf[:n]
		}
	}
	if open := read(); open[0] != '0' {
		b.Fatalf("open packet: %q", open)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		b.Fatal(err)
	}
	if connect := read(); !strings.HasPrefix(string(connect), "40") {
		b.Fatalf("CONNECT answer: %q", connect)
	}
	events := make([][]byte, 100)
	acks := make([]string, len(events))
	for i := range events {
		events[i] = []byte("42" + strconv.Itoa(i) + `["echo",` + strconv.Itoa(i) + `,1700000000000]`)
		acks[i] = "43" + strconv.Itoa(i) + "[]"
	}
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := i % len(events)
		if err := conn.WriteMessage(websocket.TextMessage, events[k]); err != nil {
			b.Fatal(err)
		}
		if got := read(); string(got) != acks[k] {
			b.Fatalf("got %q, want the ack %q", got, acks[k])
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}
