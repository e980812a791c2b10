package socketio

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkFanout measures what bench/compare.sh's fanout phase does, in
// one process: a WebSocket client on loopback emits events to a relay
// namespace, which sends each to n other WebSocket clients, with at most
// fanoutWindow events in flight (as the load generator's -window). An
// operation is one event; it reports the time and the process's CPU per
// delivery (the receiving clients' reads included, the same on both sides
// of a comparison). Against a build with -tags nocounting it is what the
// metrics' counting costs a broadcast.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("receivers=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

const fanoutWindow = 4

func benchFanout(b *testing.B, n int) {
	url := relayServer(b)

	var delivered, target atomic.Int64
	reached := make(chan struct{}, 1)
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = fanoutClient(b, url)
	}
	sender := fanoutClient(b, url)
	defer sender.Close()
	for _, c := range conns {
		go func() {
			defer c.Close()
			for {
				_, r, err := c.NextReader()
				if err != nil {
					return // closed at the end
				}
				var typ [1]byte
				if _, err := io.ReadFull(r, typ[:]); err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					return
				}
				switch typ[0] {
				case '2': // a ping, on a long run
					_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
				case '4':
					if delivered.Add(1) == target.Load() {
						select {
						case reached <- struct{}{}:
						default:
						}
					}
				}
			}
		}()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// waitFor returns once d deliveries arrived. A receiver signals the one
	// that makes the total reach the target, which is stored before the
	// total is checked, so no signal is missed; a stale one only loops.
	waitFor := func(d int64) {
		target.Store(d)
		for delivered.Load() < d {
			select {
			case <-reached:
			case <-time.After(10 * time.Second):
				b.Fatalf("%d of %d deliveries after 10 s", delivered.Load(), d)
			}
		}
	}
	events := make([][]byte, 100)
	for i := range events {
		events[i] = []byte(`42["fanout",` + strconv.Itoa(i) + `,"hello world"]`)
	}
	send := func(i int) {
		if err := sender.WriteMessage(websocket.TextMessage, events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
	send(0) // the first event, outside the measurement
	waitFor(int64(n))

	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for i := range b.N {
		if i >= fanoutWindow {
			waitFor(int64(i+1-fanoutWindow) * int64(n)) // i+1 sent, the warm-up event included
		}
		send(i)
	}
	waitFor(int64(b.N+1) * int64(n))
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(cpu)/deliveries, "cpu-ns/delivery")
}

// fanoutClient connects a WebSocket client to namespace "/" at url.
func fanoutClient(b *testing.B, url string) *websocket.Conn {
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, open, err := c.ReadMessage(); err != nil || open[0] != '0' {
		b.Fatalf("open packet: %q, %v", open, err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		b.Fatal(err)
	}
	if _, connect, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(connect), "40") {
		b.Fatalf("CONNECT answer: %q, %v", connect, err)
	}
	return c
}
