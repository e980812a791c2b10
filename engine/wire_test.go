package engine

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wireServer is a Server on a loopback port, spoken to with raw HTTP and
// WebSocket requests so the tests see the exact bytes.
type wireServer struct {
	srv     *Server
	http    *httptest.Server
	mu      sync.Mutex
	got     []Message
	reasons chan string
	session chan *Session
	client  *http.Transport
}

func newWireServer(t *testing.T, o Options, wrap ...func(http.Handler) http.Handler) *wireServer {
	t.Helper()
	checkLeaks(t)
	ws := &wireServer{srv: NewServer(o), reasons: make(chan string, 16), session: make(chan *Session, 16)}
	ws.srv.OnConnection(func(s *Session) {
		s.OnMessage(func(m Message) {
			ws.mu.Lock()
			ws.got = append(ws.got, Message{Data: bytes.Clone(m.Data), Binary: m.Binary})
			ws.mu.Unlock()
			s.Send(m)
		})
		s.OnClose(func(reason string) { ws.reasons <- reason })
		select {
		case ws.session <- s:
		default: // the test does not want it
		}
	})
	var h http.Handler = ws.srv
	for _, w := range wrap {
		h = w(h)
	}
	ws.http = httptest.NewServer(h)
	ws.client = &http.Transport{}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		ws.srv.Shutdown(ctx)
		ws.http.Close()
		ws.client.CloseIdleConnections()
	})
	return ws
}

func (ws *wireServer) url(query string) string { return ws.http.URL + "/engine.io/?" + query }

func (ws *wireServer) wsURL(query string) string {
	return "ws" + strings.TrimPrefix(ws.http.URL, "http") + "/engine.io/?" + query
}

func (ws *wireServer) reason(t *testing.T) string {
	t.Helper()
	select {
	case r := <-ws.reasons:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not close")
		return ""
	}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (ws *wireServer) do(t *testing.T, method, url, contentType, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// No transparent decompression: the tests look at the bytes.
	req.Header.Set("Accept-Encoding", req.Header.Get("Accept-Encoding"))
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "identity")
	}
	res, err := ws.client.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

var handshakeRE = regexp.MustCompile(`^0\{"sid":"([A-Za-z0-9_-]{20})","upgrades":\[("websocket")?\],"pingInterval":(\d+),"pingTimeout":(\d+),"maxPayload":(\d+)\}$`)

// open handshakes over polling (protocol 4) and returns the sid.
func (ws *wireServer) open(t *testing.T) string {
	t.Helper()
	res := ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "")
	m := handshakeRE.FindStringSubmatch(res.body)
	if res.status != 200 || m == nil {
		t.Fatalf("handshake: %d %q", res.status, res.body)
	}
	return m[1]
}

