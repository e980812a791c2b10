package integration_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// Connection state recovery (connection_state_recovery) through the built
// Caddy, as a user meets it: real socket.io-client 4.8 in Node and in
// headless Chromium lose their connection (the test's TCP proxy in front of
// Caddy cuts it: no close frame, no disconnect packet), events reach their
// rooms meanwhile (from the HTTP server API, and relayed from another
// client), and the clients come back. The socketio package's tests prove
// the protocol against a bare server; these prove the Caddyfile, reloads,
// stops, join, relay and the backend hooks around it.

// recoverySite is a site whose /chat namespace joins each socket to
// room-<query.room> and relays its "chat" events there, with recovery
// options recovery (the block's body) and the HTTP API at /api/. It serves
// the socket.io-client bundle and a page for the browser (/v4.html), and
// lets pages from origin (may be empty) open WebSockets.
func recoverySite(port int, recovery, origin string) string {
	cors := ""
	if origin != "" {
		cors = "cors {\norigin " + origin + "\n}"
	}
	return indent(fmt.Sprintf(`http://127.0.0.1:%d {
handle /socket.io/* {
socketio {
allow_eio3
ping_interval 5s
ping_timeout 5s
%s
connection_state_recovery {
%s
}
namespace /chat {
join room-{query.room}
relay chat
}
}
}
handle_path /api/* {
socketio_api {
key {env.SOCKETIO_API_KEY}
}
}
handle_path /vendor/* {
root * site/vendor
file_server
}
handle {
root * integration_test/testdata/www
file_server
}
}
`, port, cors, recovery), "")
}

// recoveryClients is a running recovery_clients.js or recovery_browser.js.
type recoveryClients struct {
	*nodeClients
	mu        sync.Mutex
	recovered map[string][]bool // socket.recovered at each connect, by client
}

