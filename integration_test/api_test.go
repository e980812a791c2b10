package integration_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// The HTTP server API (socketio_api) through the built Caddy, with real
// socket.io-client 4.x and 2.x clients receiving what it sends, alone and
// in a cluster with a Node socket.io node on Redis.

const apiKey = "integration-api-key-0123"

// apiSite is a Caddy site with the chat namespace (each socket joins
// room-<query.room>), an adapter block (may be empty), the API with a key
// from the environment at /api/, and one without a key at /open-api/.
func apiSite(port int, adapter string) string {
	return fmt.Sprintf(`http://127.0.0.1:%d {
	socketio {
		allow_eio3
		max_payload 64KB
		namespace /chat {
			join room-{query.room}
		}
		%s
	}
	handle_path /api/* {
		socketio_api {
			key {env.SOCKETIO_API_KEY}
		}
	}
	handle_path /open-api/* {
		socketio_api
	}
}
`, port, adapter)
}

type apiAnswer struct {
	status int
	header http.Header
	body   string
}

// api calls the API at base with the key; headers are name, value pairs.
func api(t *testing.T, base, method, path, body string, headers ...string) apiAnswer {
	t.Helper()
	return apiWithin(t, 15*time.Second, base, method, path, body, headers...)
}

// apiWithin is api, failing the test when no answer comes within d.
func apiWithin(t *testing.T, d time.Duration, base, method, path, body string, headers ...string) apiAnswer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: d}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiAnswer{status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(b))}
}

func mustStatus(t *testing.T, a apiAnswer, status int, what string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: answered %d %s, want %d", what, a.status, a.body, status)
	}
}

// received matches client name receiving event with args (JSON).
func received(name, event, args string) func(clientEvent) bool {
	return func(e clientEvent) bool {
		return e.Type == "received" && e.Name == name && e.Event == event && (args == "" || string(e.Args) == args)
	}
}