func TestHandshakeOverPollingIsNodesExactly(t *testing.T) {
	ws := newWireServer(t, Options{})
	res := ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "")
	m := handshakeRE.FindStringSubmatch(res.body)
	if res.status != 200 || m == nil {
		t.Fatalf("got %d %q", res.status, res.body)
	}
	if m[2] != `"websocket"` || m[3] != "25000" || m[4] != "20000" || m[5] != "1000000" {
		t.Errorf("handshake values: %q", res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if res.header.Get("Set-Cookie") != "" {
		t.Errorf("a cookie was set without the cookie option: %q", res.header.Get("Set-Cookie"))
	}
}

func TestHandshakeProtocol3IsLengthPrefixed(t *testing.T) {
	ws := newWireServer(t, Options{AllowEIO3: true})
	res := ws.do(t, "GET", ws.url("EIO=3&transport=polling"), "", "")
	// 118 characters: Node sends the same keys (maxPayload included) on
	// both protocols.
	re := regexp.MustCompile(`^118:0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\["websocket"\],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000\}$`)
	if res.status != 200 || !re.MatchString(res.body) {
		t.Fatalf("got %d %q", res.status, res.body)
	}
}

func TestErrorsAreNodes(t *testing.T) {
	ws := newWireServer(t, Options{AllowRequest: func(r *http.Request) error {
		if r.URL.Query().Get("deny") != "" {
			return errString("not today")
		}
		return nil
	}})
	tests := []struct {
		name, method, query string
		status              int
		body                string
	}{
		{"unknown transport", "GET", "EIO=4&transport=carrier-pigeon", 400, `{"code":0,"message":"Transport unknown"}`},
		{"no transport", "GET", "EIO=4", 400, `{"code":0,"message":"Transport unknown"}`},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"handshake by POST", "POST", "EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket transport without upgrade", "GET", "EIO=4&transport=websocket", 400, `{"code":3,"message":"Bad request"}`},
		{"protocol 3 refused by default", "GET", "EIO=3&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"no EIO means protocol 3", "GET", "transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"refused by AllowRequest", "GET", "EIO=4&transport=polling&deny=1", 403, `{"code":4,"message":"not today"}`},
	}
	for _, tt := range tests {
		res := ws.do(t, tt.method, ws.url(tt.query), "", "")
		if res.status != tt.status || res.body != tt.body || res.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: got %d %q (%s), want %d %q", tt.name, res.status, res.body, res.header.Get("Content-Type"), tt.status, tt.body)
		}
	}

	// A refused WebSocket gets a plain HTTP 400.
	_, res, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket&deny=1"), nil)
	if err == nil || res == nil || res.StatusCode != 400 {
		t.Fatalf("refused upgrade: err %v, response %v", err, res)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != "not today" {
		t.Errorf("refused upgrade body %q", body)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestPollingEchoesTextAndBinary(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	res := ws.do(t, "POST", ws.url("EIO=4&transport=polling&sid="+sid), "text/plain;charset=UTF-8", "4hello\x1ebAQIDBA==")
	if res.status != 200 || res.body != "ok" || res.header.Get("Content-Type") != "text/html" {
		t.Fatalf("POST: %d %q %q", res.status, res.body, res.header.Get("Content-Type"))
	}
	res = ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid="+sid), "", "")
	if res.body != "4hello\x1ebAQIDBA==" {
		t.Fatalf("GET: %q", res.body)
	}
}

func TestProtocol3Polling(t *testing.T) {
	ws := newWireServer(t, Options{AllowEIO3: true})
	res := ws.do(t, "GET", ws.url("EIO=3&transport=polling"), "", "")
	sid := regexp.MustCompile(`"sid":"([^"]+)"`).FindStringSubmatch(res.body)[1]
	poll := ws.url("EIO=3&transport=polling&sid=" + sid)

	// A binary payload (what a v3 client posts when it has binary data):
	// a text packet "4é" and a binary one [1 2 3], then a ping.
	body := []byte{0, 3, 255, '4', 0xc3, 0xa9, 1, 4, 255, 4, 1, 2, 3, 0, 1, 255, '2'}
	res = ws.do(t, "POST", poll, "application/octet-stream", string(body))
	if res.status != 200 || res.body != "ok" {
		t.Fatalf("binary POST: %d %q", res.status, res.body)
	}
	// The echo holds binary data, so the answer is a binary payload too,
	// then the pong for the client's ping.
	res = ws.do(t, "GET", poll, "", "")
	want := string([]byte{0, 3, 255, '4', 0xc3, 0xa9, 1, 4, 255, 4, 1, 2, 3, 0, 1, 255, '3'})
	if res.body != want || res.header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET: %v (%s), want %v", []byte(res.body), res.header.Get("Content-Type"), []byte(want))
	}

	// A b64 client gets base64 in a length-prefixed text payload.
	res = ws.do(t, "GET", ws.url("EIO=3&transport=polling&b64=1"), "", "")
	sid = regexp.MustCompile(`"sid":"([^"]+)"`).FindStringSubmatch(res.body)[1]
	poll = ws.url("EIO=3&transport=polling&b64=1&sid=" + sid)
	res = ws.do(t, "POST", poll, "text/plain;charset=UTF-8", "2:4é10:b4AQIDBA==")
	if res.body != "ok" {
		t.Fatalf("text POST: %d %q", res.status, res.body)
	}
	res = ws.do(t, "GET", poll, "", "")
	if res.body != "2:4é10:b4AQIDBA==" {
		t.Fatalf("GET: %q", res.body)
	}
}

func TestJSONPPolling(t *testing.T) {
	ws := newWireServer(t, Options{AllowEIO3: true, JSONP: true})
	res := ws.do(t, "GET", ws.url("EIO=3&transport=polling&j=7"), "", "")
	if !regexp.MustCompile(`^___eio\[7\]\("118:0\{\\"sid\\":\\"[^"\\]+\\",.*\}"\);$`).MatchString(res.body) {
		t.Fatalf("JSONP handshake %q", res.body)
	}
	sid := regexp.MustCompile(`\\"sid\\":\\"([^"\\]+)\\"`).FindStringSubmatch(res.body)[1]
	poll := ws.url("EIO=3&transport=polling&j=7&sid=" + sid)
	res = ws.do(t, "POST", poll, "application/x-www-form-urlencoded", "d=4%3A4a%5Cnb")
	if res.body != "ok" {
		t.Fatalf("JSONP POST: %d %q", res.status, res.body)
	}
	res = ws.do(t, "GET", poll, "", "")
	if res.body != `___eio[7]("4:4a\nb");` {
		t.Fatalf("JSONP GET %q", res.body)
	}
}

func TestPollingResponsesAreCompressedOverThreshold(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)
	big := "4" + strings.Repeat("x", 2000)
	for _, enc := range []string{"gzip", "deflate"} {
		ws.do(t, "POST", poll, "text/plain", big)
		res := ws.do(t, "GET", poll, "", "", "Accept-Encoding", enc)
		if res.header.Get("Content-Encoding") != enc {
			t.Fatalf("%s: Content-Encoding %q", enc, res.header.Get("Content-Encoding"))
		}
		var r io.Reader
		var err error
		if enc == "gzip" {
			r, err = gzip.NewReader(strings.NewReader(res.body))
		} else {
			r, err = zlib.NewReader(strings.NewReader(res.body))
		}
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(r)
		if string(plain) != big {
			t.Fatalf("%s: decompressed %d bytes, want the %d sent", enc, len(plain), len(big))
		}
	}
	ws.do(t, "POST", poll, "text/plain", "4small")
	res := ws.do(t, "GET", poll, "", "", "Accept-Encoding", "gzip")
	if res.header.Get("Content-Encoding") != "" || res.body != "4small" {
		t.Fatalf("small response: %q %q", res.header.Get("Content-Encoding"), res.body)
	}
}