// recoverySpec is a clientSpec with what recovery_host.js adds.
type recoverySpec struct {
	clientSpec
	Auth    map[string]string `json:"auth,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

func chatSpec(name, version, url, room string) recoverySpec {
	return recoverySpec{clientSpec: clientSpec{Name: name, Version: version, URL: url, Namespace: "/chat", Query: map[string]string{"room": room}}}
}

// startRecoveryClients runs script (recovery_clients.js or
// recovery_browser.js) with specs and env.
func startRecoveryClients(t *testing.T, script string, env []string, specs ...recoverySpec) *recoveryClients {
	t.Helper()
	data, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	c := &recoveryClients{recovered: map[string][]bool{}}
	c.nodeClients = startClientScript(t, script, append(env, "CLIENTS="+string(data)), func(e clientEvent, line []byte) {
		if e.Type != "connected" {
			return
		}
		var r struct{ Recovered bool }
		_ = json.Unmarshal(line, &r)
		c.mu.Lock()
		c.recovered[e.Name] = append(c.recovered[e.Name], r.Recovered)
		c.mu.Unlock()
	})
	return c
}

// connection waits for name's nth connect (from 1) and returns its socket
// id and whether it was recovered.
func (c *recoveryClients) connection(within time.Duration, name string, nth int) (id string, recovered bool) {
	c.t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(10 * time.Millisecond) {
		if connects := c.all(is("connected", name)); len(connects) >= nth {
			c.mu.Lock()
			defer c.mu.Unlock()
			return connects[nth-1].ID, c.recovered[name][nth-1]
		}
		if e, failed := c.find(is("connect_error", name)); failed && nth == 1 {
			c.t.Fatalf("%s could not connect: %s (%s)", name, e.Error, e.Description)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no connect %d of %s within %v; events so far:\n%s", nth, name, within, c.dump())
		}
	}
}

// receivedSince lists the events name received after its nth disconnect,
// as event name and JSON arguments.
func (c *recoveryClients) receivedSince(name string, nth int) []clientEvent {
	c.nodeClients.mu.Lock()
	defer c.nodeClients.mu.Unlock()
	var out []clientEvent
	n := 0
	for _, e := range c.events {
		switch {
		case e.Name == name && e.Type == "disconnect":
			n++
		case e.Name == name && e.Type == "received" && n >= nth:
			out = append(out, e)
		}
	}
	return out
}

// offsetPattern is what our offsets look like (socketio/recovery.go).
var offsetPattern = regexp.MustCompile(`^[0-9a-z]{8,13}$`)

// withoutOffsets checks that every event carries an offset as its last
// argument, each greater than the one before (the order the server stored
// them in), and returns the events as "name args" without it.
func withoutOffsets(t *testing.T, who string, events []clientEvent) []string {
	t.Helper()
	var out []string
	var last uint64
	for _, e := range events {
		var args []json.RawMessage
		if err := json.Unmarshal(e.Args, &args); err != nil {
			t.Fatalf("%s: arguments %s: %v", who, e.Args, err)
		}
		var offset string
		if len(args) == 0 || json.Unmarshal(args[len(args)-1], &offset) != nil || !offsetPattern.MatchString(offset) {
			t.Errorf("%s got %s %s without an offset as its last argument", who, e.Event, e.Args)
			out = append(out, e.Event+" "+string(e.Args))
			continue
		}
		seq, _ := strconv.ParseUint(offset, 36, 64)
		if seq <= last {
			t.Errorf("%s got %s with offset %s, not after the one before", who, e.Event, offset)
		}
		last = seq
		rest, _ := json.Marshal(args[:len(args)-1])
		out = append(out, e.Event+" "+string(rest))
	}
	return out
}

func eventLines(events []clientEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Event+" "+string(e.Args))
	}
	return out
}

func expectEvents(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s received:\n\t%s\nwant, each once and in this order:\n\t%s", who, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// recoveryRun is one Caddy with recovery on, its API, and a cut proxy in
// front of it for the clients that are to lose their connection.
type recoveryRun struct {
	t      *testing.T
	caddy  *caddyProcess
	port   int
	url    string // Caddy, for the API and the clients that stay
	proxy  *testpeer.CutProxy
	apiURL string
}

// startRecoveryRun starts Caddy with the recovery block's body recovery;
// with browser, pages from Caddy itself may open WebSockets through the
// proxy (another origin).
func startRecoveryRun(t *testing.T, recovery string, browser bool) *recoveryRun {
	t.Helper()
	t.Setenv("SOCKETIO_API_KEY", apiKey)
	r := &recoveryRun{t: t, port: freePort(t)}
	r.url = fmt.Sprintf("http://127.0.0.1:%d", r.port)
	origin := ""
	if browser {
		origin = r.url
	}
	r.caddy = startCaddy(t, recoverySite(r.port, recovery, origin))
	r.apiURL = r.url + "/api"
	r.proxy = testpeer.StartCutProxy(t, fmt.Sprintf("127.0.0.1:%d", r.port))
	return r
}

// emit sends event with args (a JSON array) to rooms of /chat through the
// API.
func (r *recoveryRun) emit(event, args string, rooms ...string) {
	r.t.Helper()
	body := map[string]any{"namespace": "/chat", "event": event, "args": json.RawMessage(args)}
	if len(rooms) > 0 {
		body["rooms"] = rooms
	}
	data, _ := json.Marshal(body)
	mustStatus(r.t, api(r.t, r.apiURL, "POST", "/emit", string(data)), 202, "emit "+event)
}

// count is the number of sockets of /chat in room, by the API.
func (r *recoveryRun) count(room string) int {
	r.t.Helper()
	a := api(r.t, r.apiURL, "GET", "/sockets/count?namespace=/chat&room="+room, "")
	var n struct{ Count int }
	if err := json.Unmarshal([]byte(a.body), &n); err != nil {
		r.t.Fatalf("count of %s: %d %s", room, a.status, a.body)
	}
	return n.Count
}

// waitCount waits until room has n sockets: the server noticed a cut
// connection. A polling client cut between two polls has no request parked
// to fail, so the server sees it lost only when a ping goes unanswered: at
// the site's 5 s + 5 s heartbeat within 10 s, inside the 15 s waited here
// (at the default 25 s + 20 s it was missed now and then).
func (r *recoveryRun) waitCount(room string, n int) {
	r.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); r.count(room) != n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("room %s never had %d sockets (it has %d)", room, n, r.count(room))
		}
	}
}

// roomsOf is the rooms of socket id in /chat, by the API.
func (r *recoveryRun) roomsOf(id string) []string {
	r.t.Helper()
	a := api(r.t, r.apiURL, "GET", "/sockets?namespace=/chat&room="+id, "")
	var page struct {
		Sockets []struct {
			ID    string   `json:"id"`
			Rooms []string `json:"rooms"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(a.body), &page); err != nil || len(page.Sockets) != 1 || page.Sockets[0].ID != id {
		r.t.Fatalf("the socket %s: %d %s (%v)", id, a.status, a.body, err)
	}
	return page.Sockets[0].Rooms
}

func sameRooms(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			return false
		}
	}
	return true
}

