package integration_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// Backend hooks with real backends, run the way users run them: a Python
// standard-library server behind reverse_proxy, and plain PHP in php-fpm
// behind php_fastcgi. Both verify Socketio-Signature and log each request
// they get to a file the test reads (testdata/hooks_backend.py documents
// what they answer).

// hookRecord is one request a backend logged.
type hookRecord struct {
	Backend       string          `json:"backend"`
	Path          string          `json:"path"`
	Verified      bool            `json:"verified"`
	ContentType   string          `json:"content_type"`
	Authorization *string         `json:"authorization"`
	Body          json.RawMessage `json:"body"`
}

// hookBody is the part of a hook request body the tests look at.
type hookBody struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Time      int64  `json:"time"`
	Namespace string `json:"namespace"`
	Socket    struct {
		ID        string          `json:"id"`
		Transport string          `json:"transport"`
		Protocol  json.RawMessage `json:"protocol"`
		Rooms     []string        `json:"rooms"`
		Data      json.RawMessage `json:"data"`
		Meta      json.RawMessage `json:"meta"`
	} `json:"socket"`
	Handshake struct {
		Query   map[string]any    `json:"query"`
		Headers map[string]string `json:"headers"`
		Auth    json.RawMessage   `json:"auth"`
	} `json:"handshake"`
	Event  string     `json:"event"`
	Reason string     `json:"reason"`
	Events []hookBody `json:"events"` // notify batches
}

// hookBackend is a running backend of the test's own.
type hookBackend struct {
	t   testing.TB
	log string // the file it appends one JSON line per request to
	// transport is the hooks block's handler directives that reach it.
	transport string
}

func (b *hookBackend) records() []hookRecord {
	b.t.Helper()
	data, err := os.ReadFile(b.log)
	if err != nil && !os.IsNotExist(err) {
		b.t.Fatal(err)
	}
	var out []hookRecord
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r hookRecord
		if err := json.Unmarshal(line, &r); err != nil {
			b.t.Fatalf("backend log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// bodies returns the bodies of the requests to path (connect, event, notify).
func (b *hookBackend) bodies(kind string) []hookBody {
	b.t.Helper()
	var out []hookBody
	for _, r := range b.records() {
		if strings.HasSuffix(r.Path, "/"+kind) {
			var body hookBody
			if err := json.Unmarshal(r.Body, &body); err != nil {
				b.t.Fatalf("%s body %s: %v", kind, r.Body, err)
			}
			out = append(out, body)
		}
	}
	return out
}

// notifications returns every notified event so far, batches unpacked.
func (b *hookBackend) notifications() []hookBody {
	var out []hookBody
	for _, batch := range b.bodies("notify") {
		out = append(out, batch.Events...)
	}
	return out
}

// waitNotification waits for a notified event that match accepts.
func (b *hookBackend) waitNotification(within time.Duration, what string, match func(hookBody) bool) hookBody {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, e := range b.notifications() {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no %s notification within %v; backend log:\n%s", what, within, b.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *hookBackend) dump() string {
	data, _ := os.ReadFile(b.log)
	return string(data)
}

// startPythonHooks runs testdata/hooks_backend.py (reverse_proxy's
// upstream) with secret.
func startPythonHooks(t testing.TB, secret string, env ...string) *hookBackend {
	t.Helper()
	b := &hookBackend{t: t, log: filepath.Join(t.TempDir(), "hooks.log")}
	cmd := exec.Command(testpeer.Python3(t), filepath.Join("testdata", "hooks_backend.py"))
	cmd.Env = append(os.Environ(), "HOOK_SECRET="+secret, "HOOK_LOG="+b.log)
	cmd.Env = append(cmd.Env, env...)
	var stderr testpeer.LockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting hooks_backend.py: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("hooks_backend.py stderr:\n%s\nlog:\n%s", stderr.String(), b.dump())
		}
	})
	ready := make(chan int, 1)
	go func() { // ends when the backend's stdout closes (killed at cleanup)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			var line struct{ Port int }
			if json.Unmarshal(scanner.Bytes(), &line) == nil && line.Port != 0 {
				ready <- line.Port
			}
		}
	}()
	select {
	case port := <-ready:
		b.transport = fmt.Sprintf("reverse_proxy 127.0.0.1:%d", port)
	case <-time.After(15 * time.Second):
		t.Fatalf("hooks_backend.py did not announce its port; stderr:\n%s", stderr.String())
	}
	return b
}

