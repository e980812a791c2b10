package engine

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestHandshakeRecordRebuildsTheRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "https://example.com/socket.io/?EIO=4&transport=polling&token=a%20b", nil)
	r.Header.Set("Origin", "https://app.example")
	r.Header.Add("X-Multi", "one")
	r.Header.Add("X-Multi", "two: with colon\nand newline \x00")
	r.Header.Set("X-Empty", "")
	r.RemoteAddr = "192.0.2.7:51234"
	r.URL.Path = "/rewritten/" // middleware may rewrite before the handler
	state := &tls.ConnectionState{ServerName: "example.com"}
	r.TLS = state

	rec := newHandshakeRecord(r)
	got := rec.request()
	if !reflect.DeepEqual(got.Header, r.Header) {
		t.Errorf("headers %q, want %q", got.Header, r.Header)
	}
	if got.URL.String() != r.URL.String() || got.URL.Query().Get("token") != "a b" {
		t.Errorf("URL %q, want %q", got.URL, r.URL)
	}
	if got.RequestURI != "/rewritten/?EIO=4&transport=polling&token=a%20b" {
		t.Errorf("RequestURI %q", got.RequestURI)
	}
	if got.Method != "GET" || got.Host != "example.com" || got.RemoteAddr != r.RemoteAddr ||
		got.ProtoMajor != 1 || got.ProtoMinor != 1 || got.TLS != state {
		t.Errorf("rebuilt %s %s %s %s %d.%d %v", got.Method, got.Host, got.RemoteAddr, got.Proto, got.ProtoMajor, got.ProtoMinor, got.TLS)
	}
	// Each call gives the caller its own copy.
	got.Header.Set("Origin", "changed")
	if again := rec.request(); again.Header.Get("Origin") != "https://app.example" {
		t.Errorf("a caller's change leaked: %q", again.Header.Get("Origin"))
	}
}

func TestHandshakeRecordKeepsCommonHeadersAsOneByte(t *testing.T) {
	r := httptest.NewRequest("GET", "http://example.com/socket.io/?EIO=4&transport=websocket", nil)
	r.Header = http.Header{}
	for _, l := range headerLines {
		r.Header[l[0]] = append(r.Header[l[0]], l[1])
	}
	// A common name with an uncommon value, and an uncommon name.
	r.Header.Add("Upgrade", "WebSocket")
	r.Header.Set("Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("X-Custom", "value")
	rec := newHandshakeRecord(r)
	if got := rec.request().Header; !reflect.DeepEqual(got, r.Header) {
		t.Errorf("headers %q, want %q", got, r.Header)
	}
	headers := len(rec.data) - int(rec.ends[recordFields-1])
	want := len(headerLines) + // one tag each
		2 + len("WebSocket") + 2 + len("dGhlIHNhbXBsZSBub25jZQ==") + // tag, length, value
		3 + len("X-Custom") + len("value") // tag, two lengths, name and value
	if headers != want {
		t.Errorf("the headers take %d bytes of the record, want %d", headers, want)
	}
}

func FuzzHandshakeRecord(f *testing.F) {
	f.Add("Upgrade", "websocket", "X-Odd\x00name", "v\r\nal")
	f.Add("Connection", "Upgrade, keep-alive", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		r := httptest.NewRequest("GET", "http://example.com/socket.io/", nil)
		r.Header = http.Header{k1: {v1, v2}, k2: {v1}}
		rec := newHandshakeRecord(r)
		got := rec.request().Header
		if !reflect.DeepEqual(got, r.Header) {
			t.Errorf("headers %q, want %q", got, r.Header)
		}
	})
}