// testRecoveredClient is the whole story for one kind of client: "away" (a
// socket.io-client 4.8 through the proxy, started by start) loses its
// connection, misses events to its room, to everyone, to its own id (with
// binary) and one relayed by "peer" (a v4 client in the same room), but
// none to another room or excepting its room; it comes back recovered,
// with its id, its rooms and each of those events once, in order, before
// what is sent after. "v2" (socket.io-client 2.x in the same room) got the
// same events without any offset argument.
func testRecoveredClient(t *testing.T, r *recoveryRun, away *recoveryClients, peers *recoveryClients) {
	id, recovered := away.connection(60*time.Second, "away", 1)
	if recovered {
		t.Error("the first connection says it was recovered")
	}
	peers.connected(15*time.Second, "peer", "v2")
	r.waitCount("room-a", 3)
	r.emit("before", `[0]`, "room-a") // gives the client an offset to come back with
	away.waitFor(10*time.Second, "away receiving before", received("away", "before", ""))

	r.proxy.Cut()
	away.waitFor(10*time.Second, "away losing its connection", is("disconnect", "away"))
	r.waitCount("room-a", 2)
	// Each emit is seen by v2 before the next, so that their order is the
	// order the server stored them in.
	step := func(event, args string) {
		peers.waitFor(10*time.Second, "v2 receiving "+event, received("v2", event, args))
	}
	r.emit("missed", `[1]`, "room-a")
	step("missed", `[1]`)
	r.emit("not-mine", `[0]`, "room-b")
	r.emit("missed", `[2,{"all":true}]`)
	step("missed", `[2,{"all":true}]`)
	r.emit("missed", `[3,{"_binary":"BwgJ"}]`, id)
	peers.send(map[string]any{"cmd": "emit", "name": "peer", "event": "chat", "args": []any{"hello from peer"}})
	step("chat", `["hello from peer"]`)
	body := `{"namespace":"/chat","event":"not-mine","except":["room-a"]}`
	mustStatus(t, api(t, r.apiURL, "POST", "/emit", body), 202, "emit except room-a")
	r.emit("missed", `[4]`, "room-a")
	step("missed", `[4]`)
	r.proxy.Restore()

	again, recovered := away.connection(30*time.Second, "away", 2)
	if !recovered || again != id {
		t.Errorf("after the cut: recovered %v, id %s; want recovered with the same id %s", recovered, again, id)
	}
	if rooms := r.roomsOf(id); !sameRooms(rooms, id, "room-a") {
		t.Errorf("the recovered socket is in %v, want its id and room-a", rooms)
	}
	r.emit("after", `[]`, "room-a")
	away.waitFor(10*time.Second, "away receiving after", received("away", "after", ""))
	step("after", `[]`)
	expectEvents(t, "the recovered client", withoutOffsets(t, "away", away.receivedSince("away", 1)),
		`missed [1]`, `missed [2,{"all":true}]`, `missed [3,{"$bytes":[7,8,9]}]`, `chat ["hello from peer"]`, `missed [4]`, `after []`)
	expectEvents(t, "the v2 client", eventLines(peers.receivedSince("v2", 0)),
		`before [0]`, `missed [1]`, `missed [2,{"all":true}]`, `chat ["hello from peer"]`, `missed [4]`, `after []`)
}

func TestRecoveryThroughCaddy(t *testing.T) {
	for _, transports := range []string{"websocket", "polling"} {
		t.Run(transports, func(t *testing.T) {
			r := startRecoveryRun(t, "", false)
			away := chatSpec("away", "v4", r.proxy.URL(), "a")
			away.Transports = []string{transports}
			awayClients := startRecoveryClients(t, "recovery_clients.js", nil, away)
			peers := startRecoveryClients(t, "recovery_clients.js", nil, chatSpec("peer", "v4", r.url, "a"), chatSpec("v2", "v2", r.url, "a"))
			testRecoveredClient(t, r, awayClients, peers)
		})
	}
}

// The same in headless Chromium: the page comes from Caddy itself, the
// socket goes through the proxy (another origin, allowed by cors), so the
// cut takes the connection and not the page.
func TestRecoveryThroughCaddyInChromium(t *testing.T) {
	chromium := testpeer.Chromium(t)
	testpeer.Node(t)
	r := startRecoveryRun(t, "", true)
	awayClients := startRecoveryClients(t, "recovery_browser.js", []string{"PAGE=" + r.url + "/v4.html", "CHROMIUM=" + chromium},
		chatSpec("away", "v4", r.proxy.URL(), "a"))
	peers := startRecoveryClients(t, "recovery_clients.js", nil, chatSpec("peer", "v4", r.url, "a"), chatSpec("v2", "v2", r.url, "a"))
	testRecoveredClient(t, r, awayClients, peers)
}

