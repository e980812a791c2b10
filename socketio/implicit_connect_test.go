package socketio

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
)

// A socket.io-client 2.x client joins "/" without asking. The server does
// it when the client first comes back after its handshake, so a handshake
// nobody follows up runs no middleware and makes no socket.
func TestProtocol4ClientJoinsTheMainNamespaceWhenItComesBack(t *testing.T) {
	ts := startServer(t, "", engine.Options{}, func(ts *testServer) {
		ts.io.Of("/").Use(func(s *Socket) error {
			ts.note("middleware")
			return nil
		})
		ts.io.Of("/").OnConnection(func(s *Socket) { ts.note("connection") })
	})
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(url string) string {
		t.Helper()
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	base := ts.URL + "/socket.io/?EIO=3&transport=polling"
	open := get(base)
	sid := regexp.MustCompile(`"sid":"([^"]+)"`).FindStringSubmatch(open)
	if sid == nil {
		t.Fatalf("handshake %q", open)
	}
	// An abandoned handshake (closed at the end, so the shutdown need not
	// wait for it).
	abandoned := regexp.MustCompile(`"sid":"([^"]+)"`).FindStringSubmatch(get(base))
	leave := func(sid string) {
		if res, err := client.Post(base+"&sid="+sid, "text/plain;charset=UTF-8", strings.NewReader("1:1")); err == nil {
			res.Body.Close()
		}
	}
	defer leave(abandoned[1])
	defer leave(sid[1])
	time.Sleep(50 * time.Millisecond)
	if n := ts.count("middleware") + ts.count("connection"); n != 0 {
		t.Fatalf("handshakes alone ran the namespace %d times", n)
	}
	// The first poll connects the client and carries the CONNECT answer.
	if first := get(base + "&sid=" + sid[1]); first != "2:40" {
		t.Fatalf("first poll %q, want 2:40", first)
	}
	if m, c := ts.count("middleware"), ts.count("connection"); m != 1 || c != 1 {
		t.Fatalf("the namespace ran its middleware %d times, its connection handler %d times; want once each", m, c)
	}
}
