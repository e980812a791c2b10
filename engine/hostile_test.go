package engine

import (
	"net/url"
	"regexp"
	"testing"

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
			ws := newWireServer(t, Options{AllowEIO3: true})
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
