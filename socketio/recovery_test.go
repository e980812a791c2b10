package socketio

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var (
	connectWithPID = regexp.MustCompile(`^40\{"sid":"([A-Za-z0-9_-]{20})","pid":"([A-Za-z0-9_-]{20})"\}$`)
	// An event whose last argument is an offset: 42[..., "<offset>"].
	eventWithOffset = regexp.MustCompile(`^(4[25].*),"([0-9a-z]{8,13})"\]$`)
)

// recoveryServer serves "/" with recovery on: each socket joins "room1",
// gets data and meta, and the server notes how each one connected.
func recoveryServer(t *testing.T, opts RecoveryOptions) *testServer {
	t.Helper()
	return recoveryServerWith(t, engine.Options{}, opts)
}

// recoveryServerWith is recoveryServer on an engine with engOpts.
func recoveryServerWith(t *testing.T, engOpts engine.Options, opts RecoveryOptions) *testServer {
	t.Helper()
	return startServerWith(t, "", engOpts, Options{ConnectionStateRecovery: &opts}, func(ts *testServer) {
		ts.io.OnConnection(func(s *Socket) {
			if !s.Recovered() {
				s.Join("room1")
				s.SetData(map[string]any{"user": "ann"})
				s.SetMeta(json.RawMessage(`{"secret":1}`))
			}
			rooms := s.Rooms()
			slices.Sort(rooms)
			ts.note(fmt.Sprintf("connect %s recovered=%v rooms=%v data=%v meta=%s", s.ID(), s.Recovered(), rooms, s.Data(), s.Meta()))
			s.OnDisconnect(func(reason string) { ts.note("disconnect " + s.ID() + " " + reason) })
		})
	})
}

// recoveringClient is a raw client with its session id, pid and the last
// offset it saw, as socket.io-client keeps them.
type recoveringClient struct {
	*rawClient
	sid, pid, offset string
}

// connectRecovering connects a raw client to "/" with payload auth and
// reads the events before its CONNECT answer (missed packets), which it
// returns as event reads them.
func connectRecovering(t *testing.T, ts *testServer, auth string) (*recoveringClient, []string) {
	t.Helper()
	c := &recoveringClient{rawClient: dialRaw(t, ts)}
	c.send("40" + auth)
	var before []string
	for {
		got := c.read()
		if m := connectWithPID.FindStringSubmatch(got); m != nil {
			c.sid, c.pid = m[1], m[2]
			return c, before
		}
		before = append(before, c.parseEvent(got))
	}
}

// event reads an event with an offset, keeps the offset and returns the
// event without it, followed by its attachments in hexadecimal.
func (c *recoveringClient) event() string {
	c.t.Helper()
	return c.parseEvent(c.read())
}

var binaryPrefix = regexp.MustCompile(`^45(\d+)-`)

func (c *recoveringClient) parseEvent(got string) string {
	c.t.Helper()
	m := eventWithOffset.FindStringSubmatch(got)
	if m == nil {
		c.t.Fatalf("got %q, want an event with an offset as last argument", got)
	}
	c.offset = m[2]
	out := m[1] + "]"
	if b := binaryPrefix.FindStringSubmatch(got); b != nil {
		n := 0
		fmt.Sscan(b[1], &n)
		for range n {
			out += fmt.Sprintf(" %x", c.read())
		}
	}
	return out
}

// drop closes the client's TCP connection without a word, as a lost
// network does, and waits for the server to notice.
func (c *recoveringClient) drop(ts *testServer) {
	c.t.Helper()
	note := "disconnect " + c.sid + " transport close"
	before := ts.count(note) // a recovered socket may have dropped before
	c.conn.NetConn().Close()
	ts.waitSeen(note, before+1)
}

func (c *recoveringClient) auth() string {
	return fmt.Sprintf(`{"pid":%q,"offset":%q}`, c.pid, c.offset)
}

// connected is the note the recovery server makes for a socket.
func connected(sid string, recovered bool) string {
	rooms := []string{sid, "room1"}
	slices.Sort(rooms)
	return fmt.Sprintf(`connect %s recovered=%v rooms=%v data=map[user:ann] meta={"secret":1}`, sid, recovered, rooms)
}

