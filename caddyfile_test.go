package caddysocketio

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// parse runs the directive's parser on a Caddyfile fragment, as the
// httpcaddyfile adapter does (the file is called "Testfile").
func parse(t *testing.T, input string) (*Handler, error) {
	t.Helper()
	h := new(Handler)
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return h, err
}

func TestCaddyfileOptions(t *testing.T) {
	for _, c := range []struct {
		name, input, want string
	}{
		{"bare directive", `socketio`, `{}`},
		{"empty block", "socketio {\n}", `{}`},
		{"name and path", "socketio {\n name chat\n path /chat/\n}", `{"name":"chat","path":"/chat/"}`},
		{"transports", "socketio {\n transports websocket polling\n}", `{"transports":["websocket","polling"]}`},
		{"allow_upgrades off", "socketio {\n allow_upgrades off\n}", `{"allow_upgrades":false}`},
		{"allow_upgrades true", "socketio {\n allow_upgrades true\n}", `{"allow_upgrades":true}`},
		{"allow_eio3", "socketio {\n allow_eio3\n}", `{"allow_eio3":true}`},
		{"timeouts", "socketio {\n ping_interval 10s\n ping_timeout 5s\n upgrade_timeout 2s\n connect_timeout 1m\n}",
			`{"ping_interval":10000000000,"ping_timeout":5000000000,"upgrade_timeout":2000000000,"connect_timeout":60000000000}`},
		{"max_payload in MB", "socketio {\n max_payload 1MB\n}", `{"max_payload":1000000}`},
		{"max_payload in KiB", "socketio {\n max_payload 100KiB\n}", `{"max_payload":102400}`},
		{"max_http_buffer_size is max_payload", "socketio {\n max_http_buffer_size 5000\n}", `{"max_payload":5000}`},
		{"http_compression off", "socketio {\n http_compression off\n}", `{"http_compression":{"disabled":true}}`},
		{"http_compression threshold", "socketio {\n http_compression 2KB\n}", `{"http_compression":{"threshold":2000}}`},
		{"per_message_deflate", "socketio {\n per_message_deflate\n}", `{"per_message_deflate":true}`},
		{"cookie with defaults", "socketio {\n cookie\n}", `{"cookie":{}}`},
		{"cookie with every option", "socketio {\n cookie sid {\n  path /app\n  http_only off\n  same_site none\n  secure\n  max_age 1h\n }\n}",
			`{"cookie":{"name":"sid","path":"/app","http_only":false,"same_site":"none","secure":true,"max_age":3600000000000}}`},
		{"cookie http_only flag", "socketio {\n cookie io {\n  http_only\n }\n}", `{"cookie":{"name":"io","http_only":true}}`},
		{"cors with every option", "socketio {\n cors {\n  origin https://a.example https://*.b.example\n  origin http://localhost:3000\n  origin_regexp https://[a-z]+\\.c\\.example\n  methods GET POST\n  allowed_headers my-custom-header\n  exposed_headers X-Trace-Id\n  credentials\n  max_age 10m\n  preflight_continue\n  options_success_status 200\n }\n}",
			`{"cors":{"origins":["https://a.example","https://*.b.example","http://localhost:3000"],"origin_regexps":["https://[a-z]+\\.c\\.example"],"methods":["GET","POST"],"allowed_headers":["my-custom-header"],"exposed_headers":["X-Trace-Id"],"credentials":true,"max_age":600000000000,"preflight_continue":true,"options_success_status":200}}`},
		{"cors origin *", "socketio {\n cors {\n  origin *\n }\n}", `{"cors":{"origins":["*"]}}`},
		{"cors max_age 0", "socketio {\n cors {\n  origin *\n  max_age 0\n }\n}", `{"cors":{"origins":["*"],"max_age":0}}`},
		{"disable_origin_check", "socketio {\n disable_origin_check\n}", `{"disable_origin_check":true}`},
		{"allow_request block", "socketio {\n allow_request {\n  header !Origin\n }\n}", `{"allow_request":{"header":{"Origin":null}}}`},
		{"allow_request inline", "socketio {\n allow_request header !Origin\n}", `{"allow_request":{"header":{"Origin":null}}}`},
		{"allow_request two matchers", "socketio {\n allow_request {\n  remote_ip 10.0.0.0/8\n  query token=*\n }\n}", `{"allow_request":{"query":{"token":["*"]},"remote_ip":{"ranges":["10.0.0.0/8"]}}}`},
		{"redis adapter", "socketio {\n adapter redis 10.0.0.1:6379 {\n  key_prefix myapp\n }\n path /rt/\n}",
			`{"path":"/rt/","adapter":{"adapter":"redis","addresses":["10.0.0.1:6379"],"key_prefix":"myapp"}}`},
		{"namespaces", "socketio {\n namespace chat {\n  relay message typing\n  join lobby room-{query.room}\n  join user-{auth.user} {header.X-Team}\n }\n namespace /admin\n namespace /all {\n  relay\n }\n}",
			`{"namespaces":[{"name":"/chat","relay":{"events":["message","typing"]},"join":["lobby","room-{query.room}","user-{auth.user}","{header.X-Team}"]},{"name":"/admin"},{"name":"/all","relay":{}}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := parse(t, c.input)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("JSON\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestCaddyfileErrors(t *testing.T) {
	for _, c := range []struct {
		input string
		line  int // the line the error points at
		want  string
	}{
		{"socketio /ws/", 1, `unexpected argument "/ws/": socketio takes only a matcher`},
		{"socketio {\n pth /x/\n}", 2, `unknown subdirective "pth" of socketio`},
		{"socketio {\n path /a/\n path /b/\n}", 3, `path is set twice`},
		{"socketio {\n path\n}", 2, `path needs a value`},
		{"socketio {\n path a b\n}", 2, `path takes one value, got another: "b"`},
		{"socketio {\n path socket.io\n}", 2, `path "socket.io" must start with /`},
		{"socketio {\n name\n}", 2, `name needs a value`},
		{"socketio {\n transports\n}", 2, `transports needs at least one value`},
		{"socketio {\n transports polling xhr\n}", 2, `transport "xhr" is not one of polling, websocket`},
		{"socketio {\n transports polling polling\n}", 2, `transport polling is listed twice`},
		{"socketio {\n allow_upgrades maybe\n}", 2, `allow_upgrades "maybe": use on or off`},
		{"socketio {\n allow_eio3 yes\n}", 2, `allow_eio3 takes no value, got "yes"`},
		{"socketio {\n allow_eio3 {\n  x\n }\n}", 3, `allow_eio3 takes no block`},
		{"socketio {\n ping_interval 25\n}", 2, `ping_interval "25" is not a duration (such as 25s or 1m30s)`},
		{"socketio {\n ping_timeout 0s\n}", 2, `ping_timeout "0s" must be positive`},
		{"socketio {\n upgrade_timeout -1s\n}", 2, `upgrade_timeout "-1s" must be positive`},
		{"socketio {\n connect_timeout\n}", 2, `connect_timeout needs a value`},
		{"socketio {\n max_payload lots\n}", 2, `max_payload "lots" is not a size in bytes (such as 1MB, 100KiB or 1000000)`},
		{"socketio {\n max_payload 0\n}", 2, `max_payload "0" is not a size in bytes`},
		{"socketio {\n max_payload 1MB\n max_http_buffer_size 1MB\n}", 3, `max_payload and max_http_buffer_size are the same option; keep one`},
		{"socketio {\n http_compression on\n}", 2, `http_compression "on": use off, or the threshold size`},
		{"socketio {\n per_message_deflate on\n}", 2, `per_message_deflate takes no value`},
		{"socketio {\n cookie a b\n}", 2, `cookie takes at most a name`},
		{"socketio {\n cookie {\n  domain x\n }\n}", 3, `unknown cookie subdirective "domain"`},
		{"socketio {\n cookie {\n  secure\n  secure\n }\n}", 4, `cookie secure is set twice`},
		{"socketio {\n cookie {\n  same_site none\n }\n}", 2, `same_site none needs secure`},
		{"socketio {\n cookie {\n  same_site loose\n }\n}", 2, `cookie same_site "loose" is not one of lax, strict, none`},
		{"socketio {\n cookie {\n  path app\n }\n}", 2, `cookie path "app" must start with /`},
		{"socketio {\n cookie {\n  http_only maybe\n }\n}", 3, `http_only "maybe": use on or off`},
		{"socketio {\n cookie a;b\n}", 2, `cookie name "a;b" cannot be used`},
		{"socketio {\n cookie {\n  max_age 1.5s\n }\n}", 2, `cookie max_age 1.5s must be a positive whole number of seconds`},
		{"socketio {\n cors https://a.example\n}", 2, `cors takes no argument, got "https://a.example"; write the origins inside its block`},
		{"socketio {\n cors {\n }\n}", 2, `no origin is allowed`},
		{"socketio {\n cors {\n  origin * \n  credentials\n }\n}", 2, `cors: origin "*" cannot be combined with credentials; list the allowed origins instead`},
		{"socketio {\n cors {\n  origin *\n  credentials\n }\n}", 2, `cors: origin "*" cannot be combined with credentials`},
		{"socketio {\n cors {\n  origins https://a.example\n }\n}", 3, `unknown cors subdirective "origins"`},
		{"socketio {\n cors {\n  origin\n }\n}", 3, `origin needs at least one value`},
		{"socketio {\n cors {\n  origin https://a.example\n  origin https://a.example\n }\n}", 4, `cors origin https://a.example is listed twice`},
		{"socketio {\n cors {\n  origin https://a.example/\n }\n}", 2, `origin "https://a.example/" has more than scheme://host[:port]; browsers send "https://a.example"`},
		{"socketio {\n cors {\n  origin null\n }\n}", 2, `origin "null" is never allowed`},
		{"socketio {\n cors {\n  origin_regexp (\n }\n}", 2, `origin_regexp "(" is not a valid regular expression`},
		{"socketio {\n cors {\n  origin *\n  methods GET\n  methods POST\n }\n}", 5, `cors methods is set twice`},
		{"socketio {\n cors {\n  origin *\n  credentials yes\n }\n}", 4, `credentials takes no value, got "yes"`},
		{"socketio {\n cors {\n  origin *\n  max_age forever\n }\n}", 4, `cors max_age "forever" is not a duration`},
		{"socketio {\n cors {\n  origin *\n  max_age 1500ms\n }\n}", 2, `max_age 1.5s must be zero or a whole number of seconds`},
		{"socketio {\n cors {\n  origin *\n  options_success_status ok\n }\n}", 4, `cors options_success_status "ok" is not a status code`},
		{"socketio {\n cors {\n  origin *\n  options_success_status 302\n }\n}", 2, `options_success_status 302 is not a 2xx status`},
		{"socketio {\n cors {\n  origin *\n }\n cors {\n  origin *\n }\n}", 5, `cors is set twice`},
		{"socketio {\n disable_origin_check please\n}", 2, `disable_origin_check takes no value`},
		{"socketio {\n allow_request {\n }\n}", 2, `allow_request needs at least one matcher, such as: header !Origin`},
		{"socketio {\n allow_request {\n  hedaer !Origin\n }\n}", 4, `getting matcher module 'hedaer'`},
		{"socketio {\n adapter\n}", 2, `adapter needs a name, such as: adapter redis`},
		{"socketio {\n adapter mongo\n}", 2, `getting module named 'socketio.adapters.mongo'`},
		{"socketio {\n adapter redis {\n  adress x\n }\n}", 3, `redis adapter: unknown option "adress"`},
		{"socketio {\n namespace\n}", 2, `namespace needs a name`},
		{"socketio {\n namespace a b\n}", 2, `namespace takes one name, got another: "b"`},
		{"socketio {\n namespace chat\n namespace /chat\n}", 3, `namespace "/chat" is declared twice; merge the two blocks`},
		{"socketio {\n namespace chat {\n  broadcast\n }\n}", 3, `unknown namespace subdirective "broadcast" (expected relay, join, hooks or max_events_per_second)`},
		{"socketio {\n namespace chat {\n  relay a\n  relay b\n }\n}", 4, `relay is set twice in namespace /chat`},
		{"socketio {\n namespace chat {\n  join\n }\n}", 3, `join needs at least one value`},
		{"socketio {\n namespace chat {\n  join room-{query.room\n }\n}", 3, `namespace /chat: join: room "room-{query.room" has a '{' without '}'`},
		{"socketio {\n namespace chat {\n  join {http.request.host}\n }\n}", 3, `placeholder {http.request.host} is not one of {query.<key>}, {header.<Name>}, {auth.<key>}`},
		{"socketio {\n namespace chat {\n  join {query}\n }\n}", 3, `placeholder {query} is not one of`},
		{"socketio {\n namespace chat {\n  join a}b\n }\n}", 3, `has a '}' without '{'`},
	} {
		_, err := parse(t, c.input)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got error %v\nwant one containing %q", c.input, err, c.want)
			continue
		}
		if at := fmt.Sprintf(", at Testfile:%d", c.line); !strings.HasSuffix(err.Error(), at) {
			t.Errorf("%q: error %q does not end with %q", c.input, err, at)
		}
	}
}

// FuzzCaddyfile feeds the directive's parser arbitrary blocks: it must
// return an error or a handler whose checks pass, and never panic.
func FuzzCaddyfile(f *testing.F) {
	for _, seed := range []string{
		"socketio {\n cors {\n  origin https://a.example https://*.b.example\n  credentials\n  max_age 0\n }\n}",
		"socketio {\n cookie io {\n  same_site none\n  secure\n }\n namespace chat {\n  relay\n  join room-{query.room}\n }\n}",
		"socketio {\n allow_request header !Origin\n transports websocket\n max_payload 1MB\n}",
		"socketio {\n namespace {\n}\n}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := caddyfile.Tokenize([]byte(input), "Fuzzfile")
		if err != nil || len(tokens) == 0 || tokens[0].Text != "socketio" {
			return
		}
		h := new(Handler)
		if err := h.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens)); err != nil {
			return
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("parsed %q into a handler that Validate refuses: %v", input, err)
		}
		if _, err := json.Marshal(h); err != nil {
			t.Fatalf("parsed %q into a handler that does not marshal: %v", input, err)
		}
	})
}
