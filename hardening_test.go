package caddysocketio

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Defects found by trying the handler as an attacker would (issue 13), each
// shown with real clients through the in-process Caddy.

func hardeningClient(t *testing.T, addr, scenario string) *nodeClient {
	t.Helper()
	return startNode(t, filepath.Join("testdata", "clients", "hardening.js"), "URL=http://"+addr, "SCENARIO="+scenario)
}

// A reload that narrows or removes `relay`, or removes a namespace, takes
// effect for the sockets already connected.
func TestReloadNarrowingRelayTakesEffect(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			relay message other
		}
		namespace /gone {
			relay
		}
	}`))
	c := hardeningClient(t, addr, "relay-reload")
	c.expect(t, "before", `{"chat":[["message","m1"],["other","o1"]],"gone":[["x","x1"]]}`)

	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			relay other
		}
	}`))
	live := liveServerNamed(t, "/socket.io/")
	if err := live.io.Of("/chat").Emit("reloaded"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "narrowed", `{"chat":[["other","o2"]],"gone":[]}`)

	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			join everyone
		}
		namespace /signal {
			relay done
		}
	}`))
	if err := live.io.Of("/chat").Emit("reloaded"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "removed", `{"chat":[],"gone":[]}`)
	c.wait(t)
}

// JSONP is off unless configured: a <script> on any site would otherwise
// open a session (scripts send no Origin), read it and post to it.
func TestJSONPIsOffByDefault(t *testing.T) {
	s := newTestSite(t, `{"allow_eio3":true,"cors":{"origins":["https://app.example"]}}`)
	res := s.do(t, "GET", "/socket.io/?EIO=3&transport=polling&j=0", map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/"})
	if res.status != 400 || res.body != `{"code":3,"message":"JSONP polling is disabled on this server"}` {
		t.Fatalf("JSONP handshake without jsonp: %d %q", res.status, res.body)
	}
}

// With jsonp on, every JSONP request (the handshake, polls and form posts)
// must come from a page the origin check allows.
func TestJSONPRequestsMustComeFromAnAllowedPage(t *testing.T) {
	s := newTestSite(t, `{"allow_eio3":true,"jsonp":true,"cors":{"origins":["https://app.example"]}}`)
	evil := map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/steal?x=1"}
	app := map[string]string{"Sec-Fetch-Site": "cross-site", "Referer": "https://app.example/chat"}
	const open = "/socket.io/?EIO=3&transport=polling&j=0"
	for range 2 {
		if res := s.do(t, "GET", open, evil); res.status != 403 || res.body != `{"code":4,"message":"Forbidden"}` {
			t.Fatalf("JSONP handshake from a script on another site: %d %q, want 403", res.status, res.body)
		}
	}
	if res := s.do(t, "GET", open, map[string]string{"Sec-Fetch-Site": "cross-site"}); res.status != 403 {
		t.Fatalf("JSONP handshake from another site hiding its Referer: %d %q, want 403", res.status, res.body)
	}
	logged := s.logs.FilterMessageSnippet("refused a JSONP request").All()
	if len(logged) != 2 || logged[0].ContextMap()["page"] != "https://evil.example" {
		t.Fatalf("refusals logged %d times (%v), want once per page, without the Referer's path", len(logged), logged)
	}

	res := s.do(t, "GET", open, app)
	m := regexp.MustCompile(`\\"sid\\":\\"([A-Za-z0-9_-]{20})\\"`).FindStringSubmatch(res.body)
	if res.status != 200 || m == nil {
		t.Fatalf("JSONP handshake from the allowed page: %d %q", res.status, res.body)
	}
	poll := open + "&sid=" + m[1]
	if res := s.postForm(t, poll, "d=3:4hi", map[string]string{"Origin": "https://evil.example"}); res.status != 403 {
		t.Fatalf("form POST from another site into the session: %d %q, want 403", res.status, res.body)
	}
	if res := s.do(t, "GET", poll, evil); res.status != 403 {
		t.Fatalf("script GET from another site reading the session: %d %q, want 403", res.status, res.body)
	}
	if res := s.postForm(t, poll, "d=1:2", map[string]string{"Origin": "https://app.example"}); res.status != 200 || res.body != "ok" {
		t.Fatalf("form POST from the allowed page: %d %q", res.status, res.body)
	}
	if res := s.do(t, "GET", poll, app); res.status != 200 || !strings.HasPrefix(res.body, "___eio[0](") {
		t.Fatalf("script GET from the allowed page: %d %q", res.status, res.body)
	}
}

func (s *testSite) postForm(t *testing.T, target, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest("POST", s.srv.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}
}

// next returns the value of the next line, which must be name's.
func (c *nodeClient) next(t *testing.T, name string) string {
	t.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			t.Fatalf("node exited before %q: %v\n%s", name, <-c.done, c.stderr)
		}
		v, found := strings.CutPrefix(line, name+" ")
		if !found {
			t.Fatalf("node printed %q, want %s", line, name)
		}
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %q from node\n%s", name, c.stderr)
		return ""
	}
}

// Every socket is in the room of its id: a `join {query.room}` must not let
// a client into another socket's room, where it would receive what is sent
// to that socket alone.
func TestAJoinTemplateNeverJoinsASocketsOwnRoom(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			join {query.room}
		}
	}`))
	c := hardeningClient(t, addr, "socket-id-room")
	var aID string
	if err := json.Unmarshal([]byte(c.next(t, "a")), &aID); err != nil {
		t.Fatal(err)
	}
	chat := liveServerNamed(t, "/socket.io/").io.Of("/chat")
	if err := chat.To(aID).Emit("private", "for a only"); err != nil {
		t.Fatal(err)
	}
	// To every socket, after the private one: b's queue holds them in
	// this order, so b has seen "private" by the time it sees this if it
	// got it at all.
	if err := chat.Emit("after", 1); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "b-got", `[["after",1]]`)
	c.wait(t)
}

