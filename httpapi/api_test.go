package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A marker event, emitted to everyone after the event under test: once a
// client has the marker, it would have had the earlier event too (events
// reach a client in order), so a missing one is really not coming.
func (f *fixture) marker(t *testing.T, c *clients, names ...string) {
	t.Helper()
	if a := f.call(t, "POST", "/emit", `{"event":"marker"}`); a.status != http.StatusAccepted {
		t.Fatalf("marker emit: %d %s", a.status, a.body)
	}
	for _, n := range names {
		c.wait(t, "event "+n+" marker []")
	}
}

func TestEmitReachesTheRoomsClientsOfBothVersionsWithBinary(t *testing.T) {
	f := startFixture(t, Options{})
	c := startClients(t, f.URL, "a4:v4:r1,b2:v2:r1,c4:v4:r2,d2:v2:r3")
	a := f.call(t, "POST", "/emit", `{"event":"news","args":["hi",{"n": 1, "bin": {"_binary":"AAEC"}}, {"_binary":"/w=="}],"rooms":["r1","r2"],"except":["r2"]}`)
	if a.status != http.StatusAccepted || a.body != "{}" {
		t.Fatalf("emit answered %d %s, want 202 {}", a.status, a.body)
	}
	c.wait(t, `event a4 news ["hi",{"bin":{"type":"Buffer","data":[0,1,2]},"n":1},{"type":"Buffer","data":[255]}]`)
	c.wait(t, `event b2 news ["hi",{"bin":{"type":"Buffer","data":[0,1,2]},"n":1},{"type":"Buffer","data":[255]}]`)
	f.marker(t, c, "a4", "b2", "c4", "d2")
	if c.has("event c4 news") || c.has("event d2 news") {
		t.Errorf("a client outside rooms r1, r2 or in except r2 received the emit:\n%s", strings.Join(c.snapshot(), "\n"))
	}
}

func TestEmitToANamespaceAndVolatile(t *testing.T) {
	f := startFixture(t, Options{})
	c := startClients(t, f.URL, "a4:v4,b2:v2", "NSP=/chat", "TRANSPORTS=websocket")
	a := f.call(t, "POST", "/emit", `{"namespace":"/chat","event":"hello","args":[1],"volatile":true}`)
	if a.status != http.StatusAccepted {
		t.Fatalf("emit answered %d %s", a.status, a.body)
	}
	// WebSocket clients with nothing being written take a volatile packet.
	for _, n := range []string{"a4", "b2"} {
		c.wait(t, "event "+n+" hello [1]")
	}
}

func TestEmitWithAcksReturnsTheFirstArgumentOfEachAck(t *testing.T) {
	f := startFixture(t, Options{})
	c := startClients(t, f.URL, "a4:v4:r1,b2:v2:r1,c4:v4:r2")
	a := f.call(t, "POST", "/emit", `{"event":"ask","args":[{"q":7}],"rooms":["r1"],"ack_timeout_ms":10000}`)
	if a.status != http.StatusOK {
		t.Fatalf("emit with acks answered %d %s, want 200", a.status, a.body)
	}
	m := a.json(t)
	if m["clients"] != 2.0 || m["timed_out"] != false {
		t.Errorf("answer %s: want clients 2, timed_out false", a.body)
	}
	acks := fmt.Sprint(m["acks"])
	for _, want := range []string{"map[got:map[q:7] name:a4]", "map[got:map[q:7] name:b2]"} {
		if !strings.Contains(acks, want) {
			t.Errorf("acks %s lack %s", acks, want)
		}
	}
	f.marker(t, c, "c4")
	if c.has("event c4 ask") {
		t.Error("c4, outside r1, was asked")
	}
}

func TestEmitWithAcksAnswersAtTheTimeoutWithWhatCame(t *testing.T) {
	f := startFixture(t, Options{})
	startClients(t, f.URL, "a4:v4,mute4:v4,mute2:v2")
	a := f.call(t, "POST", "/emit", `{"event":"ask","args":[1],"ack_timeout_ms":500}`)
	if a.status != http.StatusOK {
		t.Fatalf("answered %d %s", a.status, a.body)
	}
	if want := `{"clients":3,"acks":[{"name":"a4","got":1}],"timed_out":true}`; a.body != want {
		t.Errorf("answer %s, want %s", a.body, want)
	}
}

func TestBinaryAcksComeBackAsBase64(t *testing.T) {
	f := startFixture(t, Options{})
	startClients(t, f.URL, "a4:v4,b2:v2")
	a := f.call(t, "POST", "/emit", `{"event":"ask-bin","ack_timeout_ms":10000}`)
	if want := `{"clients":2,"acks":[{"_binary":"AQID"},{"_binary":"AQID"}],"timed_out":false}`; a.status != 200 || a.body != want {
		t.Errorf("answer %d %s, want 200 %s", a.status, a.body, want)
	}
}

