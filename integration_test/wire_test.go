package integration_test

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// handshakeBody is what the troubleshooting section's curl command prints
// when the server works: an Engine.IO 4 open packet with Node's defaults.
var handshakeBody = regexp.MustCompile(`^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\["websocket"\],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000\}$`)

// websocketOpen is the open packet of a session that starts on WebSocket:
// there is nothing left to upgrade to.
var websocketOpen = regexp.MustCompile(`^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\[\],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000\}$`)

// siteWith returns a site block on a free loopback port holding body, and
// its origin.
func siteWith(t testing.TB, body string) (site, origin string) {
	t.Helper()
	port := freePort(t)
	return fmt.Sprintf("http://:%d {\n\tbind 127.0.0.1\n%s\n}\n", port, indent(body, "\t")),
		fmt.Sprintf("http://127.0.0.1:%d", port)
}

// The guide's first troubleshooting step, through Caddy:
// curl "http://host/socket.io/?EIO=4&transport=polling".
func TestCurlHandshakeThroughCaddy(t *testing.T) {
	site, origin := siteWith(t, "socketio\nrespond \"the site\"")
	startCaddy(t, site)

	resp, body := httpGet(t, origin+"/socket.io/?EIO=4&transport=polling", nil)
	if resp.StatusCode != http.StatusOK || !handshakeBody.MatchString(body) {
		t.Fatalf("handshake: %d %q; want 200 and %s", resp.StatusCode, body, handshakeBody)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q, want text/plain; charset=UTF-8 (as Node sends)", got)
	}
	// Everything else is the next handler's.
	if _, body := httpGet(t, origin+"/index.html", nil); body != "the site" {
		t.Errorf("GET /index.html = %q, want the next handler's %q", body, "the site")
	}
}

// dialEngine opens a WebSocket-only Engine.IO 4 session and returns the
// connection after reading the open packet.
func dialEngine(t *testing.T, url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := dialer.Dial(url, header)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.Close() })
	return conn, resp, nil
}

func readText(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("reading a WebSocket message: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("message type %d %q, want text", typ, data)
	}
	return string(data)
}

