package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// recoveryHooksSite is a site whose /chat namespace asks the Python backend
// of hooks_test.go (hooks_backend.py) about each connection and its "echo"
// events, with connection state recovery (the block's body recovery) and
// the HTTP API.
func recoveryHooksSite(port int, transport, recovery string) string {
	return indent(fmt.Sprintf(`http://127.0.0.1:%d {
socketio {
connection_state_recovery {
%s
}
namespace /chat {
hooks {
connect
events echo
timeout 5s
secret {env.HOOK_TEST_SECRET}
%s
}
}
}
handle_path /api/* {
socketio_api {
key {env.SOCKETIO_API_KEY}
}
}
}
`, port, recovery, transport), "")
}

// recoveredConnects lists what the backend's connect hook was told of each
// connection: recovered, the socket's id, data, meta and rooms.
func recoveredConnects(t *testing.T, b *hookBackend) []string {
	t.Helper()
	var out []string
	for _, r := range b.records() {
		if !strings.HasSuffix(r.Path, "/connect") {
			continue
		}
		var body struct {
			Socket struct {
				ID        string          `json:"id"`
				Recovered bool            `json:"recovered"`
				Data      json.RawMessage `json:"data"`
				Meta      json.RawMessage `json:"meta"`
				Rooms     []string        `json:"rooms"`
			} `json:"socket"`
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("connect hook body %s: %v", r.Body, err)
		}
		s := body.Socket
		rooms := slices.Clone(s.Rooms)
		for i := range rooms {
			if rooms[i] == s.ID {
				rooms[i] = "<id>"
			}
		}
		slices.Sort(rooms)
		out = append(out, fmt.Sprintf("recovered=%v data=%s meta=%s rooms=%s", s.Recovered, compact(s.Data), compact(s.Meta), strings.Join(rooms, ",")))
	}
	return out
}

// With backend hooks, a recovered socket keeps the data, meta and rooms
// its connect hook gave it the first time, and the hook is told it was
// recovered; with skip_middlewares (turned on by a reload) it recovers
// without asking the hook at all, but never past the origin check: a
// recovering handshake from a foreign origin is refused, and the session
// waits for a proper one.
func TestRecoveryWithHooksThroughCaddy(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	t.Setenv("SOCKETIO_API_KEY", apiKey)
	backend := startPythonHooks(t, hookSecret)
	r := &recoveryRun{t: t, port: freePort(t)}
	r.url = fmt.Sprintf("http://127.0.0.1:%d", r.port)
	r.apiURL = r.url + "/api"
	r.caddy = startCaddy(t, recoveryHooksSite(r.port, backend.transport, ""))
	r.proxy = testpeer.StartCutProxy(t, fmt.Sprintf("127.0.0.1:%d", r.port))

	// The proxy's own origin is the same origin for Caddy, which sees its
	// Host; a browser on it passes the origin check.
	spec := recoverySpec{
		clientSpec: clientSpec{Name: "ann", Version: "v4", URL: r.proxy.URL(), Namespace: "/chat"},
		Auth:       map[string]string{"token": "good", "user": "ann"},
		Headers:    map[string]string{"Origin": r.proxy.URL()},
	}
	c := startRecoveryClients(t, "recovery_clients.js", nil, spec)
	id, _ := c.connection(30*time.Second, "ann", 1)
	room := "user:ann" // from the connect hook's answer
	r.emit("before", `[]`, room)
	c.waitFor(10*time.Second, "before", received("ann", "before", ""))
	echo := func(want string) {
		t.Helper()
		c.send(map[string]any{"cmd": "emit", "name": "ann", "event": "echo", "args": []any{1}, "ack": true})
		n := len(c.all(is("ack", "ann")))
		for deadline := time.Now().Add(10 * time.Second); len(c.all(is("ack", "ann"))) == n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no ack of echo; events:\n%s", c.dump())
			}
		}
		acks := c.all(is("ack", "ann"))
		var reply []json.RawMessage
		if err := json.Unmarshal(acks[len(acks)-1].Reply, &reply); err != nil || len(reply) == 0 {
			t.Fatalf("echo ack %s", acks[len(acks)-1].Reply)
		}
		sameJSON(t, "what the backend saw of the socket in its echo", reply[0], want)
	}
	const kept = `{"args":[1],"meta":{"session":"s-ann"},"data":{"user":"ann"}}`

	r.cut(room)
	r.emit("missed", `[1]`, room)
	r.proxy.Restore()
	again, recovered := c.connection(30*time.Second, "ann", 2)
	if !recovered || again != id {
		t.Fatalf("recovered %v, id %s; want recovered with the same id %s", recovered, again, id)
	}
	if rooms := r.roomsOf(id); !sameRooms(rooms, id, room) {
		t.Errorf("the recovered socket is in %v, want its id and %s", rooms, room)
	}
	echo(kept)
	// The first time, the socket is in no room yet; recovered, it has its
	// id's room and the hook's back, with its data and meta.
	want := []string{`recovered=false data=null meta=null rooms=`, `recovered=true data={"user":"ann"} meta={"session":"s-ann"} rooms=<id>,user:ann`}
	if got := recoveredConnects(t, backend); !slices.Equal(got, want) {
		t.Errorf("the connect hook was told:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}

	// skip_middlewares: the hook is not asked, and the socket keeps what it
	// had; a foreign origin is refused all the same.
	r.caddy.reload(recoveryHooksSite(r.port, backend.transport, "skip_middlewares"))
	r.cut(room)
	r.emit("missed", `[2]`, room)
	c.send(map[string]any{"cmd": "header", "name": "ann", "header": "Origin", "value": "http://evil.example"})
	r.proxy.Restore()
	refusedAfterDrop(t, c.nodeClients, "ann", 2)
	r.caddy.waitForLog(`"origin":"http://evil.example"`, 10*time.Second)
	if n := len(c.all(is("connected", "ann"))); n != 2 {
		t.Fatalf("the client connected %d times, want 2 (the foreign origin refused)", n)
	}
	c.send(map[string]any{"cmd": "header", "name": "ann", "header": "Origin", "value": r.proxy.URL()})
	third, recovered := c.connection(30*time.Second, "ann", 3)
	if !recovered || third != id {
		t.Fatalf("with skip_middlewares: recovered %v, id %s; want recovered with the same id %s", recovered, third, id)
	}
	echo(kept)
	if got := recoveredConnects(t, backend); len(got) != 2 {
		t.Errorf("with skip_middlewares the connect hook was asked again:\n\t%s", strings.Join(got, "\n\t"))
	}
	r.emit("after", `[]`, room)
	c.waitFor(10*time.Second, "after", received("ann", "after", ""))
	expectEvents(t, "the recovered client", withoutOffsets(t, "ann", c.receivedSince("ann", 1)),
		`missed [1]`, `missed [2]`, `after []`)
}

// refusedAfterDrop waits for a connect_error of name after its nth
// disconnect.
func refusedAfterDrop(t *testing.T, c *nodeClients, name string, nth int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		drops := 0
		for _, e := range c.all(func(e clientEvent) bool { return e.Name == name }) {
			if e.Type == "disconnect" {
				drops++
			}
			if drops >= nth && e.Type == "connect_error" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connect_error of %s after its disconnect %d; events:\n%s", name, nth, c.dump())
		}
	}
}

// compact is JSON without its spaces (Python's json.dumps puts some in).
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
