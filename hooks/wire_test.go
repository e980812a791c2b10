package hooks

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/engine"
	"github.com/caddy-socketio/caddy-socketio/socketio"
)

func TestSignatureOnePerSecretFirstFirst(t *testing.T) {
	at := time.Unix(1767225600, 0)
	body := []byte(`{"id":"x"}`)
	got := sign([][]byte{[]byte("k1"), []byte("k2")}, at, body)
	parts := strings.Split(got, ",")
	if len(parts) != 3 || parts[0] != "t=1767225600" || !strings.HasPrefix(parts[1], "v1=") || !strings.HasPrefix(parts[2], "v1=") {
		t.Fatalf("header %q, want t=1767225600,v1=..,v1=..", got)
	}
	if parts[1] == parts[2] {
		t.Error("both secrets gave the same signature")
	}
	for _, secrets := range [][]string{{"k1"}, {"k2"}, {"other", "k2"}} {
		if err := Verify(got, body, secrets, 0); err != nil {
			t.Errorf("Verify with %v: %v", secrets, err)
		}
	}
	if err := Verify(got, body, []string{"wrong"}, 0); err == nil {
		t.Error("a wrong secret verified")
	}
	if err := Verify(got, []byte(`{"id":"y"}`), []string{"k1"}, 0); err == nil {
		t.Error("an altered body verified")
	}
	if err := Verify(got, body, []string{"k1"}, 5*time.Minute); err == nil || !strings.Contains(err.Error(), "tolerance") {
		t.Errorf("an old signature verified within 5 minutes: %v", err)
	}
	fresh := sign([][]byte{[]byte("k1")}, time.Now(), body)
	if err := Verify(fresh, body, []string{"k1"}, 5*time.Minute); err != nil {
		t.Errorf("a fresh signature: %v", err)
	}
	for _, bad := range []string{"", "v1=00", "t=abc,v1=00", "t=1767225600"} {
		if Verify(bad, body, []string{"k1"}, 0) == nil {
			t.Errorf("header %q verified", bad)
		}
	}
}

// The HMAC matches one computed elsewhere (openssl), so that a PHP or
// Python backend verifying with its own library agrees.
const opensslK1 = "643cedd939299c9b1c0e6ac64d3741175680e288fca4fe1c8cc800e1b93dab47"

func TestSignatureMatchesOpenSSL(t *testing.T) {
	// printf '%s' '1767225600.{"id":"x"}' | openssl dgst -sha256 -hmac k1
	const want = "t=1767225600,v1=" + opensslK1
	if got := sign([][]byte{[]byte("k1")}, time.Unix(1767225600, 0), []byte(`{"id":"x"}`)); got != want {
		t.Errorf("sign = %q, want %q", got, want)
	}
}

func TestValidateSaysWhatToFix(t *testing.T) {
	good := Config{Transport: http.DefaultTransport, URL: "http://127.0.0.1:8000/socketio", Connect: true}
	if err := good.Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"no transport", func(c *Config) { c.Transport = nil }, "no transport"},
		{"no URL", func(c *Config) { c.URL = "" }, "no URL"},
		{"relative URL", func(c *Config) { c.URL = "/socketio" }, "not an absolute http(s) URL"},
		{"bad glob", func(c *Config) { c.Events = []string{"chat:["} }, `event glob "chat:[" is malformed`},
		{"unknown notify", func(c *Config) { c.Notify = []string{"conect"} }, `unknown notify type "conect"; use any of connect, disconnect, join, leave`},
		{"empty secret", func(c *Config) { c.Secrets = []string{"a", ""} }, "secret 2 of 2 is empty"},
		{"reserved header", func(c *Config) { c.ForwardHeaders = []string{"content-type"} }, "Content-Type is set by the hooks"},
		{"nothing to do", func(c *Config) { c.Connect = false }, "nothing to do"},
	}
	for _, tc := range cases {
		c := good
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	c := good
	c.Secrets = []string{"s3cr3t-value", ""}
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("the error names a secret: %v", err)
	}
}

func TestMatchesEventGlobs(t *testing.T) {
	c := Config{Events: []string{"order:place", "chat:*"}}
	for name, want := range map[string]bool{"order:place": true, "chat:x": true, "chat:": true, "order:cancel": false, "chat": false} {
		if c.MatchesEvent(name) != want {
			t.Errorf("MatchesEvent(%q) = %v", name, !want)
		}
	}
	srv := socketio.NewServer(engine.NewServer(engine.Options{}), socketio.Options{})
	r := Attach(srv.Of("/x")).compile(&c)
	for name, want := range map[string]bool{"order:place": true, "chat:x": true, "order:cancel": false} {
		if r.matches(name) != want {
			t.Errorf("runner.matches(%q) = %v", name, !want)
		}
	}
}

