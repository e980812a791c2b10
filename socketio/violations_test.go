package socketio

import (
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// rawClient speaks the protocol by hand over a WebSocket, to send what no
// well-behaved client sends.
type rawClient struct {
	t    *testing.T
	conn *websocket.Conn
	sid  string
}

func dialRaw(t *testing.T, ts *testServer) *rawClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.DefaultDialer.Dial(url, http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawClient{t: t, conn: conn}
	open := c.read()
	if !strings.HasPrefix(open, `0{"sid":"`) {
		t.Fatalf("handshake %q", open)
	}
	c.sid = strings.Split(open, `"`)[3]
	return c
}

// read returns the next message, text or binary, skipping pings.
func (c *rawClient) read() string {
	c.t.Helper()
	for {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return "error: " + err.Error()
		}
		if string(data) != "2" {
			return string(data)
		}
	}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// closed waits until the server closes the connection.
func (c *rawClient) closed() bool {
	for {
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return !strings.Contains(err.Error(), "timeout")
		}
	}
}

func TestProtocolViolationClosesOnlyThatClient(t *testing.T) {
	for _, tc := range []struct{ name, packet, logged string }{
		{"unknown packet type", "47", `unknown packet type '7'`},
		{"payload not JSON", `42["ev",`, "invalid payload: not JSON"},
		{"event payload not an array", `42{}`, "must be an array"},
		{"invalid ack id", `42abc["message-with-ack",1]`, "invalid payload: not JSON"},
		{"reserved event name", `42["disconnecting"]`, `"disconnecting" is a reserved event name`},
		{"too many attachments", `4511-["ev"]`, "too many attachments: 11, the limit is 10"},
		{"binary data out of sequence", "", "got binary data when not reconstructing a packet"},
		{"CONNECT to a namespace twice", `40`, `CONNECT for namespace "/", which the client already joined`},
		{"packet for a namespace not joined", `42/admin,["ev"]`, `EVENT for namespace "/admin", which the client has not joined`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			ts := startServerWith(t, "", engine.Options{}, Options{Logger: zap.New(core)}, setupApp)
			good, bad := dialRaw(t, ts), dialRaw(t, ts)
			for _, c := range []*rawClient{good, bad} {
				c.send("40")
				if got := c.read(); !strings.HasPrefix(got, `40{"sid":"`) {
					t.Fatalf("CONNECT answered with %q", got)
				}
				c.read() // welcome
				c.read() // its attachment
			}
			if tc.packet == "" {
				bad.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2})
			} else {
				bad.send(tc.packet)
			}
			if !bad.closed() {
				t.Fatal("the offending client's connection stayed open")
			}
			// The other client is unaffected.
			good.send(`42["echo","still here"]`)
			if got := good.read(); got != `42["echo-back","still here"]` {
				t.Errorf("the other client got %q", got)
			}
			ts.waitSeen("disconnect / forced close", 1)
			entries := logs.FilterMessageSnippet("closing a client connection").All()
			if len(entries) != 1 {
				t.Fatalf("%d log lines about closing, want 1: %v", len(entries), logs.All())
			}
			e := entries[0]
			if e.Level != zap.InfoLevel || !strings.Contains(e.ContextMap()["error"].(string), tc.logged) {
				t.Errorf("logged %s %q %v, want info with %q", e.Level, e.Message, e.ContextMap(), tc.logged)
			}
			for _, entry := range logs.All() {
				if entry.Level > zap.DebugLevel && strings.Contains(entry.Message+toString(entry.ContextMap()), bad.sid) {
					t.Errorf("the engine sid appears above debug level: %v", entry)
				}
			}
		})
	}
}

func toString(m map[string]any) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k)
		b.WriteString("=")
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
		b.WriteString(" ")
	}
	return b.String()
}

func TestEachSessionGetsTheWholeConnectTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := startServerWith(t, "", engine.Options{}, Options{ConnectTimeout: timeout}, setupApp)
	first := dialRaw(t, ts)
	time.Sleep(timeout / 2)
	second, secondDialed := dialRaw(t, ts), time.Now()
	if !first.closed() {
		t.Fatal("the first session, which sent no CONNECT, stayed open")
	}
	if !second.closed() {
		t.Fatal("the second session, which sent no CONNECT, stayed open")
	}
	if waited := time.Since(secondDialed); waited < timeout*2/3 {
		t.Errorf("the second session was closed %v after it opened, before its own connect timeout", waited)
	}
}