// awayClient connects socket.io-client 4.8 "away" through the proxy to
// room-a, and gives it an offset (an event "before"); it returns the
// client and its socket id.
func (r *recoveryRun) awayClient() (*recoveryClients, string) {
	r.t.Helper()
	c := startRecoveryClients(r.t, "recovery_clients.js", nil, chatSpec("away", "v4", r.proxy.URL(), "a"))
	id, _ := c.connection(30*time.Second, "away", 1)
	r.emit("before", `[]`, "room-a")
	c.waitFor(10*time.Second, "before", received("away", "before", ""))
	return c, id
}

// cut cuts the proxy and waits until Caddy noticed: room is empty.
func (r *recoveryRun) cut(room string) {
	r.t.Helper()
	r.proxy.Cut()
	r.waitCount(room, 0)
}

// `caddy reload` keeps the sessions and stored events (a changed
// max_disconnection_duration applies to them); `caddy stop` ends them: the
// client, back once a new Caddy runs, gets a fresh socket.
func TestRecoveryAcrossCaddyReloadAndStop(t *testing.T) {
	r := startRecoveryRun(t, "max_disconnection_duration 2m", false)
	c, id := r.awayClient()

	r.cut("room-a")
	r.emit("before-reload", `[0]`, "room-a")
	r.caddy.reload(recoverySite(r.port, "max_disconnection_duration 3m", ""))
	r.emit("after-reload", `[1]`, "room-a")
	r.proxy.Restore()
	again, recovered := c.connection(30*time.Second, "away", 2)
	if !recovered || again != id {
		t.Fatalf("after the reload: recovered %v, id %s; want recovered with the same id %s", recovered, again, id)
	}
	r.emit("back", `[]`, "room-a")
	c.waitFor(10*time.Second, "back", received("away", "back", ""))
	expectEvents(t, "the client recovered across the reload", withoutOffsets(t, "away", c.receivedSince("away", 1)),
		`before-reload [0]`, `after-reload [1]`, `back []`)

	r.cut("room-a")
	r.emit("lost-with-the-stop", `[0]`, "room-a")
	r.caddy.stop(30 * time.Second)
	r.caddy = startCaddy(t, recoverySite(r.port, "max_disconnection_duration 3m", ""))
	r.proxy.Restore()
	third, recovered := c.connection(30*time.Second, "away", 3)
	if recovered || third == id {
		t.Errorf("after caddy stop and a new start: recovered %v, id %s; want a fresh socket, not %s", recovered, third, id)
	}
	r.emit("fresh", `[]`, "room-a")
	c.waitFor(10*time.Second, "fresh", received("away", "fresh", ""))
	expectEvents(t, "the client after the stop", withoutOffsets(t, "away", c.receivedSince("away", 2)), `fresh []`)
}

// A client that comes back after max_disconnection_duration, or after the
// namespace stored more than max_log_size meanwhile, gets a fresh socket
// (a new id, join's rooms again, recovered false) and none of what it
// missed, as the README says.
func TestRecoveryExpiryAndLogCapThroughCaddy(t *testing.T) {
	t.Run("max_log_size", func(t *testing.T) {
		r := startRecoveryRun(t, "max_log_size 8KiB", false)
		c, id := r.awayClient()
		r.cut("room-a")
		big := strings.Repeat("x", 1000)
		for i := range 20 {
			r.emit("missed", fmt.Sprintf(`[%d,%q]`, i, big), "room-a")
		}
		r.proxy.Restore()
		expectFresh(t, r, c, id)
	})
	t.Run("max_disconnection_duration", func(t *testing.T) {
		r := startRecoveryRun(t, "max_disconnection_duration 1s", false)
		c, id := r.awayClient()
		r.cut("room-a")
		r.emit("missed", `[0]`, "room-a")
		// Nothing to wait for: the session's age is all that changes.
		time.Sleep(1500 * time.Millisecond)
		r.proxy.Restore()
		expectFresh(t, r, c, id)
	})
}

// expectFresh checks that c's "away" came back to a fresh socket in room-a
// and got nothing of what it missed.
func expectFresh(t *testing.T, r *recoveryRun, c *recoveryClients, old string) {
	t.Helper()
	id, recovered := c.connection(30*time.Second, "away", 2)
	if recovered || id == old {
		t.Errorf("recovered %v, id %s; want a fresh socket, not %s", recovered, id, old)
	}
	if rooms := r.roomsOf(id); !sameRooms(rooms, id, "room-a") {
		t.Errorf("the fresh socket is in %v, want its id and room-a (join)", rooms)
	}
	r.emit("fresh", `[]`, "room-a")
	c.waitFor(10*time.Second, "fresh", received("away", "fresh", ""))
	expectEvents(t, "the client", withoutOffsets(t, "away", c.receivedSince("away", 1)), `fresh []`)
}
