package httpapi

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestErrorsNameTheProblem(t *testing.T) {
	f := startFixture(t, Options{Keys: []string{testKey, "old-key-abcdef"}})
	big := `{"event":"e","args":["` + strings.Repeat("x", 1e6) + `"]}`
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code, inMessage          string
	}{
		{"no key", "POST", "/emit", `{"event":"e"}`, []string{"Authorization", ""}, 401, "unauthorized", "Authorization: Bearer"},
		{"wrong key", "POST", "/emit", `{"event":"e"}`, []string{"Authorization", "Bearer nope"}, 401, "unauthorized", "not one of"},
		{"not bearer", "GET", "/rooms", ``, []string{"Authorization", "Basic " + testKey}, 401, "unauthorized", "Bearer"},
		{"key in the query by name", "GET", "/rooms?api_key=whatever", ``, nil, 400, "invalid_request", "must not travel in the URL"},
		{"a configured key in any parameter", "GET", "/rooms?namespace=" + testKey, ``, nil, 400, "invalid_request", "holds an API key"},
		{"bad JSON", "POST", "/emit", `{"event":`, nil, 400, "invalid_request", "body"},
		{"empty body", "POST", "/emit", ``, nil, 400, "invalid_request", "body: empty"},
		{"unknown field (a typo)", "POST", "/emit", `{"event":"e","room":"r1"}`, nil, 400, "invalid_request", `room: unknown field`},
		{"wrong type", "POST", "/emit", `{"event":"e","rooms":"r1"}`, nil, 400, "invalid_request", "rooms: is a JSON string; want an array"},
		{"wrong type of args", "POST", "/emit", `{"event":"e","args":{"a":1}}`, nil, 400, "invalid_request", "args: is a JSON object; want an array"},
		{"missing event", "POST", "/emit", `{"args":[1]}`, nil, 400, "invalid_request", "event: missing"},
		{"reserved event", "POST", "/emit", `{"event":"disconnect"}`, nil, 400, "invalid_request", "reserved"},
		{"bad base64", "POST", "/emit", `{"event":"e","args":[{"a":{"_binary":"%%"}}]}`, nil, 400, "invalid_request", "args[0].a._binary: not base64"},
		{"ack timeout out of range", "POST", "/emit", `{"event":"e","ack_timeout_ms":0}`, nil, 400, "invalid_request", "ack_timeout_ms: 0 is out of range"},
		{"join without rooms to join", "POST", "/sockets/join", `{"rooms":["a"]}`, nil, 400, "invalid_request", "join: missing"},
		{"leave with an empty room", "POST", "/sockets/leave", `{"leave":["a",""]}`, nil, 400, "invalid_request", "leave[1]: empty"},
		{"unknown namespace", "POST", "/emit", `{"event":"e","namespace":"/nope"}`, nil, 404, "unknown_namespace", `"/nope" does not exist`},
		{"unknown namespace on a GET", "GET", "/sockets?namespace=/nope", ``, nil, 404, "unknown_namespace", `"/nope"`},
		{"unknown query parameter", "GET", "/sockets/count?rooms=a", ``, nil, 400, "invalid_request", "rooms: unknown query parameter"},
		{"bad limit", "GET", "/sockets?limit=0", ``, nil, 400, "invalid_request", "limit"},
		{"bad cursor", "GET", "/sockets?cursor=zzz", ``, nil, 400, "invalid_request", "cursor"},
		{"unknown path", "GET", "/api/emit", ``, nil, 404, "not_found", "handle_path"},
		{"wrong method", "GET", "/emit", ``, nil, 405, "method_not_allowed", "takes POST"},
		{"over max_payload", "POST", "/emit", big, nil, 413, "body_too_large", "limit is 1000000"},
		{"idempotency key too long", "POST", "/emit", `{"event":"e"}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "invalid_request", "Idempotency-Key"},
		{"binary in a server-side emit", "POST", "/server-side-emit", `{"event":"e","args":[1,{"a":[{"_binary":"AA=="}]}]}`, nil, 400, "invalid_request", "args[1]: a server-side emit cannot carry binary"},
		{"batch in a batch", "POST", "/batch", `{"requests":[{"path":"/batch","body":{}}]}`, nil, 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := f.call(t, tc.method, tc.path, tc.body, tc.headers...)
			if a.status != tc.status {
				t.Fatalf("answered %d %s, want %d", a.status, a.body, tc.status)
			}
			if tc.code == "" {
				return
			}
			if code := a.errorCode(t); code != tc.code || !strings.Contains(a.message(t), tc.inMessage) {
				t.Errorf("answered %s; want code %q and a message with %q", a.body, tc.code, tc.inMessage)
			}
			if tc.status == 401 && a.header.Get("WWW-Authenticate") != `Bearer realm="socketio_api"` {
				t.Errorf("401 with WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
			if tc.status == 405 && a.header.Get("Allow") != "POST" {
				t.Errorf("405 with Allow %q", a.header.Get("Allow"))
			}
		})
	}
	if a := f.call(t, "GET", "/rooms", "", "Authorization", "Bearer old-key-abcdef"); a.status != 200 {
		t.Errorf("the second key (a rotation) got %d %s", a.status, a.body)
	}
}

func TestUnknownServerIs404(t *testing.T) {
	h := New(func() (Target, error) { return Target{}, errNoServer }, Options{})
	f := &fixture{}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", h))
	f.URL = serve(t, mux)
	a := f.call(t, "GET", "/rooms", "")
	if a.status != 404 || a.errorCode(t) != "unknown_server" || a.message(t) != errNoServer.Error() {
		t.Errorf("answered %d %s", a.status, a.body)
	}
}

func TestIdempotentRetriesDoNothingAgain(t *testing.T) {
	now := time.Unix(1e9, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := startFixture(t, Options{Now: clock})
	c := startClients(t, f.URL, "a4:v4,b2:v2")
	body := `{"event":"once","args":[1]}`
	first := f.call(t, "POST", "/emit", body, "Idempotency-Key", "k1")
	again := f.call(t, "POST", "/emit", body, "Idempotency-Key", "k1")
	if first.status != 202 || again.status != first.status || again.body != first.body {
		t.Errorf("first %d %s, retry %d %s; want the same 202", first.status, first.body, again.status, again.body)
	}
	other := f.call(t, "POST", "/emit", `{"event":"once","args":[2]}`, "Idempotency-Key", "k1")
	if other.status != 409 || other.errorCode(t) != "idempotency_key_reused" {
		t.Errorf("another body with the same key: %d %s, want 409", other.status, other.body)
	}
	// The same key on another path, or with another API key, is another request.
	f.call(t, "POST", "/sockets/join", `{"join":["r"]}`, "Idempotency-Key", "k1")
	f.marker(t, c, "a4", "b2")
	for _, n := range []string{"a4", "b2"} {
		if got := c.count("event " + n + " once [1]"); got != 1 {
			t.Errorf("%s received the emit %d times, want once", n, got)
		}
	}
	mu.Lock()
	now = now.Add(5*time.Minute + time.Second)
	mu.Unlock()
	if a := f.call(t, "POST", "/emit", `{"event":"once","args":[2]}`, "Idempotency-Key", "k1"); a.status != 202 {
		t.Errorf("the key after 5 minutes: %d %s, want 202 (a new request)", a.status, a.body)
	}
	c.wait(t, "event a4 once [2]")
}

func TestAcksAreKeptForARetry(t *testing.T) {
	f := startFixture(t, Options{})
	c := startClients(t, f.URL, "a4:v4")
	body := `{"event":"ask","args":["x"],"ack_timeout_ms":5000}`
	first := f.call(t, "POST", "/emit", body, "Idempotency-Key", "ask-1")
	again := f.call(t, "POST", "/emit", body, "Idempotency-Key", "ask-1")
	if first.status != 200 || again.body != first.body {
		t.Errorf("first %d %s, retry %s", first.status, first.body, again.body)
	}
	f.marker(t, c, "a4")
	if n := c.count(`event a4 ask ["x"]`); n != 1 {
		t.Errorf("asked %d times, want once", n)
	}
}

func TestTooManyRequestsAtOnceIs429(t *testing.T) {
	f := startFixture(t, Options{MaxInFlight: 1})
	c := startClients(t, f.URL, "mute4:v4")
	held := make(chan answer)
	go func() { held <- f.call(t, "POST", "/emit", `{"event":"ask","ack_timeout_ms":3000}`) }()
	c.wait(t, "event mute4 ask []") // the first request holds the only slot now
	a := f.call(t, "GET", "/rooms", "")
	if a.status != 429 || a.errorCode(t) != "overloaded" || a.header.Get("Retry-After") == "" {
		t.Errorf("second request answered %d %s (Retry-After %q), want 429 with Retry-After", a.status, a.body, a.header.Get("Retry-After"))
	}
	if first := <-held; first.status != 200 {
		t.Errorf("the first request answered %d %s", first.status, first.body)
	}
	if a := f.call(t, "GET", "/rooms", ""); a.status != 200 {
		t.Errorf("after the slot was freed: %d %s", a.status, a.body)
	}
}

func TestWithoutKeysEveryRequestIsAccepted(t *testing.T) {
	f := startFixture(t, Options{Keys: []string{}})
	if a := f.call(t, "GET", "/sockets/count", "", "Authorization", ""); a.status != 200 || a.body != `{"count":0}` {
		t.Errorf("answered %d %s", a.status, a.body)
	}
}