// startPHPHooks runs php-fpm on a unix socket with a pool of its own, and
// testdata/hooks_backend.php as the index.php of a document root, as a PHP
// framework's front controller.
func startPHPHooks(t testing.TB, secret string) *hookBackend {
	t.Helper()
	fpm := testpeer.PHPFPM(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "public")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "hooks_backend.php"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "index.php"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	b := &hookBackend{t: t, log: filepath.Join(dir, "hooks.log")}
	sock := filepath.Join(dir, "php-fpm.sock")
	user := ""
	args := []string{"-F", "-p", dir, "-y", filepath.Join(dir, "php-fpm.conf"), "-n"}
	if os.Geteuid() == 0 {
		// php-fpm refuses root unless told, and then wants the pool's user.
		user = "user = root\ngroup = root\n"
		args = append(args, "-R")
	}
	conf := fmt.Sprintf(`[global]
pid = %[1]s/php-fpm.pid
error_log = %[1]s/php-fpm.log
daemonize = no

[hooks]
%[2]slisten = %[3]s
pm = static
pm.max_children = 4
clear_env = yes
env[HOOK_SECRET] = %[4]s
env[HOOK_LOG] = %[5]s
env[HOOK_SLOW] = 3
catch_workers_output = yes
`, dir, user, sock, secret, b.log)
	if err := os.WriteFile(filepath.Join(dir, "php-fpm.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fpm, args...)
	var output testpeer.LockedBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", fpm, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // owned by this backend
	t.Cleanup(func() {
		// SIGQUIT: a graceful stop, in which the master ends its workers.
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			fpmLog, _ := os.ReadFile(filepath.Join(dir, "php-fpm.log"))
			t.Logf("php-fpm output:\n%s\n%s\nlog:\n%s", output.String(), fpmLog, b.dump())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("php-fpm exited before listening:\n%s", output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("php-fpm did not create %s within 10s:\n%s", sock, output.String())
		}
	}
	b.transport = fmt.Sprintf("root * %s\n\t\t\t\tphp_fastcgi unix/%s", root, sock)
	return b
}

// hooksSite is a Caddy site whose namespace /chat sends connections and
// events to a backend. The secret comes from the environment, as users
// keep it; old-secret is the one being rotated out. The 2 s timeout is
// well below the slow backend's 5 s (TestHooksBackendFaults) and well above
// what a loaded test machine takes to answer.
func hooksSite(port int, transport string, extra ...string) string {
	return fmt.Sprintf(`http://127.0.0.1:%d {
	socketio {
		allow_eio3
		namespace /chat {
			hooks {
				connect
				events echo order:* room:join slow garbage
				notify connect disconnect join leave
				timeout 2s
				secret {env.HOOK_TEST_SECRET} old-secret
				forward_headers Authorization
				%s
			}
		}
		%s
	}
}
`, port, transport, strings.Join(extra, "\n\t\t"))
}

// hookClientSpec is a clientSpec with what testdata/hooks_clients.js adds.
type hookClientSpec struct {
	clientSpec
	Auth    map[string]string `json:"auth,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// hookClients runs testdata/hooks_clients.js; data holds the `data` of each
// client's connect_error (or v2 error), by name.
type hookClients struct {
	*nodeClients
	mu   sync.Mutex
	data map[string]json.RawMessage
}

func startHookClients(t testing.TB, specs ...hookClientSpec) *hookClients {
	t.Helper()
	spec, err := json.Marshal(specs)
	if err != nil {
		t.Fatal(err)
	}
	c := &hookClients{data: map[string]json.RawMessage{}}
	c.nodeClients = startClientScript(t, "hooks_clients.js", []string{"CLIENTS=" + string(spec)}, func(e clientEvent, line []byte) {
		if e.Type != "connect_error" && e.Type != "error" {
			return
		}
		var withData struct{ Data json.RawMessage }
		_ = json.Unmarshal(line, &withData)
		c.mu.Lock()
		c.data[e.Name] = withData.Data
		c.mu.Unlock()
	})
	return c
}

// refused waits for name's connect_error (v4) or error (v2) and returns its
// message and data.
func (c *hookClients) refused(within time.Duration, name string) (string, json.RawMessage) {
	c.t.Helper()
	e := c.waitFor(within, name+" being refused", func(e clientEvent) bool {
		if e.Name == name && e.Type == "connected" {
			c.t.Fatalf("%s connected; it should have been refused", name)
		}
		return e.Name == name && (e.Type == "connect_error" || e.Type == "error")
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return e.Error, c.data[name]
}

// ack sends event from name with an ack and returns the reply.
func (c *hookClients) ack(within time.Duration, name, event string, args ...any) json.RawMessage {
	c.t.Helper()
	before := len(c.all(is("ack", name)))
	c.send(map[string]any{"cmd": "emit", "name": name, "event": event, "args": args, "ack": true})
	deadline := time.Now().Add(within)
	for {
		if acks := c.all(is("ack", name)); len(acks) > before {
			return acks[before].Reply
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: no ack for %s within %v; events:\n%s", name, event, within, c.dump())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func bin(s string) map[string]string {
	return map[string]string{"$bin": base64.StdEncoding.EncodeToString([]byte(s))}
}

// sameJSON compares two JSON texts as values.
func sameJSON(t testing.TB, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: %s is not JSON: %v", what, got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the expected %s is not JSON: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// hookSecret is the secret the hooks tests sign with; the backends get the
// first or the rotated-out one.
const hookSecret = "hooks-test-secret-7d1f"

func TestHooksPythonBehindReverseProxy(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	testHooksBackend(t, startPythonHooks(t, hookSecret))
}

// The PHP backend knows only the secret being rotated out: it verifies the
// second v1 of each signature.
func TestHooksPHPBehindPHPFastCGI(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	testHooksBackend(t, startPHPHooks(t, "old-secret"))
}

// testHooksBackend runs what a user of hooks sees, from socket.io-client
// 4.x and 2.x, against backend.
func testHooksBackend(t *testing.T, backend *hookBackend) {
	port := freePort(t)
	caddy := startCaddy(t, hooksSite(port, backend.transport))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	spec := func(name, version string) clientSpec {
		return clientSpec{Name: name, Version: version, URL: url, Namespace: "/chat"}
	}
	bob := spec("bob", "v2")
	bob.Query = map[string]string{"token": "good", "user": "bob"}
	eve := spec("eve", "v2")
	eve.Query = map[string]string{"token": "bad"}
	clients := startHookClients(t,
		hookClientSpec{clientSpec: spec("ann", "v4"), Auth: map[string]string{"token": "good", "user": "ann"},
			Headers: map[string]string{"Authorization": "Bearer ann", "X-Secret-Header": "not forwarded"}},
		hookClientSpec{clientSpec: spec("mallory", "v4"), Auth: map[string]string{"token": "bad"}},
		hookClientSpec{clientSpec: bob},
		hookClientSpec{clientSpec: eve},
	)
	ids := clients.connected(15*time.Second, "ann", "bob")

	// Refused with the backend's message and data, as Node's next(err).
	msg, data := clients.refused(10*time.Second, "mallory")
	if msg != "not authorized" {
		t.Errorf("mallory's connect_error %q, want the backend's \"not authorized\"", msg)
	}
	sameJSON(t, "mallory's connect_error data", data, `{"code":42}`)
	// A 2.x client gets what Node sends it: the data alone.
	_, data = clients.refused(10*time.Second, "eve")
	sameJSON(t, "eve's (2.x) error", data, `{"code":42}`)

	// The ack is the backend's answer, binary both ways; meta and data
	// from the connect answer come back with the event.
	reply := clients.ack(10*time.Second, "ann", "echo", map[string]string{"text": "hi"}, bin("ping"))
	sameJSON(t, "ann's echo ack", reply, fmt.Sprintf(`[{"args":[{"text":"hi"},%s],"meta":{"session":"s-ann"},"data":{"user":"ann"}},%s]`,
		mustJSON(bin("ping")), mustJSON(bin("pong"))))
	reply = clients.ack(10*time.Second, "bob", "echo", "from 2.x")
	sameJSON(t, "bob's echo ack", reply, fmt.Sprintf(`[{"args":["from 2.x"],"meta":{"session":"s-bob"},"data":{"user":"bob"}},%s]`, mustJSON(bin("pong"))))

	// An emit action reaches the room the connect answer joined.
	reply = clients.ack(10*time.Second, "bob", "order:place", map[string]string{"for": "ann", "item": "tea"})
	sameJSON(t, "bob's order ack", reply, `["placed"]`)
	got := clients.waitFor(10*time.Second, "ann receiving order:placed", func(e clientEvent) bool {
		return e.Name == "ann" && e.Type == "received" && e.Event == "order:placed"
	})
	sameJSON(t, "order:placed at ann", got.Args, `[{"for":"ann","item":"tea"}]`)
	if n := len(clients.all(func(e clientEvent) bool { return e.Name == "bob" && e.Event == "order:placed" })); n != 0 {
		t.Errorf("bob received order:placed %d times; only room user:ann should", n)
	}

	// Notifications: ann's connect and disconnect, once each, with ids.
	clients.send(map[string]any{"cmd": "disconnect", "name": "ann"})
	annID := ids["ann"].ID
	backend.waitNotification(10*time.Second, "ann's disconnect", func(e hookBody) bool {
		return e.Type == "disconnect" && e.Socket.ID == annID
	})
	counts := map[string]int{}
	seenIDs := map[string]bool{}
	for _, e := range backend.notifications() {
		if e.ID == "" || seenIDs[e.ID] {
			t.Errorf("notification %s of socket %s has id %q: missing or repeated", e.Type, e.Socket.ID, e.ID)
		}
		seenIDs[e.ID] = true
		if e.Socket.ID == annID {
			counts[e.Type]++
			if e.Type == "disconnect" && e.Reason == "" {
				t.Errorf("ann's disconnect notification has no reason")
			}
		}
	}
	if counts["connect"] != 1 || counts["disconnect"] != 1 {
		t.Errorf("ann's notifications: %v; want one connect and one disconnect", counts)
	}

	// What the backend received: signed (it checked), JSON, with the
	// allowlisted header only.
	records := backend.records()
	if len(records) == 0 {
		t.Fatal("the backend received nothing")
	}
	for _, r := range records {
		if !r.Verified {
			t.Errorf("%s %s: the backend could not verify Socketio-Signature", r.Backend, r.Path)
		}
		if r.ContentType != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", r.Path, r.ContentType)
		}
	}
	var annConnect *hookBody
	for _, c := range backend.bodies("connect") {
		if c.Socket.ID == annID {
			annConnect = &c
		}
		if c.Socket.ID != "" && strings.Contains(string(c.Handshake.Auth), `"bad"`) {
			for _, e := range backend.notifications() {
				if e.Socket.ID == c.Socket.ID && e.Type == "connect" {
					t.Errorf("refused socket %s got a connect notification", c.Socket.ID)
				}
			}
		}
	}
	if annConnect == nil {
		t.Fatalf("no connect request for ann (%s); log:\n%s", annID, backend.dump())
	}
	if annConnect.Namespace != "/chat" || annConnect.Handshake.Headers["authorization"] != "Bearer ann" {
		t.Errorf("ann's connect request: namespace %q, headers %v; want /chat with authorization: Bearer ann", annConnect.Namespace, annConnect.Handshake.Headers)
	}
	if _, leaked := annConnect.Handshake.Headers["x-secret-header"]; leaked {
		t.Errorf("a header outside forward_headers reached the backend: %v", annConnect.Handshake.Headers)
	}
	sameJSON(t, "ann's auth as the backend saw it", annConnect.Handshake.Auth, `{"token":"good","user":"ann"}`)

	if strings.Contains(caddy.logs.String(), hookSecret) {
		t.Errorf("Caddy's logs contain the hook secret:\n%s", caddy.logs.String())
	}
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// errorCode is the code of a failed hook's ack, [{"error": {"code": ...}}].
func errorCode(t testing.TB, reply json.RawMessage) string {
	t.Helper()
	var r []struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(reply, &r); err != nil || len(r) != 1 || r[0].Error.Code == "" {
		t.Errorf("ack %s is not [{\"error\": {\"code\": ..., \"message\": ...}}]", reply)
		return ""
	}
	return r[0].Error.Code
}

// retryable checks a connect_error's data for the backend failure marker.
func retryable(t testing.TB, who string, data json.RawMessage, code string) {
	t.Helper()
	var d struct {
		Retryable bool
		Code      string
	}
	if err := json.Unmarshal(data, &d); err != nil || !d.Retryable || d.Code != code {
		t.Errorf("%s's connect_error data %s, want {\"retryable\": true, \"code\": %q}", who, data, code)
	}
}

// A slow, dead or confused backend fails only the sockets waiting on it,
// each within the timeout, with an error the client can act on.
func TestHooksBackendFaults(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	backend := startPythonHooks(t, hookSecret, "HOOK_SLOW=5")
	down := freePort(t) // nothing listens there
	port := freePort(t)
	c := startCaddy(t, hooksSite(port, backend.transport, fmt.Sprintf(`namespace /down {
			hooks {
				connect
				secret {env.HOOK_TEST_SECRET}
				reverse_proxy 127.0.0.1:%d
			}
		}
		namespace /down-events {
			hooks {
				events *
				secret {env.HOOK_TEST_SECRET}
				reverse_proxy 127.0.0.1:%d
			}
		}`, down, down), "name app"))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	v4 := func(name, namespace, token string) hookClientSpec {
		return hookClientSpec{clientSpec: clientSpec{Name: name, Version: "v4", URL: url, Namespace: namespace},
			Auth: map[string]string{"token": token, "user": name}}
	}
	clients := startHookClients(t,
		v4("slowpoke", "/chat", "slow"),
		v4("quick", "/chat", "good"),
		v4("other", "/chat", "good"),
		v4("confused", "/chat", "garbage"),
		v4("downer", "/down", "good"),
		v4("evdown", "/down-events", "good"),
	)
	connected := clients.connected(10*time.Second, "quick", "other", "evdown")

	_, data := clients.refused(10*time.Second, "slowpoke")
	retryable(t, "slowpoke (backend slower than timeout)", data, "timeout")
	slowRefused := clients.waitFor(time.Second, "slowpoke's connect_error", is("connect_error", "slowpoke"))
	if !connected["quick"].at.Before(slowRefused.at) {
		t.Errorf("quick connected at %v, after slowpoke's refusal at %v: a slow connect hook held up another socket",
			connected["quick"].at.Format("15:04:05.000"), slowRefused.at.Format("15:04:05.000"))
	}
	_, data = clients.refused(10*time.Second, "confused")
	retryable(t, "confused (an answer that is not JSON)", data, "bad_answer")
	_, data = clients.refused(10*time.Second, "downer")
	retryable(t, "downer (backend down)", data, "unavailable")

	// Events: the client's ack callback learns of the failure at once.
	clients.send(map[string]any{"cmd": "emit", "name": "quick", "event": "slow", "args": []any{}, "ack": true})
	otherReply := clients.ack(10*time.Second, "other", "echo", "while quick waits")
	sameJSON(t, "other's echo while quick's event waits on a slow backend", otherReply,
		fmt.Sprintf(`[{"args":["while quick waits"],"meta":{"session":"s-other"},"data":{"user":"other"}},%s]`, mustJSON(bin("pong"))))
	quickAck := clients.waitFor(10*time.Second, "quick's slow ack", is("ack", "quick"))
	if code := errorCode(t, quickAck.Reply); code != "timeout" {
		t.Errorf("a slow event's ack has code %q, want timeout", code)
	}
	if !clients.waitFor(time.Second, "other's ack", is("ack", "other")).at.Before(quickAck.at) {
		t.Errorf("other's ack came after quick's timed-out event: a slow event held up another socket")
	}
	if code := errorCode(t, clients.ack(10*time.Second, "quick", "garbage")); code != "bad_answer" {
		t.Errorf("an unreadable answer's ack has code %q, want bad_answer", code)
	}
	if code := errorCode(t, clients.ack(10*time.Second, "evdown", "anything")); code != "unavailable" {
		t.Errorf("a dead backend's ack has code %q, want unavailable", code)
	}
	// The socket is still usable after the failures.
	sameJSON(t, "quick's echo after the failures", clients.ack(10*time.Second, "quick", "echo", 1),
		fmt.Sprintf(`[{"args":[1],"meta":{"session":"s-quick"},"data":{"user":"quick"}},%s]`, mustJSON(bin("pong"))))

	// The metrics count every call as its client saw it, and time every
	// request: the slow ones took the whole 2 s timeout.
	got := expectMetrics(t, c, "hook metrics after the faults", map[string]float64{
		`caddy_socketio_hook_calls_total{hook="connect",namespace="/chat",outcome="ok"}`:                 2,
		`caddy_socketio_hook_calls_total{hook="connect",namespace="/chat",outcome="timeout"}`:            1,
		`caddy_socketio_hook_calls_total{hook="connect",namespace="/chat",outcome="bad_answer"}`:         1,
		`caddy_socketio_hook_calls_total{hook="connect",namespace="/chat",outcome="refused"}`:            0,
		`caddy_socketio_hook_calls_total{hook="connect",namespace="/down",outcome="unavailable"}`:        1,
		`caddy_socketio_hook_calls_total{hook="event",namespace="/chat",outcome="ok"}`:                   2,
		`caddy_socketio_hook_calls_total{hook="event",namespace="/chat",outcome="timeout"}`:              1,
		`caddy_socketio_hook_calls_total{hook="event",namespace="/chat",outcome="bad_answer"}`:           1,
		`caddy_socketio_hook_calls_total{hook="event",namespace="/down-events",outcome="unavailable"}`:   1,
		`caddy_socketio_hook_calls_total{hook="notify",namespace="/chat",outcome="timeout"}`:             0,
		`caddy_socketio_hook_calls_total{hook="notify",namespace="/chat",outcome="unavailable"}`:         0,
		`sum:caddy_socketio_hook_notifications_dropped_total`:                                            0,
		`caddy_socketio_hook_request_duration_seconds_count{hook="connect",namespace="/chat"}`:           4,
		`caddy_socketio_hook_request_duration_seconds_bucket{hook="connect",namespace="/chat",le="1"}`:   3,
		`caddy_socketio_hook_request_duration_seconds_bucket{hook="connect",namespace="/chat",le="2.5"}`: 4,
		`caddy_socketio_hook_request_duration_seconds_count{hook="event",namespace="/chat"}`:             4,
		`caddy_socketio_hook_request_duration_seconds_bucket{hook="event",namespace="/chat",le="1"}`:     3,
		`caddy_socketio_hook_request_duration_seconds_bucket{hook="event",namespace="/chat",le="2.5"}`:   4,
		`caddy_socketio_hook_request_duration_seconds_count{hook="connect",namespace="/down"}`:           1,
		`caddy_socketio_hook_request_duration_seconds_count{hook="event",namespace="/down-events"}`:      1,
	})
	if n := got[`caddy_socketio_hook_calls_total{hook="notify",namespace="/chat",outcome="ok"}`]; n < 1 {
		t.Errorf("%v notify requests taken, want the connect notifications of quick and other sent", n)
	}
	if sum := got[`caddy_socketio_hook_request_duration_seconds_sum{hook="connect",namespace="/chat"}`]; sum < 2 {
		t.Errorf("connect hook requests took %v s in all, want at least the 2 s of the slow one", sum)
	}
	for series := range got {
		if strings.Contains(series, `namespace="/"`) && strings.HasPrefix(series, "caddy_socketio_hook_") {
			t.Errorf("hook series %s for the namespace without hooks", series)
		}
	}
}

// userOf is the user of a hook body's socket.data (set by the connect answer).
func userOf(e hookBody) string {
	var d struct{ User string }
	_ = json.Unmarshal(e.Socket.Data, &d)
	return d.User
}

// With two Caddy nodes on one Redis, an emit action reaches a room on the
// other node, and each socket's lifecycle is notified once, by its node.
func TestHooksAcrossTwoCaddyNodesOnRedis(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	redis := startRedisProcess(t)
	backend := startPythonHooks(t, hookSecret)
	adapter := fmt.Sprintf("adapter redis {\n\t\t\taddress %s\n\t\t}", redis.addr())
	p1, p2 := freePort(t), freePort(t)
	startCaddy(t, hooksSite(p1, backend.transport, adapter))
	startCaddy(t, hooksSite(p2, backend.transport, adapter))
	redis.waitSubscribers("/chat", 2)
	ann := hookClientSpec{clientSpec: clientSpec{Name: "ann", Version: "v4", URL: fmt.Sprintf("http://127.0.0.1:%d", p1), Namespace: "/chat"},
		Auth: map[string]string{"token": "good", "user": "ann"}}
	bob := hookClientSpec{clientSpec: clientSpec{Name: "bob", Version: "v2", URL: fmt.Sprintf("http://127.0.0.1:%d", p2), Namespace: "/chat",
		Query: map[string]string{"token": "good", "user": "bob"}}}
	clients := startHookClients(t, ann, bob)
	clients.connected(10*time.Second, "ann", "bob")

	sameJSON(t, "bob's order on node 2", clients.ack(10*time.Second, "bob", "order:place", map[string]string{"for": "ann", "item": "tea"}), `["placed"]`)
	got := clients.waitFor(10*time.Second, "ann (node 1) receiving bob's order", func(e clientEvent) bool {
		return e.Name == "ann" && e.Event == "order:placed"
	})
	sameJSON(t, "order:placed at ann", got.Args, `[{"for":"ann","item":"tea"}]`)
	sameJSON(t, "ann's order on node 1", clients.ack(10*time.Second, "ann", "order:place", map[string]string{"for": "bob", "item": "cake"}), `["placed"]`)
	got = clients.waitFor(10*time.Second, "bob (node 2) receiving ann's order", func(e clientEvent) bool {
		return e.Name == "bob" && e.Event == "order:placed"
	})
	sameJSON(t, "order:placed at bob", got.Args, `[{"for":"bob","item":"cake"}]`)

	clients.send(map[string]any{"cmd": "close"})
	// By the user the backend gave each socket: a 2.x client does not know
	// its server-side socket id.
	for _, name := range []string{"ann", "bob"} {
		backend.waitNotification(10*time.Second, name+"'s disconnect", func(e hookBody) bool {
			return e.Type == "disconnect" && userOf(e) == name
		})
		counts := map[string]int{}
		for _, e := range backend.notifications() {
			if userOf(e) == name {
				counts[e.Type]++
			}
		}
		if counts["connect"] != 1 || counts["disconnect"] != 1 {
			t.Errorf("%s's notifications across two nodes: %v; want one connect and one disconnect, from its own node", name, counts)
		}
	}
}

// A reload changes the hooks for the next call: a live socket keeps its
// data and meta, and its next event goes to the new backend; a config
// without the hooks block lets sockets in without asking.
func TestHooksReloadAppliesToTheNextCall(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	first := startPythonHooks(t, hookSecret)
	second := startPythonHooks(t, hookSecret)
	port := freePort(t)
	caddy := startCaddy(t, hooksSite(port, first.transport, "name app"))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	clients := startHookClients(t, hookClientSpec{clientSpec: clientSpec{Name: "ann", Version: "v4", URL: url, Namespace: "/chat", Transports: []string{"websocket"}},
		Auth: map[string]string{"token": "good", "user": "ann"}})
	clients.connected(10*time.Second, "ann")

	caddy.reload(hooksSite(port, second.transport, "name app"))
	sameJSON(t, "ann's echo after the reload", clients.ack(10*time.Second, "ann", "echo", "again"),
		fmt.Sprintf(`[{"args":["again"],"meta":{"session":"s-ann"},"data":{"user":"ann"}},%s]`, mustJSON(bin("pong"))))
	if n := len(second.bodies("event")); n != 1 {
		t.Errorf("the new backend got %d event requests, want ann's echo", n)
	}
	if n := len(first.bodies("event")); n != 0 {
		t.Errorf("the old backend got %d event requests after the reload, want none", n)
	}
	// The hook metrics count across the reload: ann's connect before it,
	// her echo after.
	hookCounts := map[string]float64{
		`caddy_socketio_hook_calls_total{hook="connect",namespace="/chat",outcome="ok"}`:       1,
		`caddy_socketio_hook_calls_total{hook="event",namespace="/chat",outcome="ok"}`:         1,
		`caddy_socketio_hook_request_duration_seconds_count{hook="connect",namespace="/chat"}`: 1,
		`caddy_socketio_hook_request_duration_seconds_count{hook="event",namespace="/chat"}`:   1,
	}
	expectMetrics(t, caddy, "hook metrics after the reload", hookCounts)

	caddy.reload(fmt.Sprintf("http://127.0.0.1:%d {\n\tsocketio {\n\t\tname app\n\t\tallow_eio3\n\t\tnamespace /chat {\n\t\t\tjoin lobby\n\t\t}\n\t}\n}\n", port))
	late := startHookClients(t, hookClientSpec{clientSpec: clientSpec{Name: "mallory", Version: "v4", URL: url, Namespace: "/chat"},
		Auth: map[string]string{"token": "bad"}})
	late.connected(10*time.Second, "mallory")
	if n := len(second.bodies("connect")) + len(first.bodies("connect")); n != 1 {
		t.Errorf("%d connect requests in all, want ann's only: without a hooks block nobody is asked", n)
	}
	// Without a hooks block the counters stay where they got.
	expectMetrics(t, caddy, "after the hooks block went", hookCounts)
	if statuses := clients.all(is("disconnect", "ann")); len(statuses) != 0 {
		t.Errorf("ann was disconnected by the reloads: %+v", statuses)
	}
}

// `caddy validate` catches a hooks block without transport, a bad glob, and
// an event both relayed and hooked, saying where and how to fix them.
func TestHooksCaddyValidate(t *testing.T) {
	for _, tc := range []struct {
		name, namespace string
		want            []string
	}{
		{"no transport", "hooks {\n\t\t\t\tconnect\n\t\t\t}", []string{"hooks has no transport", "reverse_proxy", "Caddyfile:"}},
		{"bad glob", "hooks {\n\t\t\t\tevents chat:[\n\t\t\t\treverse_proxy 127.0.0.1:9\n\t\t\t}", []string{`hooks events "chat:[" is not a valid glob`, "Caddyfile:"}},
		{"typo", "hooks {\n\t\t\t\tconect\n\t\t\t\treverse_proxy 127.0.0.1:9\n\t\t\t}", []string{`unknown hooks option "conect"`, "Caddyfile:"}},
		{"relayed and hooked", "relay chat:msg\n\t\t\thooks {\n\t\t\t\tevents chat:*\n\t\t\t\treverse_proxy 127.0.0.1:9\n\t\t\t}", []string{`namespace /chat both relays event "chat:msg" and sends it to the backend`}},
		{"relay all and hooked", "relay\n\t\t\thooks {\n\t\t\t\tevents order:place\n\t\t\t\treverse_proxy 127.0.0.1:9\n\t\t\t}", []string{"namespace /chat relays every event"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectValidateRefuses(t, "\tsocketio {\n\t\tnamespace /chat {\n\t\t\t"+tc.namespace+"\n\t\t}\n\t}", tc.want)
		})
	}
}

// Without a secret Caddy says at start that hook requests are unsigned;
// with one, its value is in no log line.
func TestHooksWarnWithoutSecret(t *testing.T) {
	backend := startPythonHooks(t, hookSecret)
	port := freePort(t)
	caddy := startCaddy(t, fmt.Sprintf("http://127.0.0.1:%d {\n\tsocketio {\n\t\tnamespace /chat {\n\t\t\thooks {\n\t\t\t\tconnect\n\t\t\t\t%s\n\t\t\t}\n\t\t}\n\t}\n}\n", port, backend.transport))
	warnings := caddy.logEntries(func(e map[string]any) bool {
		msg, _ := e["msg"].(string)
		return e["level"] == "warn" && strings.Contains(msg, "not signed")
	})
	if len(warnings) != 1 || warnings[0]["namespace"] != "/chat" {
		t.Errorf("warnings about unsigned hooks: %v; want one for namespace /chat", warnings)
	}
}

// In Chromium, a page of another origin connects through CORS with its
// cookie, which forward_headers passes to the backend that accepts it;
// another page's client is refused with the backend's message.
func TestHooksBrowserCrossOrigin(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	backend := startPythonHooks(t, hookSecret)
	block := "cors {\norigin %PAGE%\ncredentials\n}\nnamespace / {\nhooks {\nconnect\nevents order:*\nsecret {env.HOOK_TEST_SECRET}\nforward_headers Cookie\n" + backend.transport + "\n}\n}"
	scenarios := []browserScenario{
		{
			name: "hooks-accept", socketio: block, from: "cross", cookies: true, waitUpgrade: true,
			options: map[string]any{"auth": map[string]string{"token": "good", "user": "carol"}, "withCredentials": true},
			emit:    &emitSpec{Event: "order:place", Args: []any{map[string]string{"for": "carol", "item": "pie"}}},
			check:   all(connected("websocket"), acked(`["placed"]`)),
		},
		{
			name: "hooks-refuse", socketio: block, from: "cross",
			options: map[string]any{"auth": map[string]string{"token": "bad"}},
			check: func(t *testing.T, page string, r browserResult) {
				if r.Outcome != "connect_error" || r.Error != "not authorized" {
					t.Errorf("outcome %q %q, want the backend's connect_error \"not authorized\"", r.Outcome, r.Error)
				}
			},
		},
	}
	results, o, _ := runBrowser(t, scenarios)
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			r, ok := results[s.name]
			if !ok {
				t.Fatal("browser.js reported nothing for this scenario")
			}
			page, _ := o.of(s)
			s.check(t, page, r)
			if t.Failed() {
				t.Logf("what the page saw:\n%s", r)
			}
		})
	}
	var carol *hookBody
	for _, c := range backend.bodies("connect") {
		if strings.Contains(string(c.Handshake.Auth), `"carol"`) {
			carol = &c
		}
	}
	if carol == nil {
		t.Fatalf("the backend got no connect request for the page's client; log:\n%s", backend.dump())
	}
	if got := carol.Handshake.Headers["cookie"]; got != "session=abc" {
		t.Errorf("the backend saw the page's cookie as %q, want session=abc (forward_headers Cookie)", got)
	}
}

// examples/hooks runs as its comments say: backend.py with the secret in
// the environment, and the Caddyfile as shipped (on free ports).
func TestExampleHooks(t *testing.T) {
	const secret = "example-secret-3b9e"
	t.Setenv("SOCKETIO_HOOK_SECRET", secret)
	backendPort, port := freePort(t), freePort(t)
	cmd := exec.Command(testpeer.Python3(t), filepath.Join(testpeer.RepoRoot(), "examples", "hooks", "backend.py"))
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", backendPort))
	var output testpeer.LockedBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting backend.py: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("backend.py output:\n%s", output.String())
		}
	})
	waitOutput := func(text string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(output.String(), text); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("backend.py did not print %q within 10s:\n%s", text, output.String())
			}
		}
	}
	waitOutput("backend listening")

	data, err := os.ReadFile(filepath.Join(testpeer.RepoRoot(), "examples", "hooks", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	caddyfile := string(data)
	for old, new := range map[string]string{"http://:8080": fmt.Sprintf("http://:%d", port), "127.0.0.1:8000": fmt.Sprintf("127.0.0.1:%d", backendPort)} {
		if strings.Count(caddyfile, old) != 1 {
			t.Fatalf("examples/hooks/Caddyfile names %q %d times; this test moves it to a free port by replacing it", old, strings.Count(caddyfile, old))
		}
		caddyfile = strings.Replace(caddyfile, old, new, 1)
	}
	caddy := startCaddyfile(t, caddyfile)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	clients := startHookClients(t,
		hookClientSpec{clientSpec: clientSpec{Name: "ann", Version: "v4", URL: url}, Auth: map[string]string{"name": "ann"}},
		hookClientSpec{clientSpec: clientSpec{Name: "bob", Version: "v2", URL: url, Query: map[string]string{"name": "bob"}}},
		hookClientSpec{clientSpec: clientSpec{Name: "nobody", Version: "v4", URL: url}},
	)
	clients.connected(10*time.Second, "ann", "bob")
	msg, data2 := clients.refused(10*time.Second, "nobody")
	if msg != "name required" {
		t.Errorf("a client without a name was refused with %q, want \"name required\"", msg)
	}
	sameJSON(t, "the refusal's data", data2, `{"hint":"connect with auth: {name}"}`)

	sameJSON(t, "ann's chat:message ack", clients.ack(10*time.Second, "ann", "chat:message", "hello"), `[{"ok":true}]`)
	for _, name := range []string{"ann", "bob"} {
		e := clients.waitFor(10*time.Second, name+" receiving ann's message", func(e clientEvent) bool {
			return e.Name == name && e.Event == "chat:message"
		})
		sameJSON(t, "chat:message at "+name, e.Args, `[{"from":"ann","text":"hello"}]`)
	}
	waitOutput("ann connected")
	clients.send(map[string]any{"cmd": "disconnect", "name": "bob"})
	waitOutput("bob left (client namespace disconnect)")
	if strings.Contains(caddy.logs.String(), secret) {
		t.Errorf("Caddy's logs contain the hook secret")
	}
}

// `caddy stop` closes every socket, and the backend hears each of those
// disconnects before Caddy exits: the queue is flushed, not dropped.
func TestHooksStopNotifiesTheLastDisconnects(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	backend := startPythonHooks(t, hookSecret)
	port := freePort(t)
	caddy := startCaddy(t, hooksSite(port, backend.transport))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	clients := startHookClients(t,
		hookClientSpec{clientSpec: clientSpec{Name: "ann", Version: "v4", URL: url, Namespace: "/chat"}, Auth: map[string]string{"token": "good", "user": "ann"}},
		hookClientSpec{clientSpec: clientSpec{Name: "bob", Version: "v2", URL: url, Namespace: "/chat", Query: map[string]string{"token": "good", "user": "bob"}}},
	)
	clients.connected(10*time.Second, "ann", "bob")
	for _, name := range []string{"ann", "bob"} {
		backend.waitNotification(10*time.Second, name+"'s connect", func(e hookBody) bool { return e.Type == "connect" && userOf(e) == name })
	}
	caddy.stop(20 * time.Second)
	for _, name := range []string{"ann", "bob"} {
		var reasons []string
		for _, e := range backend.notifications() {
			if e.Type == "disconnect" && userOf(e) == name {
				reasons = append(reasons, e.Reason)
			}
		}
		if len(reasons) != 1 || reasons[0] != "server shutting down" {
			t.Errorf("%s's disconnect notifications after caddy stop: %q, want one with reason \"server shutting down\"", name, reasons)
		}
	}
}

// php-fpm not running (its socket is missing): the socket is refused as
// retryable, Caddy keeps serving, and the next client of a live namespace
// is unaffected.
func TestHooksPHPFPMDown(t *testing.T) {
	t.Setenv("HOOK_TEST_SECRET", hookSecret)
	dir := t.TempDir()
	port := freePort(t)
	startCaddy(t, hooksSite(port, fmt.Sprintf("root * %s\n\t\t\t\tphp_fastcgi unix/%s", dir, filepath.Join(dir, "php-fpm.sock"))))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	clients := startHookClients(t,
		hookClientSpec{clientSpec: clientSpec{Name: "ann", Version: "v4", URL: url, Namespace: "/chat"}, Auth: map[string]string{"token": "good", "user": "ann"}},
		hookClientSpec{clientSpec: clientSpec{Name: "plain", Version: "v4", URL: url}},
	)
	clients.connected(10*time.Second, "plain")
	_, data := clients.refused(10*time.Second, "ann")
	retryable(t, "ann (php-fpm down)", data, "unavailable")
}