// Caddy's header handler wraps the response writer; the upgrade still
// hijacks the connection, and the 101 carries no Server header.
func TestWebSocketUpgradeBesideHeaderMinusServer(t *testing.T) {
	site, origin := siteWith(t, "header -Server\nsocketio")
	startCaddy(t, site)

	conn, resp, err := dialEngine(t, "ws"+strings.TrimPrefix(origin, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatalf("WebSocket handshake through `header -Server`: %v (response %v)", err, resp)
	}
	if got := resp.Header.Values("Server"); len(got) != 0 {
		t.Errorf("the 101 response has Server %q, want none", got)
	}
	if open := readText(t, conn); !websocketOpen.MatchString(open) {
		t.Fatalf("first message %q, want the open packet %s", open, websocketOpen)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, conn); !regexp.MustCompile(`^40\{"sid":"[A-Za-z0-9_-]{20}"\}$`).MatchString(got) {
		t.Errorf("answer to CONNECT: %q, want 40{\"sid\":\"...\"}", got)
	}
}

// Browsers do not apply CORS to WebSocket, so the server checks the Origin
// of an upgrade itself: a browser on another origin gets 403, a browser on
// the same origin and a client without Origin (not a browser) get through.
func TestCrossOriginWebSocketRefused(t *testing.T) {
	site, origin := siteWith(t, "socketio")
	startCaddy(t, site)
	ws := "ws" + strings.TrimPrefix(origin, "http") + "/socket.io/?EIO=4&transport=websocket"

	_, resp, err := dialEngine(t, ws, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("upgrade from http://evil.example: %v, response %v; want 403", err, resp)
	}
	for _, header := range []http.Header{{"Origin": {origin}}, nil} {
		conn, resp, err := dialEngine(t, ws, header)
		if err != nil {
			t.Errorf("upgrade with Origin %q: %v (response %v); want 101", header.Get("Origin"), err, resp)
			continue
		}
		if open := readText(t, conn); !websocketOpen.MatchString(open) {
			t.Errorf("upgrade with Origin %q: first message %q", header.Get("Origin"), open)
		}
	}
}

// pollingSession opens an Engine.IO 4 polling session and connects it to
// the main namespace, returning its sid.
func pollingSession(t *testing.T, origin string) string {
	t.Helper()
	resp, body := httpGet(t, origin+"/socket.io/?EIO=4&transport=polling", nil)
	m := regexp.MustCompile(`^0\{"sid":"([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("polling handshake: %d %q", resp.StatusCode, body)
	}
	sid := m[1]
	req, err := http.NewRequest(http.MethodPost, origin+"/socket.io/?EIO=4&transport=polling&sid="+sid, strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, req); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Fatalf("POST 40: %d %q", resp.StatusCode, body)
	}
	if _, body := httpGet(t, origin+"/socket.io/?EIO=4&transport=polling&sid="+sid, nil); !strings.HasPrefix(body, `40{"sid":"`) {
		t.Fatalf("GET after CONNECT: %q", body)
	}
	return sid
}

// Polling and WebSocket beside Caddy's encode and access log: with the
// directive order encode comes after socketio; inside a route it comes
// first and wraps the response writer of every long-poll and upgrade. A
// large packet arrives gzip-compressed once (by the engine or by encode,
// never both) and decodes to the exact bytes, and upgrades still hijack.
func TestPollingAndWebSocketBesideEncodeGzip(t *testing.T) {
	relay := "socketio {\nnamespace / {\nrelay\n}\n}"
	for name, body := range map[string]string{
		"directive order": "log\nencode gzip\n" + relay,
		"encode first":    "log\nroute {\nencode gzip\n" + relay + "\n}",
	} {
		t.Run(name, func(t *testing.T) {
			site, origin := siteWith(t, body)
			startCaddy(t, site)
			sid := pollingSession(t, origin)

			conn, resp, err := dialEngine(t, "ws"+strings.TrimPrefix(origin, "http")+"/socket.io/?EIO=4&transport=websocket", http.Header{"Accept-Encoding": {"gzip"}})
			if err != nil {
				t.Fatalf("WebSocket through encode: %v (response %v)", err, resp)
			}
			readText(t, conn)
			if err := conn.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
				t.Fatal(err)
			}
			readText(t, conn)
			packet := `42["big","` + strings.Repeat("socket.io through caddy ", 400) + `"]`
			if err := conn.WriteMessage(websocket.TextMessage, []byte(packet)); err != nil {
				t.Fatal(err)
			}

			resp, gz := httpGet(t, origin+"/socket.io/?EIO=4&transport=polling&sid="+sid, http.Header{"Accept-Encoding": {"gzip"}})
			if got := resp.Header.Values("Content-Encoding"); len(got) != 1 || got[0] != "gzip" {
				t.Fatalf("Content-Encoding %q, want gzip once", got)
			}
			zr, err := gzip.NewReader(strings.NewReader(gz))
			if err != nil {
				t.Fatalf("the long-poll body is not gzip: %v", err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if string(plain) != packet {
				t.Errorf("decoded long-poll body (%d bytes) differs from the relayed packet (%d bytes): %.60q", len(plain), len(packet), plain)
			}
		})
	}
}

// allow_request runs on handshakes only, and refuses as Node's allowRequest
// does: 403 with Engine.IO's JSON error on polling, a plain 400 on a
// WebSocket upgrade. The Origin here is the server's own, so that only
// allow_request (`header !Origin`) stands in the way.
func TestAllowRequestRefusals(t *testing.T) {
	site, origin := siteWith(t, "socketio {\nallow_request {\nheader !Origin\n}\n}")
	startCaddy(t, site)
	sameOrigin := http.Header{"Origin": {origin}}

	resp, body := httpGet(t, origin+"/socket.io/?EIO=4&transport=polling", sameOrigin)
	if resp.StatusCode != http.StatusForbidden || body != `{"code":4,"message":"Forbidden"}` {
		t.Errorf("polling handshake with Origin: %d %q, want 403 {\"code\":4,\"message\":\"Forbidden\"}", resp.StatusCode, body)
	}
	_, resp, err := dialEngine(t, "ws"+strings.TrimPrefix(origin, "http")+"/socket.io/?EIO=4&transport=websocket", sameOrigin)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("WebSocket handshake with Origin: %v, response %v; want 400", err, resp)
	}

	// Without Origin the handshake passes; the session's later requests
	// are not handshakes, so an upgrade carrying Origin (as a browser's
	// always does) is not asked again.
	resp, body = httpGet(t, origin+"/socket.io/?EIO=4&transport=polling", nil)
	m := regexp.MustCompile(`^0\{"sid":"([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("polling handshake without Origin: %d %q", resp.StatusCode, body)
	}
	conn, resp, err := dialEngine(t, "ws"+strings.TrimPrefix(origin, "http")+"/socket.io/?EIO=4&transport=websocket&sid="+m[1], sameOrigin)
	if err != nil {
		t.Fatalf("upgrade of an allowed session, with Origin: %v (response %v)", err, resp)
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, conn); got != "3probe" {
		t.Errorf("answer to 2probe: %q, want 3probe", got)
	}
}