func TestRecoveryConnectAnswerCarriesPidAndStoredEventsAnOffset(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{})
	c, _ := connectRecovering(t, ts, "")
	s := ts.io.Of("/").Socket(c.sid)
	ts.io.Emit("all", 1)
	if got := c.event(); got != `42["all",1]` {
		t.Errorf("broadcast: %s", got)
	}
	first := c.offset
	if err := s.Emit("direct", "x"); err != nil {
		t.Fatal(err)
	}
	if got := c.event(); got != `42["direct","x"]` || c.offset == first {
		t.Errorf("socket emit: %s, offset %q after %q", got, c.offset, first)
	}
	// Volatile and acknowledged events are not stored: nothing is added
	// to the log, and the acknowledged one goes out without offset.
	r := ts.io.Of("/").recovery.Load()
	stored, _, _ := r.stats()
	ts.io.Of("/").Volatile().Emit("vol", 2)
	if err := s.Emit("ack-me", 3, func(Args, error) {}); err != nil {
		t.Fatal(err)
	}
	for {
		got := c.read()
		if got == `42["vol",2]` {
			continue // it went out, or was dropped: either way without offset
		}
		if !regexp.MustCompile(`^42\d+\["ack-me",3\]$`).MatchString(got) {
			t.Errorf("emit with ack: %q", got)
		}
		break
	}
	if now, _, _ := r.stats(); now != stored {
		t.Errorf("%d packets stored after a volatile broadcast and an emit with ack, want %d", now, stored)
	}
	// Binary events are stored too; the offset is a JSON argument after
	// the placeholders.
	ts.io.Emit("bin", []byte{1, 2})
	if got := c.event(); got != `451-["bin",{"_placeholder":true,"num":0}] 0102` {
		t.Errorf("binary broadcast: %q", got)
	}
}

func TestRecoveryRestoresIDRoomsDataMetaAndMissedPacketsInOrder(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{})
	c, _ := connectRecovering(t, ts, "")
	other, _ := connectRecovering(t, ts, "")
	ts.waitSeen(connected(c.sid, false), 1)
	ts.io.To("room1").Emit("before", 0)
	c.event()
	other.event()
	c.drop(ts)

	nsp := ts.io.Of("/")
	nsp.To("room1").Emit("missed", 1)
	nsp.To("elsewhere").Emit("not-mine", 0)
	nsp.Emit("missed", 2)
	nsp.Except("room1").Emit("not-mine", 0)
	nsp.Volatile().Emit("not-mine", 0)
	nsp.To(c.sid).Emit("missed", 3, []byte{7})
	from := nsp.Socket(other.sid)
	from.Broadcast().Emit("missed", 4)
	from.To("room1").Emit("missed", 5)
	from.Except(c.sid).Emit("not-mine", 0)
	if err := from.Emit("not-mine", 0); err != nil { // to the other client only
		t.Fatal(err)
	}

	back, missed := connectRecovering(t, ts, c.auth())
	want := []string{`42["missed",1]`, `42["missed",2]`, `451-["missed",3,{"_placeholder":true,"num":0}] 07`, `42["missed",4]`, `42["missed",5]`}
	if !slices.Equal(missed, want) {
		t.Errorf("before the CONNECT answer:\n%s\nwant:\n%s", strings.Join(missed, "\n"), strings.Join(want, "\n"))
	}
	if back.sid != c.sid || back.pid != c.pid {
		t.Errorf("recovered as sid %s pid %s, want %s %s", back.sid, back.pid, c.sid, c.pid)
	}
	ts.waitSeen(connected(c.sid, true), 1)
	// Live again: the next packets come once, after the missed ones.
	nsp.To("room1").Emit("live", 6)
	if got := back.event(); got != `42["live",6]` {
		t.Errorf("after recovery: %s", got)
	}
}

// awayClient connects, receives one stored event, and drops its
// connection, leaving a session to recover.
func awayClient(t *testing.T, ts *testServer) *recoveringClient {
	t.Helper()
	c, _ := connectRecovering(t, ts, "")
	ts.waitSeen(connected(c.sid, false), 1)
	if err := ts.io.Of("/").Socket(c.sid).Emit("hello"); err != nil {
		t.Fatal(err)
	}
	c.event()
	c.drop(ts)
	return c
}

// expectFresh connects with auth and checks that the client gets a new
// socket: no missed packets, another sid and pid.
func expectFresh(t *testing.T, ts *testServer, auth string, old *recoveringClient) *recoveringClient {
	t.Helper()
	c, missed := connectRecovering(t, ts, auth)
	if len(missed) > 0 || c.sid == old.sid || c.pid == old.pid {
		t.Errorf("with %s: sid %s pid %s and %d missed packets, want a fresh socket (old sid %s)", auth, c.sid, c.pid, len(missed), old.sid)
	}
	ts.waitSeen(connected(c.sid, false), 1)
	return c
}