func TestCookieOption(t *testing.T) {
	ws := newWireServer(t, Options{Cookie: &http.Cookie{HttpOnly: true}})
	res := ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "")
	sid := handshakeRE.FindStringSubmatch(res.body)[1]
	if got, want := res.header.Get("Set-Cookie"), "io="+sid+"; Path=/; HttpOnly; SameSite=Lax"; got != want {
		t.Fatalf("Set-Cookie %q, want %q", got, want)
	}
	// Only on the handshake.
	ws.do(t, "POST", ws.url("EIO=4&transport=polling&sid="+sid), "text/plain", "4x")
	res = ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid="+sid), "", "")
	if res.header.Get("Set-Cookie") != "" {
		t.Fatalf("cookie set again on a poll")
	}
	conn, hres, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !strings.HasPrefix(hres.Header.Get("Set-Cookie"), "io=") {
		t.Fatalf("no cookie on the WebSocket handshake: %v", hres.Header)
	}
}

func TestOuterHeadersSurviveAndHijackWorksThroughWrappers(t *testing.T) {
	cors := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "https://example.com")
			next.ServeHTTP(&wrappedWriter{w}, r)
		})
	}
	ws := newWireServer(t, Options{}, cors)
	res := ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "")
	if res.header.Get("Access-Control-Allow-Origin") != "https://example.com" {
		t.Fatalf("outer header lost: %v", res.header)
	}
	conn, hres, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatalf("upgrade through a wrapped writer: %v", err)
	}
	defer conn.Close()
	if hres.Header.Get("Access-Control-Allow-Origin") != "https://example.com" {
		t.Fatalf("outer header lost on the upgrade: %v", hres.Header)
	}
}

