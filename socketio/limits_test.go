package socketio

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// rateLimitServer serves "/" and "/free", each acknowledging "ack-me"
// with its arguments, under limit, on a fake clock the test moves.
func rateLimitServer(t *testing.T, limit *EventRateLimit) (*testServer, *atomic.Int64, *observer.ObservedLogs) {
	core, logs := observer.New(zap.InfoLevel)
	clock := new(atomic.Int64)
	ts := startServerWith(t, "", engine.Options{}, Options{Logger: zap.New(core), EventRateLimit: limit}, func(ts *testServer) {
		ts.io.nanotime = clock.Load
		for _, name := range []string{"/", "/free"} {
			ts.io.Of(name).OnConnection(func(s *Socket) {
				s.On("ack-me", func(e *Event) { _ = e.Ack(e.Args) })
				s.OnDisconnect(func(reason string) { ts.note("disconnect " + reason) })
			})
		}
	})
	return ts, clock, logs
}

func connectLimited(t *testing.T, ts *testServer, nsp string) *rawClient {
	c := dialRaw(t, ts)
	if nsp == "/" {
		c.send("40")
	} else {
		c.send("40" + nsp + ",")
	}
	if got := c.read(); !strings.HasPrefix(got, "40") {
		t.Fatalf("CONNECT to %s answered with %q", nsp, got)
	}
	return c
}

// waitRateLimited waits until the server has refused n events.
func waitRateLimited(t *testing.T, ts *testServer, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ts.io.RateLimitedEvents() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the server refused %d events, want %d", ts.io.RateLimitedEvents(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEventsOverTheRateAreDroppedAndLoggedOncePerSocket(t *testing.T) {
	ts, clock, logs := rateLimitServer(t, &EventRateLimit{PerSecond: 2, Burst: 3})
	c := connectLimited(t, ts, "/")
	for id := 1; id <= 5; id++ {
		c.send(`42` + string(rune('0'+id)) + `["ack-me",` + string(rune('0'+id)) + `]`)
	}
	// The burst lets three through; the next one answered is the one sent
	// after the clock moved half a second (one token).
	waitRateLimited(t, ts, 2)
	clock.Add(int64(500 * time.Millisecond))
	c.send(`426["ack-me",6]`)
	for _, want := range []string{`431[1]`, `432[2]`, `433[3]`, `436[6]`} {
		if got := c.read(); got != want {
			t.Fatalf("got %q, want %q (events 4 and 5 were over the rate)", got, want)
		}
	}
	c.send(`427["ack-me",7]`) // over again: no token left
	waitRateLimited(t, ts, 3)
	clock.Add(int64(time.Second))
	c.send(`428["ack-me",8]`)
	if got := c.read(); got != `438[8]` {
		t.Fatalf("got %q, want 438[8]", got)
	}
	if n := ts.io.RateLimitedEvents(); n != 3 {
		t.Errorf("RateLimitedEvents = %d, want 3", n)
	}
	lines := logs.FilterMessageSnippet("max_events_per_second").All()
	if len(lines) != 1 {
		t.Fatalf("%d log lines for one socket's excess events, want 1: %v", len(lines), logs.All())
	}
	if m := lines[0].ContextMap(); !strings.HasPrefix(m["remote"].(string), "127.0.0.1:") || m["namespace"] != "/" {
		t.Errorf("the log line does not name the client: %v", m)
	}
	if ts.count("disconnect forced close")+ts.count("disconnect server namespace disconnect") != 0 {
		t.Error("a dropping limit disconnected the socket")
	}
}

func TestEventsOverTheRateDisconnectTheSocketWhenAsked(t *testing.T) {
	ts, _, _ := rateLimitServer(t, &EventRateLimit{PerSecond: 1, Burst: 1, Disconnect: true})
	c := connectLimited(t, ts, "/")
	c.send(`421["ack-me",1]`)
	c.send(`422["ack-me",2]`)
	if got := c.read(); got != `431[1]` {
		t.Fatalf("got %q, want 431[1]", got)
	}
	if got := c.read(); got != `41` {
		t.Fatalf("got %q, want the DISCONNECT packet 41", got)
	}
	ts.waitSeen("disconnect server namespace disconnect", 1)
}

