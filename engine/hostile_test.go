package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Input a hostile or broken client may send: each closes that client only,
// and nothing of it reaches the application.

func (ws *wireServer) delivered() []Message {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]Message(nil), ws.got...)
}

func TestInvalidUTF8InAWebSocketTextFrameCloses1007AndIsNotDelivered(t *testing.T) {
	for _, tc := range []struct{ name, query string }{
		{"protocol 4", "EIO=4&transport=websocket"},
		{"protocol 3", "EIO=3&transport=websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWireServer(t, Options{AllowEIO3: true})
			conn := dialOpen(t, ws, tc.query)
			defer conn.Close()
			// "4" then a lone continuation byte and a truncated sequence:
			// what ws (Node) refuses with 1007.
			conn.WriteMessage(websocket.TextMessage, []byte("4caf\xc3 \x80"))
			for {
				_, data, err := conn.ReadMessage()
				if err == nil {
					if data[0] == '4' {
						t.Fatalf("the invalid message was echoed: %q", data)
					}
					continue // a noop or a ping
				}
				if !websocket.IsCloseError(err, websocket.CloseInvalidFramePayloadData) {
					t.Fatalf("read after invalid UTF-8: %v, want close 1007", err)
				}
				break
			}
			if r := ws.reason(t); r != "transport error" {
				t.Fatalf("close reason %q, want transport error", r)
			}
			if got := ws.delivered(); len(got) != 0 {
				t.Fatalf("delivered %q", got[0].Data)
			}
		})
	}
}

func TestInvalidUTF8InAPollingPayloadIs400AndClosesTheSession(t *testing.T) {
	for _, tc := range []struct{ name, handshake, contentType, body string }{
		// The valid packet before the invalid one is not delivered
		// either: the whole payload is refused.
		{"protocol 4", "EIO=4&transport=polling", "text/plain;charset=UTF-8", "4fine\x1e4bad\xff"},
		{"protocol 3 text", "EIO=3&transport=polling&b64=1", "text/plain;charset=UTF-8", "5:4fine4:4bad\xff"},
		{"protocol 3 binary payload", "EIO=3&transport=polling", "application/octet-stream", "\x00\x05\xff4fine\x00\x05\xff4bad\xfe"},
		{"jsonp", "EIO=3&transport=polling&j=1", "application/x-www-form-urlencoded", "d=" + url.QueryEscape("5:4fine4:4bad\xff")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWireServer(t, Options{AllowEIO3: true, JSONP: true})
			res := ws.do(t, "GET", ws.url(tc.handshake), "", "")
			m := sidRE.FindStringSubmatch(res.body)
			if m == nil {
				t.Fatalf("handshake: %d %q", res.status, res.body)
			}
			poll := ws.url(tc.handshake + "&sid=" + m[1])
			res = ws.do(t, "POST", poll, tc.contentType, tc.body)
			if res.status != 400 {
				t.Fatalf("POST with invalid UTF-8: %d %q, want 400", res.status, res.body)
			}
			if r := ws.reason(t); r != "parse error" {
				t.Fatalf("close reason %q, want parse error", r)
			}
			if got := ws.delivered(); len(got) != 0 {
				t.Fatalf("delivered %q", got[0].Data)
			}
		})
	}
}

// sidRE finds the sid in a handshake, JSONP-escaped or not.
var sidRE = regexp.MustCompile(`\\?"sid\\?":\\?"([A-Za-z0-9_-]{20})`)

// A <script> request carries no Origin, so JSONP lets a page of any site
// open a session, read it and post to it: it is off unless asked for.
func TestJSONPIsOffByDefault(t *testing.T) {
	ws := newWireServer(t, Options{AllowEIO3: true})
	for _, query := range []string{"EIO=3&transport=polling&j=0", "EIO=4&transport=polling&j=0"} {
		res := ws.do(t, "GET", ws.url(query), "", "")
		want := `{"code":3,"message":"JSONP polling is disabled on this server"}`
		if res.status != 400 || res.body != want {
			t.Fatalf("JSONP handshake %s: %d %q, want 400 %s", query, res.status, res.body, want)
		}
	}
	ws.srv.mu.Lock()
	n := ws.srv.sessions.Len()
	ws.srv.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d sessions after refused JSONP handshakes", n)
	}
}