// wrappedWriter hides the server's writer behind Unwrap, as Caddy does.
type wrappedWriter struct{ http.ResponseWriter }

func (w *wrappedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestOversizedPostIs413AndTheSessionLives(t *testing.T) {
	ws := newWireServer(t, Options{MaxPayload: 100})
	sid := ws.open(t)
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)
	res := ws.do(t, "POST", poll, "text/plain", "4"+strings.Repeat("x", 100))
	if res.status != 413 {
		t.Fatalf("oversized POST: %d", res.status)
	}
	ws.do(t, "POST", poll, "text/plain", "4fits")
	if res = ws.do(t, "GET", poll, "", ""); res.body != "4fits" {
		t.Fatalf("session after 413: %d %q", res.status, res.body)
	}
}

func TestOversizedWebSocketMessageClosesTheConnection(t *testing.T) {
	ws := newWireServer(t, Options{MaxPayload: 100})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("x", 100)))
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("read after oversized message: %v", err)
	}
	if r := ws.reason(t); r != "transport error" {
		t.Fatalf("close reason %q", r)
	}
}

// dialOpen opens a WebSocket session and reads its open packet.
func dialOpen(t *testing.T, ws *wireServer, query string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(ws.wsURL(query), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, data, err := conn.ReadMessage()
	if err != nil || data[0] != '0' {
		t.Fatalf("open packet: %q %v", data, err)
	}
	return conn
}

func TestSecondConcurrentGetClosesTheSession(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)
	first := ws.parkGet(t, sid)
	if res := ws.do(t, "GET", poll, "", ""); res.status != 400 {
		t.Fatalf("second GET: %d", res.status)
	}
	if res := <-first; res.body != "1" {
		t.Fatalf("first GET got %q, want the close packet", res.body)
	}
	if r := ws.reason(t); r != "transport error" {
		t.Fatalf("reason %q", r)
	}
	if res := ws.do(t, "GET", poll, "", ""); res.status != 400 || !strings.Contains(res.body, `"code":1`) {
		t.Fatalf("session still there: %d %q", res.status, res.body)
	}
}

func TestSecondConcurrentPostClosesTheSession(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)
	// A POST whose body never ends holds the session's POST slot.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", poll, pr)
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		if res, err := ws.client.RoundTrip(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}()
	defer func() { pw.Close(); <-firstDone }()
	pw.Write([]byte("4a"))
	s := ws.srv.lookup(sid)
	for i := 0; ; i++ {
		s.mu.Lock()
		posting := s.posting
		s.mu.Unlock()
		if posting {
			break
		}
		if i > 500 {
			t.Fatal("the first POST never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if res := ws.do(t, "POST", poll, "text/plain", "4b"); res.status != 400 {
		t.Fatalf("second POST: %d", res.status)
	}
	if r := ws.reason(t); r != "transport error" {
		t.Fatalf("reason %q", r)
	}
}

func waitParked(t *testing.T, srv *Server, sid string) {
	t.Helper()
	waitSession(t, srv.lookup(sid), "the GET to park", func(s *Session) bool { return s.polling.pollWake != nil })
}

// parkGet sends a polling GET for session sid and returns once the server
// holds it, waiting for something to send; its response comes on the
// channel.
func (ws *wireServer) parkGet(t *testing.T, sid string) <-chan response {
	t.Helper()
	got := make(chan response, 1)
	go func() { got <- ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid="+sid), "", "") }()
	waitParked(t, ws.srv, sid)
	return got
}

func TestUpgradeTimeoutDropsTheWebSocketAndKeepsPolling(t *testing.T) {
	ws := newWireServer(t, Options{UpgradeTimeout: 100 * time.Millisecond})
	sid := ws.open(t)
	conn, _, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket&sid="+sid), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("the unfinished upgrade was not closed: %v", err)
	}
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)
	ws.do(t, "POST", poll, "text/plain", "4still polling")
	if res := ws.do(t, "GET", poll, "", ""); res.body != "4still polling" {
		t.Fatalf("polling after the failed upgrade: %d %q", res.status, res.body)
	}
}