func TestArgsToContractAndBack(t *testing.T) {
	a, err := socketio.NewArgs("s", json.RawMessage(`12345678901234567890`), []byte{1, 2}, map[string]any{"k": []any{[]byte{3}}})
	if err != nil {
		t.Fatal(err)
	}
	raws, err := argsJSON(a)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(raws)
	if string(got) != `["s",12345678901234567890,{"_binary":"AQI="},{"k":[{"_binary":"Aw=="}]}]` {
		t.Errorf("args %s", got)
	}
	back, err := answerArgs(raws)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := socketio.NewArgs(back...)
	if err != nil {
		t.Fatal(err)
	}
	if len(a2.Attachments) != 2 || string(a2.JSON[1]) != "12345678901234567890" {
		t.Errorf("back to Args: %q with %d attachments", a2.JSON, len(a2.Attachments))
	}
}

func TestBadAnswersAreErrorsNamingTheProblem(t *testing.T) {
	for answer, want := range map[string]string{
		`not json`:                             "not a JSON object",
		`[1]`:                                  "not a JSON object",
		`{"accept": "yes"}`:                    "not valid",
		`{}`:                                   `no "accept"`,
		`{"accept": true, "rooms": [""]}`:      "empty room",
		`{"accept": true, "rooms": "r"}`:       "not valid",
		`{"accept": true} trailing`:            "not valid",
		`{"accept": true, "data": {"a": 1}} x`: "not valid",
	} {
		if _, err := decodeConnectAnswer([]byte(answer)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("connect answer %s: %v, want %q", answer, err, want)
		}
	}
	for answer, want := range map[string]string{
		`{"ack": 5}`:                                           "not valid",
		`{"ack": [{"_binary": 5}]}`:                            "base64 string",
		`{"ack": [{"_binary": "%%"}]}`:                         "base64",
		`{"emit": [{"event": ""}]}`:                            "empty or reserved",
		`{"emit": [{"event": "connect"}]}`:                     "empty or reserved",
		`{"emit": [{"event": "e", "to": [""]}]}`:               "empty room",
		`{"emit": [{"event": "e", "args": [{"_binary": 1}]}]}`: "base64 string",
		`{"join": "r"}`:                                        "not valid",
		`{"disconnect": "yes"}`:                                "not valid",
	} {
		if _, err := decodeEventAnswer([]byte(answer)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("event answer %s: %v, want %q", answer, err, want)
		}
	}
}

// Any bytes give a connect answer or an error, never a panic, and an
// accepted answer's parts are usable as they are applied.
func FuzzConnectAnswer(f *testing.F) {
	for _, s := range []string{
		`{"accept":true,"data":{"user":1},"rooms":["a","b"],"meta":{"s":1}}`,
		`{"accept":false,"message":"no","data":{"reason":"x"}}`,
		`{"accept":null}`, `[]`, `null`, `{"accept":true,"rooms":[""]}`, "\x00", `{"accept":true,"data":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeConnectAnswer(b)
		if err != nil {
			return
		}
		if a.Accept == nil {
			t.Fatal("accepted an answer without accept")
		}
		for _, r := range a.Rooms {
			if r == "" {
				t.Fatal("an empty room passed")
			}
		}
		if len(a.Data) > 0 && !json.Valid(a.Data) {
			t.Fatalf("data %q is not JSON", a.Data)
		}
	})
}

// Any bytes give an event answer or an error, never a panic; the ack and
// emit arguments of an answer that passes encode as Socket.IO arguments.
func FuzzEventAnswer(f *testing.F) {
	for _, s := range []string{
		`{"ack":["ok",{"_binary":"aGk="}],"emit":[{"event":"e","args":[1,{"x":{"_binary":""}}],"to":["r"],"except":["q"]}],"join":["a"],"leave":["b"],"data":{"n":1},"meta":{"m":2},"disconnect":true}`,
		`{"ack":[]}`, `{}`, `{"ack":[{"_binary":"!!"}]}`, `{"ack":[{"_binary":"AA==","x":1}]}`, `{"emit":[{"event":"connect"}]}`,
		`{"ack":[1e400]}`, `{"ack":[[[[[[{"_binary":"AA=="}]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeEventAnswer(b)
		if err != nil {
			return
		}
		if _, err := socketio.NewArgs(a.ackArgs...); err != nil {
			t.Fatalf("ack %s passed but does not encode: %v", b, err)
		}
		for _, e := range a.Emit {
			if _, err := socketio.NewArgs(e.args...); err != nil {
				t.Fatalf("emit args %s passed but do not encode: %v", b, err)
			}
		}
	})
}