func TestRecoveryGivesAFreshSocketForUnknownExpiredOrForgedSessions(t *testing.T) {
	clock := newFakeClock()
	ts := recoveryServer(t, RecoveryOptions{MaxDisconnectionDuration: time.Minute, now: clock.Now})
	c := awayClient(t, ts)
	for _, auth := range []string{
		fmt.Sprintf(`{"pid":"nobody-has-this-pid0","offset":%q}`, c.offset),
		fmt.Sprintf(`{"pid":%q,"offset":null}`, c.pid),
		fmt.Sprintf(`{"pid":%q,"offset":""}`, c.pid),                              // a client whose last event ended with "" sends it
		fmt.Sprintf(`{"pid":%q,"offset":12}`, c.pid),                              // not a string
		fmt.Sprintf(`{"pid":%q,"offset":"zzzzzzzzzzzzz"}`, c.pid),                 // never given
		fmt.Sprintf(`{"pid":%q,"offset":"%s"}`, c.pid, strings.ToUpper(c.offset)), // not our spelling
		fmt.Sprintf(`{"pid":%q,"offset":"0%s"}`, c.pid, c.offset),
		fmt.Sprintf(`{"pid":%q,"offset":%q}`, c.pid, strings.Repeat("9", 5000)),
		fmt.Sprintf(`{"PID":%q,"offset":%q}`, c.pid, c.offset), // keys are case-sensitive in JavaScript
		`{"pid":["x"],"offset":{}}`,
	} {
		expectFresh(t, ts, auth, c)
	}
	// None of those cost the owner its session.
	back, _ := connectRecovering(t, ts, c.auth())
	if back.sid != c.sid {
		t.Fatalf("the owner got sid %s, want %s back", back.sid, c.sid)
	}
	// Taken: replaying the same pid and offset while it is connected
	// gives a fresh socket, never the live session.
	expectFresh(t, ts, c.auth(), c)

	// Past MaxDisconnectionDuration the session is gone.
	back.drop(ts)
	clock.advance(time.Minute + time.Millisecond)
	expectFresh(t, ts, c.auth(), c)
}

func TestRecoveryWithinMaxDisconnectionDurationRecovers(t *testing.T) {
	clock := newFakeClock()
	ts := recoveryServer(t, RecoveryOptions{MaxDisconnectionDuration: time.Minute, now: clock.Now})
	c := awayClient(t, ts)
	ts.io.To("room1").Emit("missed", 1)
	clock.advance(59 * time.Second)
	back, missed := connectRecovering(t, ts, c.auth())
	if back.sid != c.sid || !slices.Equal(missed, []string{`42["missed",1]`}) {
		t.Errorf("after 59 s: sid %s (want %s), missed %v", back.sid, c.sid, missed)
	}
}

func TestRecoveryPastTheLogCapGivesAFreshSocket(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{MaxLogBytes: 4 << 10})
	c := awayClient(t, ts)
	payload := strings.Repeat("x", 500)
	for i := range 10 { // 10 × (500 bytes + overhead) > 4 KiB: the first ones go
		ts.io.To("room1").Emit("missed", i, payload)
	}
	r := ts.io.Of("/").recovery.Load()
	if packets, bytes, _ := r.stats(); bytes > 4<<10 || packets >= 10 {
		t.Errorf("the log holds %d packets in %d bytes, want under 10 and 4 KiB", packets, bytes)
	}
	expectFresh(t, ts, c.auth(), c)
	// The session stays: a later offset would still do, were there one.
	if _, _, sessions := r.stats(); sessions != 1 {
		t.Errorf("%d sessions kept, want 1", sessions)
	}
}

func TestRecoveryLogIsPrunedByAge(t *testing.T) {
	clock := newFakeClock()
	ts := recoveryServer(t, RecoveryOptions{MaxDisconnectionDuration: time.Minute, now: clock.Now})
	r := ts.io.Of("/").recovery.Load()
	ts.io.Emit("old", 1)
	clock.advance(30 * time.Second)
	ts.io.Emit("newer", 2)
	clock.advance(31 * time.Second)
	r.sweep()
	if packets, _, _ := r.stats(); packets != 1 {
		t.Errorf("%d packets kept after 61 s, want 1 (the newer)", packets)
	}
	clock.advance(30 * time.Second)
	r.sweep()
	if packets, bytes, _ := r.stats(); packets != 0 || bytes != 0 {
		t.Errorf("%d packets in %d bytes kept once all expired, want none", packets, bytes)
	}
}