func TestUpgradeSwitchesAndRefusesPollingAfterwards(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	poll := ws.url("EIO=4&transport=polling&sid=" + sid)
	parked := ws.parkGet(t, sid)

	conn, _, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket&sid="+sid), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, data, _ := conn.ReadMessage(); string(data) != "3probe" {
		t.Fatalf("probe answer %q", data)
	}
	if res := <-parked; res.body != "6" {
		t.Fatalf("the pending GET got %q, want a noop", res.body)
	}
	// Messages sent by the application during the upgrade arrive on the
	// WebSocket once it completes.
	s := <-ws.session
	s.Send(Message{Data: []byte("during")})
	conn.WriteMessage(websocket.TextMessage, []byte("5"))
	conn.WriteMessage(websocket.TextMessage, []byte("4after"))
	for _, want := range []string{"4during", "4after"} {
		if _, data, _ := conn.ReadMessage(); string(data) != want {
			t.Fatalf("got %q, want %q", data, want)
		}
	}
	if s.Transport() != "websocket" {
		t.Fatalf("transport %q", s.Transport())
	}
	if res := ws.do(t, "GET", poll, "", ""); res.status != 400 {
		t.Fatalf("polling after the upgrade: %d %q", res.status, res.body)
	}
}

func TestProtocol3WebSocket(t *testing.T) {
	ws := newWireServer(t, Options{AllowEIO3: true, PingInterval: 100 * time.Millisecond, PingTimeout: 400 * time.Millisecond})
	conn := dialOpen(t, ws, "EIO=3&transport=websocket")
	defer conn.Close()
	// Binary frames carry the type byte 4; pings come from the client.
	conn.WriteMessage(websocket.BinaryMessage, []byte{4, 9, 8})
	kind, data, _ := conn.ReadMessage()
	if kind != websocket.BinaryMessage || !bytes.Equal(data, []byte{4, 9, 8}) {
		t.Fatalf("binary echo: %d %v", kind, data)
	}
	for i := 0; i < 3; i++ {
		time.Sleep(150 * time.Millisecond) // longer than the interval: the server must not ping
		conn.WriteMessage(websocket.TextMessage, []byte("2"))
		if _, data, _ := conn.ReadMessage(); string(data) != "3" {
			t.Fatalf("pong: %q", data)
		}
	}
	conn.Close()
	if r := ws.reason(t); r != "transport close" {
		t.Fatalf("reason %q", r)
	}
}

func TestProtocol4PingFromClientIsAnError(t *testing.T) {
	ws := newWireServer(t, Options{})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	conn.WriteMessage(websocket.TextMessage, []byte("2"))
	if r := ws.reason(t); r != "transport error" {
		t.Fatalf("reason %q", r)
	}
}