func TestConnectTimeoutEndsWithTheFirstNamespaceJoined(t *testing.T) {
	// As in Node: a client that joined a namespace and left it keeps its
	// connection, to join again later.
	const timeout = 200 * time.Millisecond
	ts := startServerWith(t, "", engine.Options{}, Options{ConnectTimeout: timeout}, func(*testServer) {})
	c := dialRaw(t, ts)
	c.send("40")
	if got := c.read(); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Fatalf("CONNECT answered with %q", got)
	}
	c.send("41")
	time.Sleep(2 * timeout)
	c.send("40")
	if got := c.read(); !strings.HasPrefix(got, `40{"sid":"`) {
		t.Errorf("after leaving its namespace for twice the connect timeout, CONNECT got %q", got)
	}
}

func TestSessionWithoutConnectIsClosedAfterConnectTimeout(t *testing.T) {
	ts := startServerWith(t, "", engine.Options{}, Options{ConnectTimeout: 300 * time.Millisecond}, setupApp)
	idle, active := dialRaw(t, ts), dialRaw(t, ts)
	active.send("40")
	if got := active.read(); !strings.HasPrefix(got, "40{") {
		t.Fatalf("CONNECT answered with %q", got)
	}
	start := time.Now()
	if !idle.closed() {
		t.Fatal("a session that sent no CONNECT stayed open")
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("closed after %v, before the connect timeout", waited)
	}
	active.read() // the welcome and its attachment are still coming
	active.read()
	active.send(`42["echo",1]`)
	if got := active.read(); got != `42["echo-back",1]` {
		t.Errorf("the connected client got %q", got)
	}
}

func TestConnectErrorWireForms(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, setupApp)
	c := dialRaw(t, ts)
	c.send(`40/admin,{"token":"nope"}`)
	if got := c.read(); got != `44/admin,{"message":"not authorized","data":{"code":42}}` {
		t.Errorf("refused with %q", got)
	}
	c.send(`40/random,`)
	if got := c.read(); got != `44/random,{"message":"Invalid namespace"}` {
		t.Errorf("unknown namespace answered with %q", got)
	}
	c.send(`40/admin,{"token":"secret"}`)
	if got := c.read(); !strings.HasPrefix(got, `40/admin,{"sid":"`) || len(got) != len(`40/admin,{"sid":"`)+22 {
		t.Errorf("accepted with %q", got)
	}
	if got := c.read(); got != `42/admin,["admin-welcome",{"token":"secret"}]` {
		t.Errorf("then got %q", got)
	}
}

func TestPanickingHandlerClosesOnlyItsClient(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	ts := startServerWith(t, "", engine.Options{}, Options{Logger: zap.New(core)}, func(ts *testServer) {
		setupApp(ts)
		ts.io.OnConnection(func(s *Socket) {
			s.On("boom", func(*Event) { panic("handler bug") })
		})
	})
	good, bad := dialRaw(t, ts), dialRaw(t, ts)
	for _, c := range []*rawClient{good, bad} {
		c.send("40")
		c.read() // CONNECT
		c.read() // welcome
		c.read() // its attachment
	}
	bad.send(`42["boom"]`)
	if !bad.closed() {
		t.Fatal("the client whose handler panicked stayed connected")
	}
	good.send(`42["echo","fine"]`)
	if got := good.read(); got != `42["echo-back","fine"]` {
		t.Errorf("the other client got %q", got)
	}
	if n := logs.FilterMessageSnippet("panicked").FilterLevelExact(zap.ErrorLevel).Len(); n != 1 {
		t.Errorf("%d error lines about the panic, want 1", n)
	}
}

func TestAClosedConnectionIsNotHeldUntilItsConnectTimeout(t *testing.T) {
	ts := startServerWith(t, "", engine.Options{}, Options{ConnectTimeout: time.Hour}, func(*testServer) {})
	clients, sockets := connectRaw(t, ts, 1)
	released := make(chan struct{})
	runtime.AddCleanup(sockets[0].client, func(ch chan struct{}) { close(ch) }, released)
	sockets = nil
	clients[0].conn.Close()
	for start := time.Now(); ; {
		runtime.GC()
		select {
		case <-released:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the client of a closed connection is still in memory, an hour before its connect timeout")
		}
	}
}