func TestANamespaceCanLiftOrReplaceTheServersRate(t *testing.T) {
	ts, _, _ := rateLimitServer(t, &EventRateLimit{PerSecond: 1})
	ts.io.Of("/free").SetEventRateLimit(&EventRateLimit{})
	free := connectLimited(t, ts, "/free")
	for id := 1; id <= 5; id++ {
		free.send(`42/free,` + string(rune('0'+id)) + `["ack-me"]`)
	}
	for id := 1; id <= 5; id++ {
		if got, want := free.read(), `43/free,`+string(rune('0'+id))+`[]`; got != want {
			t.Fatalf("in a namespace without a limit: got %q, want %q", got, want)
		}
	}
	// And back to the server's limit, for connected sockets too.
	ts.io.Of("/free").SetEventRateLimit(nil)
	free.send(`42/free,6["ack-me"]`)
	free.send(`42/free,7["ack-me"]`)
	waitRateLimited(t, ts, 1)
	ts.io.SetEventRateLimit(nil) // lifted server-wide
	free.send(`42/free,8["ack-me"]`)
	for _, want := range []string{`43/free,6[]`, `43/free,8[]`} {
		if got := free.read(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestEventBucketRefillsAtTheRateUpToTheBurst(t *testing.T) {
	l := &EventRateLimit{PerSecond: 10, Burst: 5}
	b := eventBucket{tokens: l.burst()}
	now := int64(0)
	taken := 0
	for b.allow(l, now) {
		taken++
	}
	if taken != 5 {
		t.Fatalf("a full bucket let %d events through, want the burst of 5", taken)
	}
	now += int64(time.Hour) // a long quiet spell refills to the burst, no more
	taken = 0
	for b.allow(l, now) {
		taken++
	}
	if taken != 5 {
		t.Fatalf("after an hour the bucket let %d through, want 5", taken)
	}
	now += int64(300 * time.Millisecond) // 3 tokens at 10/s
	taken = 0
	for b.allow(l, now) {
		taken++
	}
	if taken != 3 {
		t.Fatalf("300ms at 10/s let %d through, want 3", taken)
	}
	if got := (&EventRateLimit{PerSecond: 2.5}).burst(); got != 3 {
		t.Errorf("the default burst of 2.5/s is %v, want 3", got)
	}
}

func TestJoinBeyondMaxRoomsPerSocketIsIgnoredAndLoggedOnce(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	joined := make(chan []string, 1)
	ts := startServerWith(t, "", engine.Options{}, Options{Logger: zap.New(core), MaxRoomsPerSocket: 3}, func(ts *testServer) {
		ts.io.Of("/").Use(func(s *Socket) error {
			s.Join("a", "b") // as the Caddy layer's join templates do
			return nil
		})
		ts.io.Of("/").OnConnection(func(s *Socket) {
			s.Join("b", "c", "d", "e") // b is not new; c fills the limit
			s.Join("a", "f")
			joined <- slices.DeleteFunc(s.Rooms(), func(r string) bool { return r == s.ID() })
		})
	})
	connectLimited(t, ts, "/")
	var rooms []string
	select {
	case rooms = <-joined:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection handler did not run")
	}
	slices.Sort(rooms)
	if strings.Join(rooms, ",") != "a,b,c" {
		t.Fatalf("the socket is in %v (its id room aside), want a, b, c", rooms)
	}
	if n := logs.FilterMessageSnippet("max_rooms_per_socket").Len(); n != 1 {
		t.Errorf("%d log lines, want 1: %v", n, logs.All())
	}
}

func TestJSONNestedDeeperThanTheLimitIsRefusedInLinearTime(t *testing.T) {
	deep := func(levels int) string {
		return strings.Repeat("[", levels) + strings.Repeat("]", levels)
	}
	// The packet's array is the first level.
	for _, tc := range []struct {
		packet string
		ok     bool
	}{
		{`2["ev",` + deep(maxNesting-1) + `]`, true},
		{`2["ev",` + deep(maxNesting) + `]`, false},
		{`2["ev","` + deep(maxNesting*2) + `"]`, true}, // brackets in a string do not nest
		{`3["` + strings.Repeat(`\"[`, 100) + `"]`, true},
		{`0` + strings.Repeat(`{"a":`, maxNesting+1) + `1` + strings.Repeat("}", maxNesting+1), false},
		{`0` + strings.Repeat(`{"a":`, maxNesting) + `1` + strings.Repeat("}", maxNesting), true},
	} {
		_, _, err := decodePacket([]byte(tc.packet), defaultMaxAttachments)
		if (err == nil) != tc.ok {
			t.Errorf("%.60s…: err %v, want ok=%v", tc.packet, err, tc.ok)
		}
		if !tc.ok && err != errTooDeep {
			t.Errorf("%.60s…: err %v, want %v", tc.packet, err, errTooDeep)
		}
	}
	// A megabyte of nesting, the most max_payload lets through by
	// default, is refused without recursion (a stack overflow would end the
	// test binary).
	for _, payload := range []string{`2["ev",` + deep(500_000) + `]`, `2["ev",` + strings.Repeat("[", 1_000_000)} {
		if _, _, err := decodePacket([]byte(payload), defaultMaxAttachments); err == nil {
			t.Errorf("a %d-byte nested payload was accepted", len(payload))
		}
	}
}

// BenchmarkDecodeDeepPayload shows the cost of refusing a deep payload
// grows linearly with its size (compare the ns/byte of the sizes).
func BenchmarkDecodeDeepPayload(b *testing.B) {
	for _, levels := range []int{1_000, 100_000} {
		payload := []byte(`2["ev",` + strings.Repeat("[", levels) + strings.Repeat("]", levels) + `]`)
		b.Run(strconv.Itoa(levels), func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				decodePacket(payload, defaultMaxAttachments)
			}
		})
	}
}