func TestRecoveryAfterAQuietSpellRecoversWithNothingMissed(t *testing.T) {
	// The client's last packet expired from the log, but nothing came after
	// it: everything it missed (nothing) is still known.
	clock := newFakeClock()
	ts := recoveryServer(t, RecoveryOptions{MaxDisconnectionDuration: time.Minute, now: clock.Now})
	c, _ := connectRecovering(t, ts, "")
	ts.waitSeen(connected(c.sid, false), 1)
	ts.io.Emit("hello")
	c.event()
	clock.advance(2 * time.Minute)
	c.drop(ts)
	back, missed := connectRecovering(t, ts, c.auth())
	if back.sid != c.sid || len(missed) != 0 {
		t.Errorf("sid %s (want %s), missed %v", back.sid, c.sid, missed)
	}
}

func TestRecoveryMiddlewaresRunUnlessSkipped(t *testing.T) {
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprint("skip_middlewares=", skip), func(t *testing.T) {
			ts := recoveryServer(t, RecoveryOptions{SkipMiddlewares: skip})
			ts.io.Use(func(s *Socket) error {
				rooms := s.Rooms()
				slices.Sort(rooms)
				ts.note(fmt.Sprintf("middleware recovered=%v rooms=%v", s.Recovered(), rooms))
				return nil
			})
			c := awayClient(t, ts)
			back, _ := connectRecovering(t, ts, c.auth())
			ts.waitSeen(connected(back.sid, true), 1)
			rooms := []string{c.sid, "room1"}
			slices.Sort(rooms)
			if n := ts.count(fmt.Sprintf("middleware recovered=true rooms=%v", rooms)); n != map[bool]int{false: 1, true: 0}[skip] {
				t.Errorf("the middleware saw the recovered socket %d times", n)
			}
		})
	}
}

func TestRecoveryRefusedByAMiddlewareKeepsTheSession(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{})
	refuse := true
	var mu sync.Mutex
	ts.io.Use(func(s *Socket) error {
		mu.Lock()
		defer mu.Unlock()
		if s.Recovered() && refuse {
			refuse = false
			return &ConnectError{Message: "not now"}
		}
		return nil
	})
	c := awayClient(t, ts)
	r := dialRaw(t, ts)
	r.send("40" + c.auth())
	if got := r.read(); got != `44{"message":"not now"}` {
		t.Fatalf("got %q, want the refusal", got)
	}
	back, _ := connectRecovering(t, ts, c.auth())
	if back.sid != c.sid {
		t.Errorf("after a refusal the owner got sid %s, want %s back", back.sid, c.sid)
	}
}

func TestRecoveryCleanDisconnectKeepsNoSession(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{})
	c, _ := connectRecovering(t, ts, "")
	ts.io.Emit("hello")
	c.event()
	c.send("41")
	ts.waitSeen("disconnect "+c.sid+" client namespace disconnect", 1)
	expectFresh(t, ts, c.auth(), c)
}

// With a cluster adapter, each server stores what it delivers, remote
// broadcasts included: a client recovers on its own server, and gets a
// fresh socket on another.
func TestRecoveryOnAClusterIsPerServer(t *testing.T) {
	b := &bus{}
	opts := Options{Adapter: b.factory, ConnectionStateRecovery: &RecoveryOptions{}}
	serverA := startServerWith(t, "", engine.Options{}, opts, func(*testServer) {})
	serverB := startServerWith(t, "", engine.Options{}, opts, func(ts *testServer) {
		ts.io.OnConnection(func(s *Socket) {
			s.OnDisconnect(func(reason string) { ts.note("disconnect " + s.ID() + " " + reason) })
		})
	})
	c, _ := connectRecovering(t, serverB, "")
	serverB.io.Of("/").Socket(c.sid).Join("room")
	serverA.io.To("room").Emit("news", 1)
	if got := c.event(); got != `42["news",1]` {
		t.Fatalf("got %s", got)
	}
	c.drop(serverB)
	serverA.io.To("room").Emit("news", 2)
	elsewhere, missed := connectRecovering(t, serverA, c.auth())
	if elsewhere.sid == c.sid || len(missed) > 0 {
		t.Errorf("on the other server: sid %s, missed %v; want a fresh socket", elsewhere.sid, missed)
	}
	back, missed := connectRecovering(t, serverB, c.auth())
	if back.sid != c.sid || !slices.Equal(missed, []string{`42["news",2]`}) {
		t.Errorf("on its server: sid %s (want %s), missed %v", back.sid, c.sid, missed)
	}
}