func TestPerMessageDeflate(t *testing.T) {
	ws := newWireServer(t, Options{PerMessageDeflate: true})
	dialer := websocket.Dialer{EnableCompression: true}
	conn, res, err := dialer.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if !strings.Contains(res.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate") {
		t.Fatalf("deflate not negotiated: %v", res.Header)
	}
	conn.ReadMessage()
	big := "4" + strings.Repeat("y", 5000)
	conn.WriteMessage(websocket.TextMessage, []byte(big))
	if _, data, _ := conn.ReadMessage(); string(data) != big {
		t.Fatalf("compressed echo: %d bytes", len(data))
	}

	off := newWireServer(t, Options{})
	conn2, res, err := dialer.Dial(off.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if res.Header.Get("Sec-Websocket-Extensions") != "" {
		t.Fatalf("deflate negotiated while off: %v", res.Header)
	}
}

func TestShutdownTellsEveryClient(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	parked := ws.parkGet(t, sid)
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()

	done := make(chan error)
	go func() { done <- ws.srv.Shutdown(context.Background()) }()
	if res := <-parked; res.body != "1" {
		t.Fatalf("polling client got %q, want the close packet", res.body)
	}
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("websocket client: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range 2 {
		if r := ws.reason(t); r != "forced close" {
			t.Fatalf("reason %q", r)
		}
	}
	if res := ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", ""); res.status != 503 {
		t.Fatalf("handshake after shutdown: %d", res.status)
	}
}

func TestShutdownCutsClientsThatDoNotPollWhenTheContextEnds(t *testing.T) {
	ws := newWireServer(t, Options{})
	ws.open(t) // never polls again
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ws.srv.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown: %v", err)
	}
	if r := ws.reason(t); r != "forced close" {
		t.Fatalf("reason %q", r)
	}
}

func TestHandlersSetInOnConnectionSeeTheFirstMessage(t *testing.T) {
	ws := newWireServer(t, Options{})
	for range 20 {
		conn, _, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
		if err != nil {
			t.Fatal(err)
		}
		conn.WriteMessage(websocket.TextMessage, []byte("4first")) // before reading the open packet
		if _, data, err := conn.ReadMessage(); err != nil || len(data) == 0 || data[0] != '0' {
			t.Fatalf("first frame %q (%v), want the open packet", data, err)
		}
		if _, data, _ := conn.ReadMessage(); string(data) != "4first" {
			t.Fatalf("echo %q", data)
		}
		conn.Close()
		ws.reason(t)
	}
}

func TestMessagesOfASessionAreDeliveredInOrderOneAtATime(t *testing.T) {
	srv := NewServer(Options{})
	var mu sync.Mutex
	inside, overlap := 0, false
	var got []string
	srv.OnConnection(func(s *Session) {
		s.OnMessage(func(m Message) {
			mu.Lock()
			inside++
			overlap = overlap || inside > 1
			got = append(got, string(m.Data))
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
		})
	})
	checkLeaks(t)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var want []string
	for i := range 50 {
		msg := string(rune('A'+i%26)) + strings.Repeat("!", i)
		want = append(want, msg)
		conn.WriteMessage(websocket.TextMessage, []byte("4"+msg))
	}
	for range 500 {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == len(want) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("OnMessage ran concurrently for one session")
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("delivered out of order or incompletely: %d of %d", len(got), len(want))
	}
}