func TestAllowJSONPRunsOnEveryJSONPRequest(t *testing.T) {
	ws := newWireServer(t, Options{AllowEIO3: true, JSONP: true, AllowJSONP: func(r *http.Request) error {
		if r.Header.Get("Referer") == "https://evil.example/" {
			return errString("cross-site JSONP from https://evil.example")
		}
		return nil
	}})
	res := ws.do(t, "GET", ws.url("EIO=3&transport=polling&j=0"), "", "", "Referer", "https://evil.example/")
	if res.status != 403 || res.body != `{"code":4,"message":"cross-site JSONP from https://evil.example"}` {
		t.Fatalf("refused handshake: %d %q", res.status, res.body)
	}
	res = ws.do(t, "GET", ws.url("EIO=3&transport=polling&j=0"), "", "", "Referer", "https://app.example/")
	m := sidRE.FindStringSubmatch(res.body)
	if res.status != 200 || m == nil {
		t.Fatalf("allowed handshake: %d %q", res.status, res.body)
	}
	poll := ws.url("EIO=3&transport=polling&j=0&sid=" + m[1])
	if res = ws.do(t, "POST", poll, "application/x-www-form-urlencoded", "d=3:4hi", "Referer", "https://evil.example/"); res.status != 403 {
		t.Fatalf("cross-site POST: %d %q, want 403", res.status, res.body)
	}
	if res = ws.do(t, "GET", poll, "", "", "Referer", "https://evil.example/"); res.status != 403 {
		t.Fatalf("cross-site GET: %d %q, want 403", res.status, res.body)
	}
	if got := ws.delivered(); len(got) != 0 {
		t.Fatalf("the cross-site POST was delivered: %q", got[0].Data)
	}
	if res = ws.do(t, "POST", poll, "application/x-www-form-urlencoded", "d=3:4hi", "Referer", "https://app.example/"); res.status != 200 {
		t.Fatalf("same-site POST: %d %q", res.status, res.body)
	}
	if res = ws.do(t, "GET", poll, "", "", "Referer", "https://app.example/"); res.body != `___eio[0]("3:4hi");` {
		t.Fatalf("same-site GET: %d %q", res.status, res.body)
	}
}

// startTrickledPost sends a POST that announces a body of 100 bytes and
// sends one, over its own connection, and returns that connection.
func startTrickledPost(t *testing.T, ws *wireServer, sid string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", ws.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /engine.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n4", sid)
	return conn
}

// answer reads the response to the trickled POST, waiting at most 5 s.
func answer(t *testing.T, conn net.Conn) (status int, body string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the trickled POST: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A POST body still arriving when its session ends is cut, and answered.
func TestATrickledPostEndsWithItsSession(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	s := <-ws.session
	conn := startTrickledPost(t, ws, sid)
	waitPosting(t, s)
	s.terminate("forced close")
	if status, body := answer(t, conn); status != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("trickled POST of an ended session: %d %q, want 400 code 1", status, body)
	}
}

// A client that trickles a POST cannot answer pings meanwhile: the
// heartbeat ends its session within ping_interval + ping_timeout, and the
// POST with it, instead of living on at one byte a second.
func TestATrickledPostIsCutWithinTheHeartbeat(t *testing.T) {
	ws := newWireServer(t, Options{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	sid := ws.open(t)
	conn := startTrickledPost(t, ws, sid)
	status, body := answer(t, conn)
	if status != 400 && status != 408 {
		t.Fatalf("trickled POST: %d %q, want an error status", status, body)
	}
	if r := ws.reason(t); r != "ping timeout" && r != "transport error" {
		t.Fatalf("close reason %q", r)
	}
}

func waitPosting(t *testing.T, s *Session) {
	t.Helper()
	waitSession(t, s, "the POST to start reading its body", func(s *Session) bool { return s.posting })
}