func TestSetRecoveryOptionsTurnsRecoveryOffAndOnAtRuntime(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{})
	c := awayClient(t, ts)
	ts.io.SetRecoveryOptions(nil) // a reload without the block: the sessions go
	plain := dialRaw(t, ts)
	plain.send("40" + c.auth())
	if got := plain.read(); !regexp.MustCompile(`^40\{"sid":"[A-Za-z0-9_-]{20}"\}$`).MatchString(got) || strings.Contains(got, c.sid) {
		t.Errorf("with recovery off the CONNECT answer is %q, want a fresh sid and no pid", got)
	}
	ts.io.Emit("plain", 1)
	if got := plain.read(); got != `42["plain",1]` {
		t.Errorf("with recovery off: %q, want no offset", got)
	}
	ts.io.SetRecoveryOptions(&RecoveryOptions{})
	again, _ := connectRecovering(t, ts, "") // has a pid again
	ts.io.Emit("stored", 2)
	if got := again.event(); got != `42["stored",2]` {
		t.Errorf("with recovery on again: %s", got)
	}
}

func TestRecoveryTwiceInARowKeepsTheNewerSession(t *testing.T) {
	// The first session's expiry must not take the second one with it.
	clock := newFakeClock()
	ts := recoveryServer(t, RecoveryOptions{MaxDisconnectionDuration: time.Minute, now: clock.Now})
	c := awayClient(t, ts)
	clock.advance(40 * time.Second)
	back, _ := connectRecovering(t, ts, c.auth())
	ts.waitSeen(connected(c.sid, true), 1)
	ts.io.To("room1").Emit("between", 1)
	back.event()
	back.drop(ts)
	clock.advance(30 * time.Second) // the first session would have expired
	ts.io.Of("/").recovery.Load().sweep()
	again, missed := connectRecovering(t, ts, back.auth())
	if again.sid != c.sid || len(missed) != 0 {
		t.Errorf("second recovery: sid %s (want %s), missed %v", again.sid, c.sid, missed)
	}
}

func TestRecoveryMissingMoreThanTheConnectionMayQueueGivesAFreshSocketNext(t *testing.T) {
	ts := recoveryServerWith(t, engine.Options{MaxPayload: 1000}, RecoveryOptions{})
	c := awayClient(t, ts)
	payload := strings.Repeat("x", 1000)
	for i := range 1200 { // 1.2 MB: more than a session may queue (1 MiB here)
		ts.io.To("room1").Emit("missed", i, payload)
	}
	r := dialRaw(t, ts)
	r.send("40" + c.auth())
	for !strings.HasPrefix(r.read(), "error:") { // missed packets, then the close
	}
	expectFresh(t, ts, c.auth(), c)
}

// Beyond Node: a client that received no stored packet sends its pid
// without offset, and recovers with what was stored for it since it
// connected (Node gives it a fresh socket).
func TestRecoveryWithoutOffsetReplaysSinceTheSocketConnected(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{})
	ts.io.Emit("before-it-existed", 0)
	c, _ := connectRecovering(t, ts, "")
	ts.waitSeen(connected(c.sid, false), 1)
	c.drop(ts)
	ts.io.To("room1").Emit("missed", 1)
	back, missed := connectRecovering(t, ts, fmt.Sprintf(`{"pid":%q}`, c.pid))
	if back.sid != c.sid || !slices.Equal(missed, []string{`42["missed",1]`}) {
		t.Errorf("sid %s (want %s), missed %v", back.sid, c.sid, missed)
	}
}

// Beyond Node: a client keeps its last offset when it gets a fresh socket,
// and sends it with the new pid; the replay starts at the new socket's
// connection, not at that older offset (Node replays what was sent before
// the socket existed).
func TestRecoveryWithAnOffsetOlderThanTheSocketReplaysOnlyItsOwnPackets(t *testing.T) {
	ts := recoveryServer(t, RecoveryOptions{})
	old, _ := connectRecovering(t, ts, "")
	ts.io.Emit("seen-by-the-old-socket", 1)
	old.event()
	ts.io.Emit("before-the-new-socket", 2)
	c, _ := connectRecovering(t, ts, "")
	ts.waitSeen(connected(c.sid, false), 1)
	c.drop(ts)
	ts.io.To("room1").Emit("missed", 3)
	back, missed := connectRecovering(t, ts, fmt.Sprintf(`{"pid":%q,"offset":%q}`, c.pid, old.offset))
	if back.sid != c.sid || !slices.Equal(missed, []string{`42["missed",3]`}) {
		t.Errorf("sid %s (want %s), missed %v", back.sid, c.sid, missed)
	}
}