// receivedBy lists, sorted, the clients that received event so far.
func receivedBy(c *nodeClients, event string) []string {
	var names []string
	for _, e := range c.all(func(e clientEvent) bool { return e.Type == "received" && e.Event == event }) {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	return names
}

// settle emits a marker to every client of /chat through the API and
// waits until each named client has it: events reach a client in order,
// so what it lacks then is not coming.
func settle(t *testing.T, c *nodeClients, base string, names ...string) {
	t.Helper()
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	mustStatus(t, api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"`+marker+`"}`), 202, "marker emit")
	for _, n := range names {
		c.waitFor(10*time.Second, n+" receiving the marker", received(n, marker, ""))
	}
}

func startAPIClients(t *testing.T, specs ...clientSpec) *nodeClients {
	t.Helper()
	data, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	return startClientScript(t, "api_clients.js", []string{"CLIENTS=" + string(data)}, nil)
}

func TestAPIEveryOperationThroughCaddy(t *testing.T) {
	t.Setenv("SOCKETIO_API_KEY", apiKey)
	port := freePort(t)
	caddy := startCaddy(t, apiSite(port, ""))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	base := url + "/api"
	names := []string{"a4", "a2", "b4", "mute4"}
	c := startAPIClients(t, chatClient("a4", "v4", url, "a"), chatClient("a2", "v2", url, "a"),
		chatClient("b4", "v4", url, "b"), chatClient("mute4", "v4", url, "m"))
	c.connected(15*time.Second, names...)

	t.Run("emit to a room, binary both versions", func(t *testing.T) {
		a := api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"news","args":["hi",{"_binary":"AAEC"}],"rooms":["room-a"]}`)
		mustStatus(t, a, 202, "emit")
		want := `["hi",{"type":"Buffer","data":[0,1,2]}]`
		c.waitFor(10*time.Second, "a4 news", received("a4", "news", want))
		c.waitFor(10*time.Second, "a2 news", received("a2", "news", want))
		settle(t, c, base, names...)
		if got := receivedBy(c, "news"); fmt.Sprint(got) != "[a2 a4]" {
			t.Errorf("news reached %v, want a2 and a4 only", got)
		}
	})
	t.Run("except", func(t *testing.T) {
		mustStatus(t, api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"not-a","except":["room-a"]}`), 202, "emit")
		settle(t, c, base, names...)
		if got := receivedBy(c, "not-a"); fmt.Sprint(got) != "[b4 mute4]" {
			t.Errorf("not-a reached %v, want b4 and mute4", got)
		}
	})
	t.Run("acks from v4 and v2 clients", func(t *testing.T) {
		a := api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"ask","args":[5],"rooms":["room-a"],"ack_timeout_ms":10000}`)
		mustStatus(t, a, 200, "emit with acks")
		var ans struct {
			Clients  int               `json:"clients"`
			Acks     []json.RawMessage `json:"acks"`
			TimedOut bool              `json:"timed_out"`
		}
		if err := json.Unmarshal([]byte(a.body), &ans); err != nil {
			t.Fatal(err)
		}
		var acks []string
		for _, r := range ans.Acks {
			acks = append(acks, string(r))
		}
		sort.Strings(acks)
		if ans.Clients != 2 || ans.TimedOut || strings.Join(acks, " ") != `{"name":"a2","got":5} {"name":"a4","got":5}` {
			t.Errorf("answer %s; want 2 clients, both acks, not timed out", a.body)
		}
	})
	t.Run("a binary ack", func(t *testing.T) {
		a := api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"ask-bin","rooms":["room-b"],"ack_timeout_ms":10000}`)
		if a.status != 200 || a.body != `{"clients":1,"acks":[{"_binary":"AQID"}],"timed_out":false}` {
			t.Errorf("answered %d %s", a.status, a.body)
		}
	})
	t.Run("acks collected until the timeout", func(t *testing.T) {
		a := api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"ask","args":[1],"rooms":["room-b","room-m"],"ack_timeout_ms":300}`)
		if a.status != 200 || a.body != `{"clients":2,"acks":[{"name":"b4","got":1}],"timed_out":true}` {
			t.Errorf("answered %d %s; want b4's ack and timed_out (mute4 never answers)", a.status, a.body)
		}
	})
	t.Run("idempotent retry", func(t *testing.T) {
		body := `{"namespace":"/chat","event":"once","rooms":["room-b"]}`
		first := api(t, base, "POST", "/emit", body, "Idempotency-Key", "retry-1")
		again := api(t, base, "POST", "/emit", body, "Idempotency-Key", "retry-1")
		other := api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"once"}`, "Idempotency-Key", "retry-1")
		mustStatus(t, first, 202, "first")
		mustStatus(t, again, 202, "retry")
		mustStatus(t, other, 409, "another body with the same key")
		settle(t, c, base, names...)
		if n := len(c.all(received("b4", "once", ""))); n != 1 {
			t.Errorf("b4 received the emit %d times, want once", n)
		}
	})
	t.Run("join, count, rooms, sockets, leave, disconnect", func(t *testing.T) {
		mustStatus(t, api(t, base, "POST", "/sockets/join", `{"namespace":"/chat","rooms":["room-a"],"join":["vip"]}`), 200, "join")
		if a := api(t, base, "GET", "/sockets/count?namespace=/chat&room=vip", ""); a.body != `{"count":2}` {
			t.Errorf("count of vip: %s", a.body)
		}
		if a := api(t, base, "GET", "/rooms?namespace=/chat", ""); a.body != `{"rooms":[{"name":"room-a","sockets":2},{"name":"room-b","sockets":1},{"name":"room-m","sockets":1},{"name":"vip","sockets":2}]}` {
			t.Errorf("rooms: %s", a.body)
		}
		a := api(t, base, "GET", "/sockets?namespace=/chat&room=vip&limit=1", "")
		var page struct {
			Sockets []struct {
				ID        string   `json:"id"`
				Rooms     []string `json:"rooms"`
				Handshake struct {
					Address string            `json:"address"`
					Query   map[string]string `json:"query"`
				} `json:"handshake"`
			} `json:"sockets"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(a.body), &page); err != nil || len(page.Sockets) != 1 || page.NextCursor == nil {
			t.Fatalf("first page: %s (%v)", a.body, err)
		}
		if s := page.Sockets[0]; s.Handshake.Address != "127.0.0.1" || s.Handshake.Query["room"] != "a" {
			t.Errorf("socket %+v", s)
		}
		first := page.Sockets[0].ID
		a = api(t, base, "GET", "/sockets?namespace=/chat&room=vip&limit=1&cursor="+*page.NextCursor, "")
		page.NextCursor = nil
		page.Sockets = nil
		if err := json.Unmarshal([]byte(a.body), &page); err != nil || len(page.Sockets) != 1 || page.Sockets[0].ID == first {
			t.Fatalf("second page: %s (%v)", a.body, err)
		}
		a = api(t, base, "GET", "/sockets?namespace=/chat&room=vip&limit=2", "")
		if !strings.HasSuffix(a.body, `"next_cursor":null}`) {
			t.Errorf("a page holding all: %s, want next_cursor null", a.body)
		}
		mustStatus(t, api(t, base, "POST", "/sockets/leave", `{"namespace":"/chat","rooms":["vip"],"leave":["vip"]}`), 200, "leave")
		if a := api(t, base, "GET", "/sockets/count?namespace=/chat&room=vip", ""); a.body != `{"count":0}` {
			t.Errorf("count of vip after the leave: %s", a.body)
		}
		mustStatus(t, api(t, base, "POST", "/sockets/disconnect", `{"namespace":"/chat","rooms":["room-m"]}`), 200, "disconnect")
		c.waitFor(10*time.Second, "mute4 disconnected", func(e clientEvent) bool {
			return e.Type == "disconnect" && e.Name == "mute4" && e.Reason == "io server disconnect"
		})
		names = []string{"a4", "a2", "b4"}
	})
	t.Run("batch", func(t *testing.T) {
		a := api(t, base, "POST", "/batch", `{"requests":[{"path":"/emit","body":{"namespace":"/chat","event":"b1","rooms":["room-b"]}},{"path":"/sockets/count","query":{"namespace":"/chat"}},{"path":"/emit","body":{"namespace":"/nope","event":"x"}}]}`)
		if a.status != 200 || !strings.HasPrefix(a.body, `{"responses":[{"status":202,"body":{}},{"status":200,"body":{"count":3}},{"status":404,"body":{"error":{"code":"unknown_namespace"`) {
			t.Errorf("batch: %d %s", a.status, a.body)
		}
		c.waitFor(10*time.Second, "b4 b1", received("b4", "b1", "[]"))
	})
	t.Run("errors", func(t *testing.T) {
		a := api(t, base, "GET", "/rooms", "", "Authorization", "Bearer wrong")
		if a.status != 401 || a.header.Get("WWW-Authenticate") == "" || !strings.Contains(a.body, `"code":"unauthorized"`) {
			t.Errorf("wrong key: %d %v %s", a.status, a.header, a.body)
		}
		if a := api(t, base, "GET", "/rooms?key="+apiKey, ""); a.status != 400 {
			t.Errorf("key in the URL: %d %s", a.status, a.body)
		}
		if a := api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"e","rooms":"room-a"}`); a.status != 400 || !strings.Contains(a.body, "rooms: is a JSON string") {
			t.Errorf("wrong type: %d %s", a.status, a.body)
		}
		if a := api(t, base, "GET", "/sockets?namespace=/nope", ""); a.status != 404 || !strings.Contains(a.body, "unknown_namespace") {
			t.Errorf("unknown namespace: %d %s", a.status, a.body)
		}
		big := `{"namespace":"/chat","event":"e","args":["` + strings.Repeat("x", 70000) + `"]}`
		if a := api(t, base, "POST", "/emit", big); a.status != 413 {
			t.Errorf("over max_payload: %d %s", a.status, a.body)
		}
		if a := api(t, base, "POST", "/server-side-emit", `{"namespace":"/chat","event":"e"}`); a.status != 400 || !strings.Contains(a.body, "no_cluster") {
			t.Errorf("server-side emit on one node: %d %s", a.status, a.body)
		}
	})
	t.Run("caddy socketio emit, sockets, rooms", func(t *testing.T) {
		dir := t.TempDir()
		out, err := runCaddyCommand(dir, "", "socketio", "emit", "--address", base, "--namespace", "/chat", "--room", "room-b", "from-cli", `{"json": 1}`)
		if err != nil || strings.TrimSpace(out) != "{}" {
			t.Fatalf("caddy socketio emit: %v\n%s", err, out)
		}
		c.waitFor(10*time.Second, "b4 from-cli", received("b4", "from-cli", `[{"json":1}]`))
		out, err = runCaddyCommand(dir, "", "socketio", "rooms", "--address", base, "--namespace", "/chat")
		if err != nil || !strings.Contains(out, `{"name":"room-b","sockets":1}`) {
			t.Errorf("caddy socketio rooms: %v\n%s", err, out)
		}
		out, err = runCaddyCommand(dir, "", "socketio", "sockets", "--address", base, "--namespace", "/chat", "--room", "room-b")
		if err != nil || strings.Count(out, `"id":`) != 1 {
			t.Errorf("caddy socketio sockets: %v\n%s", err, out)
		}
		out, err = runCaddyCommand(dir, "", "socketio", "emit", "--address", base, "--namespace", "/nope", "e")
		if err == nil || !strings.Contains(out, "unknown_namespace") {
			t.Errorf("caddy socketio emit to an unknown namespace: %v\n%s", err, out)
		}
	})
	t.Run("without a key, a warning at start", func(t *testing.T) {
		if a := api(t, url+"/open-api", "GET", "/sockets/count?namespace=/chat", "", "Authorization", ""); a.status != 200 {
			t.Errorf("open API: %d %s", a.status, a.body)
		}
		warned := caddy.logEntries(func(e map[string]any) bool {
			msg, _ := e["msg"].(string)
			return e["level"] == "warn" && strings.HasPrefix(msg, "socketio_api has no key")
		})
		if len(warned) != 1 {
			t.Errorf("%d warnings about the API without a key, want 1", len(warned))
		}
		if strings.Contains(caddy.logs.String(), apiKey) {
			t.Error("the API key appears in Caddy's log")
		}
	})
}

// One API call on the Caddy node reaches the clients of both nodes (Caddy
// and a Node socket.io node on one redis-server), collects both nodes'
// acks and lists both nodes' sockets; while Redis is down, the API answers
// 503 with Retry-After within the requests timeout, doing nothing.
func TestAPIClusterWithANodeSocketIONode(t *testing.T) {
	t.Setenv("SOCKETIO_API_KEY", apiKey)
	r := startRedisProcess(t)
	port := freePort(t)
	caddy := startCaddy(t, apiSite(port, "adapter redis {\n\t\t\taddress "+r.addr()+"\n\t\t\trequests_timeout 2s\n\t\t}"))
	port2, nodePID := startAPINode(t, r.addr())
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	nodeURL := fmt.Sprintf("http://127.0.0.1:%d", port2)
	base := url + "/api"
	r.waitSubscribers("/chat", 2)
	names := []string{"caddy-a4", "caddy-a2", "node-a4", "node-a2"}
	spec := func(name, version, url string) clientSpec {
		return clientSpec{Name: name, Version: version, URL: url, Namespace: "/chat", Query: map[string]string{"room": "a", "name": name}}
	}
	c := startAPIClients(t, spec("caddy-a4", "v4", url), spec("caddy-a2", "v2", url), spec("node-a4", "v4", nodeURL), spec("node-a2", "v2", nodeURL))
	c.connected(15*time.Second, names...)

	mustStatus(t, api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"all","args":[{"_binary":"Bw=="}],"rooms":["room-a"]}`), 202, "emit")
	for _, n := range names {
		c.waitFor(10*time.Second, n+" all", received(n, "all", `[{"type":"Buffer","data":[7]}]`))
	}

	a := api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"ask","args":["q"],"rooms":["room-a"],"ack_timeout_ms":10000}`)
	var acks struct {
		Clients  int                     `json:"clients"`
		Acks     []struct{ Name string } `json:"acks"`
		TimedOut bool                    `json:"timed_out"`
	}
	if err := json.Unmarshal([]byte(a.body), &acks); err != nil || a.status != 200 {
		t.Fatalf("emit with acks: %d %s", a.status, a.body)
	}
	var acked []string
	for _, x := range acks.Acks {
		acked = append(acked, x.Name)
	}
	sort.Strings(acked)
	if acks.Clients != 4 || acks.TimedOut || fmt.Sprint(acked) != "[caddy-a2 caddy-a4 node-a2 node-a4]" {
		t.Errorf("acks across the cluster: %s", a.body)
	}

	a = api(t, base, "GET", "/sockets?namespace=/chat", "")
	var page struct {
		Sockets []struct {
			Data      map[string]string `json:"data"`
			Handshake struct {
				Query map[string]string `json:"query"`
			} `json:"handshake"`
		} `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(a.body), &page); err != nil || a.status != 200 {
		t.Fatalf("sockets: %d %s", a.status, a.body)
	}
	var listed []string
	nodeData := 0
	for _, s := range page.Sockets {
		listed = append(listed, s.Handshake.Query["name"])
		if s.Data["name"] == s.Handshake.Query["name"] {
			nodeData++ // the Node node sets socket.data; Caddy sockets have none
		}
	}
	sort.Strings(listed)
	if fmt.Sprint(listed) != "[caddy-a2 caddy-a4 node-a2 node-a4]" || nodeData != 2 {
		t.Errorf("sockets of both nodes: %v (data of %d), from %s", listed, nodeData, a.body)
	}
	if a := api(t, base, "GET", "/sockets/count?namespace=/chat&room=room-a", ""); a.body != `{"count":4}` {
		t.Errorf("count across the cluster: %s", a.body)
	}
	if a := api(t, base, "GET", "/rooms?namespace=/chat", ""); a.body != `{"rooms":[{"name":"room-a","sockets":4}]}` {
		t.Errorf("rooms across the cluster: %s", a.body)
	}
	mustStatus(t, api(t, base, "POST", "/sockets/join", `{"namespace":"/chat","rooms":["room-a"],"except":["room-none"],"join":["everyone"]}`), 200, "join")
	// Applied on this node once answered: a local emit to the room reaches
	// Caddy's two clients at once.
	mustStatus(t, api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"joined-here","rooms":["everyone"]}`), 202, "emit right after the join")
	for _, n := range names[:2] {
		c.waitFor(10*time.Second, n+" joined-here", received(n, "joined-here", "[]"))
	}
	// The join reaches the Node node through Redis; once it counts them
	// all, an emit to the new room reaches all four.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if api(t, base, "GET", "/sockets/count?namespace=/chat&room=everyone", "").body == `{"count":4}` {
			break
		}
	}
	mustStatus(t, api(t, base, "POST", "/emit", `{"namespace":"/chat","event":"joined","rooms":["everyone"]}`), 202, "emit to the joined room")
	for _, n := range names {
		c.waitFor(10*time.Second, n+" joined", received(n, "joined", "[]"))
	}
	a = api(t, base, "POST", "/server-side-emit", `{"namespace":"/chat","event":"who","args":[1],"ack_timeout_ms":5000}`)
	if a.status != 200 || a.body != `{"acks":[{"node":"node","got":1}],"timed_out":false}` {
		t.Errorf("server-side emit with acks: %d %s", a.status, a.body)
	}

	r.kill()
	caddy.waitForLog("Redis unreachable", 10*time.Second)
	for _, call := range []struct{ method, path, body string }{
		{"GET", "/sockets?namespace=/chat", ""},
		{"POST", "/emit", `{"namespace":"/chat","event":"during-outage"}`},
		{"GET", "/sockets/count?namespace=/chat", ""},
	} {
		// requests_timeout is 2s: the answer must come before the other
		// nodes' answers would have been given up on, plus a margin.
		a := apiWithin(t, 3*time.Second, base, call.method, call.path, call.body)
		if a.status != 503 || a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "cluster_unreachable") {
			t.Errorf("%s %s while Redis is down: %d %s (Retry-After %q), want 503 with Retry-After", call.method, call.path, a.status, a.body, a.header.Get("Retry-After"))
		}
	}
	// Once Redis is back the API works again, and what it refused was
	// done nowhere, not even for Caddy's own clients: the backend's retry
	// reaches everyone once.
	r.start()
	caddy.waitForLog("Redis reachable again", 15*time.Second)
	r.waitSubscribers("/chat", 2)
	settle(t, c, base, names...)
	if got := receivedBy(c, "during-outage"); len(got) != 0 {
		t.Errorf("the emit refused during the outage reached %v", got)
	}

	// A node that does not answer (stopped, as a stuck process would be):
	// the answer says so within requests_timeout instead of hanging.
	if err := syscall.Kill(nodePID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	a = apiWithin(t, 5*time.Second, base, "GET", "/sockets?namespace=/chat", "")
	if a.status != 503 || a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "0 of 1 servers answered") {
		t.Errorf("sockets with the Node node stopped: %d %s, want 503 saying a node did not answer", a.status, a.body)
	}
	a = apiWithin(t, 5*time.Second, base, "POST", "/emit", `{"namespace":"/chat","event":"ask","args":["q"],"rooms":["room-a"],"ack_timeout_ms":1000}`)
	if a.status != 200 || !strings.HasPrefix(a.body, `{"clients":2,`) || !strings.HasSuffix(a.body, `"timed_out":true}`) {
		t.Errorf("acks with the Node node stopped: %d %s, want Caddy's 2 clients' acks and timed_out", a.status, a.body)
	}
	if err := syscall.Kill(nodePID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// startAPINode runs testdata/api_node.js on the Redis at redisAddr.
func startAPINode(t *testing.T, redisAddr string) (int, int) {
	t.Helper()
	return testpeer.StartNodeServer(t, filepath.Join("testdata", "api_node.js"), "REDIS_URL=redis://"+redisAddr)
}

// `caddy validate` refuses a mistyped socketio_api block and a key whose
// variable is unset, saying where and how to fix it, without the key.
func TestCaddyValidateRefusesBadAPIConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, api string
		want      []string
	}{
		{"typo in an option", "keys {env.SOCKETIO_API_KEY}", []string{`unknown subdirective "keys" of socketio_api (expected server or key)`, "Caddyfile:"}},
		{"server twice", "server a\n\t\t\tserver b", []string{"server is set twice", "Caddyfile:"}},
		{"key from an unset variable", "key {env.SOCKETIO_TEST_UNSET_KEY}", []string{"socketio_api key 1 ({env.SOCKETIO_TEST_UNSET_KEY}) is empty once placeholders are resolved; set the environment variable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectValidateRefuses(t, "\thandle_path /api/* {\n\t\tsocketio_api {\n\t\t\t"+tc.api+"\n\t\t}\n\t}", tc.want)
		})
	}
}