func TestSlowClientIsClosedNotBuffered(t *testing.T) {
	ws := newWireServer(t, Options{MaxPayload: 1000})
	ws.open(t) // never polls: everything sent queues
	s := <-ws.session
	chunk := Message{Data: bytes.Repeat([]byte("z"), 1000)}
	var err error
	for i := 0; i < 5000 && err == nil; i++ {
		err = s.Send(chunk)
	}
	if err != ErrSlowClient {
		t.Fatalf("Send kept queueing past the limit: %v", err)
	}
	if r := ws.reason(t); r != "transport error" {
		t.Fatalf("reason %q", r)
	}
	if err := s.Send(chunk); err != ErrClosed {
		t.Fatalf("Send after close: %v", err)
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	ws := newWireServer(t, Options{})
	conn := dialOpen(t, ws, "EIO=4&transport=websocket")
	defer conn.Close()
	s := <-ws.session
	s.Send(Message{Data: []byte("last words")})
	s.Close()
	s.Close()
	if _, data, _ := conn.ReadMessage(); string(data) != "4last words" {
		t.Fatalf("queued message before close: %q", data)
	}
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after close: %v", err)
	}
	if r := ws.reason(t); r != "forced close" {
		t.Fatalf("reason %q", r)
	}
	s.Close()
	select {
	case r := <-ws.reasons:
		t.Fatalf("OnClose called twice (%q)", r)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestOptionsShapeTheHandshake(t *testing.T) {
	ws := newWireServer(t, Options{DisableUpgrades: true, PingInterval: 1500 * time.Millisecond})
	res := ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "")
	m := handshakeRE.FindStringSubmatch(res.body)
	if m == nil || m[2] != "" || m[3] != "1500" {
		t.Fatalf("with upgrades disabled: %q", res.body)
	}
	old := m[1]

	// SetOptions applies to new handshakes only.
	ws.srv.SetOptions(Options{Transports: []string{"websocket"}, PingTimeout: 7 * time.Second})
	res = ws.do(t, "GET", ws.url("EIO=4&transport=polling"), "", "")
	if res.status != 400 || res.body != `{"code":0,"message":"Transport unknown"}` {
		t.Fatalf("polling after it was disabled: %d %q", res.status, res.body)
	}
	conn, _, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, data, _ := conn.ReadMessage()
	if !strings.Contains(string(data), `"upgrades":[],"pingInterval":25000,"pingTimeout":7000,`) {
		t.Fatalf("websocket handshake with new options: %q", data)
	}
	// The existing session still polls.
	poll := ws.url("EIO=4&transport=polling&sid=" + old)
	ws.do(t, "POST", poll, "text/plain", "4still")
	if res := ws.do(t, "GET", poll, "", ""); res.body != "4still" {
		t.Fatalf("existing polling session after SetOptions: %d %q", res.status, res.body)
	}
}

// deferredHeaderWriter edits headers when the response is written, as
// Caddy's deferred `header -Server` does.
type deferredHeaderWriter struct{ http.ResponseWriter }

func (w *deferredHeaderWriter) WriteHeader(code int) {
	w.Header().Del("Server")
	w.ResponseWriter.WriteHeader(code)
}

func (w *deferredHeaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestTheUpgradeResponseGoesThroughOuterMiddleware(t *testing.T) {
	deferred := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "Caddy")
			next.ServeHTTP(&deferredHeaderWriter{w}, r)
		})
	}
	ws := newWireServer(t, Options{}, deferred)
	conn, res, err := websocket.DefaultDialer.Dial(ws.wsURL("EIO=4&transport=websocket"), nil)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer conn.Close()
	if got := res.Header.Values("Server"); len(got) != 0 {
		t.Errorf("the 101 response has Server %q; the middleware's edit at WriteHeader was skipped", got)
	}
	if _, data, err := conn.ReadMessage(); err != nil || len(data) == 0 || data[0] != '0' {
		t.Fatalf("first frame %q (%v), want the open packet", data, err)
	}
}

// Node sends what is queued, then the close packet on the next GET:
// socket.io-client handles the packets of a payload a tick after the engine
// handles a close, so a close in the same payload would overtake them.
func TestClosePacketFollowsTheQueuedPacketsOnTheNextPoll(t *testing.T) {
	ws := newWireServer(t, Options{})
	sid := ws.open(t)
	s := <-ws.session
	s.Send(Message{Data: []byte("bye")})
	s.Close()
	if res := ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid="+sid), "", ""); res.body != "4bye" {
		t.Fatalf("first poll after Close: %q, want the queued message alone, \"4bye\"", res.body)
	}
	if res := ws.do(t, "GET", ws.url("EIO=4&transport=polling&sid="+sid), "", ""); res.body != "1" {
		t.Fatalf("second poll after Close: %q, want the close packet \"1\"", res.body)
	}
	if r := ws.reason(t); r != "forced close" {
		t.Errorf("close reason %q, want \"forced close\"", r)
	}
}