func TestJoinLeaveAndDisconnectSockets(t *testing.T) {
	f := startFixture(t, Options{})
	c := startClients(t, f.URL, "a4:v4:r1,b2:v2:r1,c4:v4:r2")
	if a := f.call(t, "POST", "/sockets/join", `{"rooms":["r1"],"join":["vip","x"]}`); a.status != 200 || a.body != "{}" {
		t.Fatalf("join answered %d %s, want 200 {}", a.status, a.body)
	}
	if a := f.call(t, "GET", "/sockets/count?room=vip", ""); a.body != `{"count":2}` {
		t.Errorf("count of vip after the join: %s, want 2", a.body)
	}
	f.call(t, "POST", "/emit", `{"event":"vip-news","rooms":["vip"]}`)
	c.wait(t, "event a4 vip-news []")
	c.wait(t, "event b2 vip-news []")
	if a := f.call(t, "POST", "/sockets/leave", `{"rooms":["vip"],"except":["r2"],"leave":["x"]}`); a.status != 200 {
		t.Fatalf("leave answered %d %s", a.status, a.body)
	}
	if a := f.call(t, "GET", "/rooms", ""); a.body != `{"rooms":[{"name":"r1","sockets":2},{"name":"r2","sockets":1},{"name":"vip","sockets":2}]}` {
		t.Errorf("rooms after the leave: %s", a.body)
	}
	if a := f.call(t, "POST", "/sockets/disconnect", `{"rooms":["vip"],"close":false}`); a.status != 200 {
		t.Fatalf("disconnect answered %d %s", a.status, a.body)
	}
	c.wait(t, "disconnect a4 io server disconnect")
	c.wait(t, "disconnect b2 io server disconnect")
	if a := f.call(t, "GET", "/sockets/count", ""); a.body != `{"count":1}` {
		t.Errorf("count after the disconnect: %s, want 1", a.body)
	}
	if c.has("disconnect c4") {
		t.Error("c4, outside vip, was disconnected")
	}
}

func TestSocketsArePagedWithAnOpaqueCursor(t *testing.T) {
	f := startFixture(t, Options{})
	startClients(t, f.URL, "a4:v4:r1,b2:v2:r1,c4:v4:r1,d4:v4:r2")
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	for {
		path := "/sockets?room=r1&limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		a := f.call(t, "GET", path, "")
		if a.status != 200 {
			t.Fatalf("%s: %d %s", path, a.status, a.body)
		}
		m := a.json(t)
		pages++
		for _, s := range m["sockets"].([]any) {
			s := s.(map[string]any)
			name := s["data"].(map[string]any)["name"].(string)
			hs := s["handshake"].(map[string]any)
			if seen[name] {
				t.Errorf("%s listed twice", name)
			}
			seen[name] = true
			if hs["address"] != "127.0.0.1" || hs["query"].(map[string]any)["name"] != name || hs["time"] == "" {
				t.Errorf("socket %s: handshake %v", name, hs)
			}
			if rooms := fmt.Sprint(s["rooms"]); !strings.Contains(rooms, "r1") || !strings.Contains(rooms, s["id"].(string)) {
				t.Errorf("socket %s: rooms %s, want its id room and r1", name, rooms)
			}
		}
		if m["next_cursor"] == nil {
			break
		}
		cursor = m["next_cursor"].(string)
	}
	if pages != 2 || len(seen) != 3 || seen["d4"] {
		t.Errorf("%d pages listing %v; want 2 pages listing a4, b2, c4", pages, seen)
	}
}

func TestServerSideEmitNeedsACluster(t *testing.T) {
	f := startFixture(t, Options{})
	for _, body := range []string{`{"event":"e"}`, `{"event":"e","ack_timeout_ms":100}`} {
		a := f.call(t, "POST", "/server-side-emit", body)
		if a.status != 400 || a.errorCode(t) != "no_cluster" || !strings.Contains(a.body, "adapter redis") {
			t.Errorf("%s on one server: %d %s; want 400 no_cluster naming the fix", body, a.status, a.body)
		}
	}
}

func TestBatchAnswersItemByItem(t *testing.T) {
	f := startFixture(t, Options{})
	c := startClients(t, f.URL, "a4:v4:r1,b2:v2")
	a := f.call(t, "POST", "/batch", `{"requests":[
		{"path":"/emit","body":{"event":"one","rooms":["r1"]}},
		{"path":"/sockets/join","body":{"rooms":["r1"],"join":["r9"]}},
		{"path":"/sockets/count","query":{"room":"r9"}},
		{"path":"/emit","body":{"event":"connect"}},
		{"path":"/nope"}]}`)
	want := `{"responses":[{"status":202,"body":{}},{"status":200,"body":{}},{"status":200,"body":{"count":1}},` +
		`{"status":400,"body":{"error":{"code":"invalid_request","message":"event: \"connect\" is reserved by Socket.IO; pick another name"}}},` +
		`{"status":400,"body":{"error":{"code":"invalid_request","message":"requests[4].path: \"/nope\" is not an operation a batch can hold; use one of /emit, /rooms, /server-side-emit, /sockets, /sockets/count, /sockets/disconnect, /sockets/join, /sockets/leave"}}}]}`
	if a.status != 200 || a.body != want {
		t.Errorf("batch answered %d\n%s\nwant\n%s", a.status, a.body, want)
	}
	c.wait(t, "event a4 one []")
}