// In a namespace whose `join` templates name the rooms, a client that
// joined none (it left the placeholder empty) relays to nobody, not to
// every room; a namespace without `join` relays namespace-wide.
func TestARelaySenderWithoutARoomReachesNobody(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, site(addr, `
	socketio {
		namespace /chat {
			relay
			join room-{query.room}
		}
		namespace /signal {
			relay
		}
	}`))
	c := hardeningClient(t, addr, "roomless-relay")
	c.expect(t, "d-got", `[]`)
	c.expect(t, "b-got", `[["message","to room x"]]`)
	c.wait(t)
}

// A POST body cut by Caddy's own read_body timeout is answered with an
// error status, never an empty 200 the client would take for success.
func TestAPostCutByReadBodyIsAnError(t *testing.T) {
	addr := inProcessCaddy(t)
	loadCaddyfile(t, inProcessCaddyfile(addr, `
	servers {
		timeouts {
			read_body 300ms
		}
	}`, "\tsocketio"))
	sid := openPollingSession(t, "http://"+addr+"/socket.io/?EIO=4&transport=polling")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n4", sid, addr)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the POST cut by read_body: %v", err)
	}
	body, _ := io.ReadAll(answer.Body)
	answer.Body.Close()
	if answer.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("POST cut by read_body: %d %q, want 408", answer.StatusCode, body)
	}
}

// README's access log recipe: the sid (a bearer secret: whoever has it
// can take the session over) is removed from the logged URI. (Caddy
// already logs the Cookie and Set-Cookie headers, where the sid is with the
// cookie option, as REDACTED.)
func TestTheAccessLogRecipeRemovesTheSessionID(t *testing.T) {
	addr := inProcessCaddy(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	loadCaddyfile(t, inProcessCaddyfile(addr, "", fmt.Sprintf(`	log {
		output file %s
		format filter {
			wrap json
			fields {
				request>uri query {
					delete sid
				}
			}
		}
	}
	socketio {
		cookie
	}`, logFile)))
	base := "http://" + addr + "/socket.io/?EIO=4&transport=polling"
	sid := openPollingSession(t, base)
	req, _ := http.NewRequest("POST", base+"&sid="+sid, strings.NewReader("1"))
	req.Header.Set("Cookie", "io="+sid+"; theme=dark")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := caddy.Stop(); err != nil { // flushes and closes the log file
		t.Fatal(err)
	}
	logged, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`"method":"POST".*"uri":"/socket.io/\?EIO=4&transport=polling"`).Match(logged) {
		t.Fatalf("the access log lacks the filtered request lines:\n%s", logged)
	}
	if strings.Contains(string(logged), sid) {
		t.Fatalf("the session id %s is in the access log:\n%s", sid, logged)
	}
}
