package integration_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// The scenarios of the Socket.IO "Handling CORS" guide (v4, and v2 for the
// legacy client), each written as Caddyfile and run in headless Chromium
// from a page on another origin. A refused scenario asserts the exact
// error the guide's troubleshooting section shows, as Chromium words it.
func TestHandlingCORSGuideInChromium(t *testing.T) {
	scenarios := []browserScenario{
		{
			name:  "no-cors",
			from:  "cross",
			check: blocked("No 'Access-Control-Allow-Origin' header is present on the requested resource."),
		},
		{
			name:        "no-cors-same-origin",
			from:        "same",
			waitUpgrade: true,
			check:       connected("websocket"),
		},
		{
			name:        "origin-match",
			socketio:    "cors {\norigin %PAGE%\n}\nnamespace / {\nrelay\n}",
			from:        "cross",
			waitUpgrade: true,
			emit:        &emitSpec{Event: "hello", Args: []any{"from the page"}},
			check: all(connected("websocket"), acked("[]"), func(t *testing.T, page string, r browserResult) {
				handshake := r.response(t, "GET", "transport=polling")
				if got := handshake.Headers["access-control-allow-origin"]; got != page {
					t.Errorf("Access-Control-Allow-Origin = %q, want the page's origin %q", got, page)
				}
				if got := handshake.Headers["vary"]; !strings.Contains(got, "Origin") {
					t.Errorf("Vary = %q, want it to name Origin", got)
				}
			}),
		},
		{
			// A single origin is sent as is, as npm cors does with a
			// string; the browser compares it with its own.
			name:     "origin-mismatch",
			socketio: "cors {\norigin https://example.com\n}",
			from:     "cross",
			check:    blocked("The 'Access-Control-Allow-Origin' header has a value 'https://example.com' that is not equal to the supplied origin."),
		},
		{
			name:        "origin-list",
			socketio:    "cors {\norigin https://example.com %IP_PAGE%\n}",
			from:        "cross",
			waitUpgrade: true,
			check:       connected("websocket"),
		},
		{
			name:     "origin-list-other-origin",
			socketio: "cors {\norigin https://example.com %IP_PAGE%\n}",
			from:     "localhost",
			check:    blocked("No 'Access-Control-Allow-Origin' header is present on the requested resource."),
		},
		{
			// The guide's withCredentials example: the browser sends its
			// cookie for the server's origin (allow_request only lets the
			// handshake in when it carries it), and keeps the engine.io
			// cookie the server sets.
			name:        "credentials",
			socketio:    "cors {\norigin %PAGE%\ncredentials\n}\ncookie io\nallow_request {\nheader Cookie *session=abc*\n}",
			from:        "cross",
			options:     map[string]any{"withCredentials": true},
			cookies:     true,
			waitUpgrade: true,
			check: all(connected("websocket"), func(t *testing.T, page string, r browserResult) {
				handshake := r.response(t, "GET", "transport=polling")
				if got := handshake.Headers["access-control-allow-credentials"]; got != "true" {
					t.Errorf("Access-Control-Allow-Credentials = %q, want true", got)
				}
				next := r.response(t, "", "sid=")
				u, err := url.Parse(next.URL)
				if err != nil {
					t.Fatal(err)
				}
				sid := u.Query().Get("sid")
				if got := next.RequestHeaders["cookie"]; !strings.Contains(got, "io="+sid) || !strings.Contains(got, "session=abc") {
					t.Errorf("the browser sent Cookie %q after the handshake; want session=abc and io=%s", got, sid)
				}
			}),
		},
		{
			// Same endpoint without withCredentials: the browser sends no
			// cookie, allow_request refuses the handshake, and since the
			// 403 carries the CORS headers the client sees its status.
			name:     "credentials-not-sent",
			socketio: "cors {\norigin %PAGE%\ncredentials\n}\nallow_request {\nheader Cookie *session=abc*\n}",
			from:     "cross",
			cookies:  true,
			check:    refusedWithStatus(403),
		},
		{
			name:     "credentials-missing-on-server",
			socketio: "cors {\norigin %PAGE%\n}",
			from:     "cross",
			options:  map[string]any{"withCredentials": true},
			check:    blocked("The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true' when the request's credentials mode is 'include'."),
		},
		{
			name:        "wildcard",
			socketio:    "cors {\norigin *\n}",
			from:        "cross",
			waitUpgrade: true,
			check: all(connected("websocket"), func(t *testing.T, page string, r browserResult) {
				if got := r.response(t, "GET", "transport=polling").Headers["access-control-allow-origin"]; got != "*" {
					t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
				}
			}),
		},
		{
			name:     "wildcard-with-credentials-client",
			socketio: "cors {\norigin *\n}",
			from:     "cross",
			options:  map[string]any{"withCredentials": true},
			check:    blocked("The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'."),
		},
		{
			// The guide's example with an additional header: allow_request
			// only lets the handshake in when the header arrived.
			name:        "custom-header",
			socketio:    "cors {\norigin %PAGE%\nallowed_headers my-custom-header\ncredentials\n}\nallow_request {\nheader My-Custom-Header abcd\n}",
			from:        "cross",
			options:     map[string]any{"withCredentials": true, "extraHeaders": map[string]string{"my-custom-header": "abcd"}},
			waitUpgrade: true,
			check:       connected("websocket"),
		},
		{
			name:     "custom-header-not-allowed",
			socketio: "cors {\norigin %PAGE%\nallowed_headers other-header\n}",
			from:     "cross",
			options:  map[string]any{"extraHeaders": map[string]string{"my-custom-header": "abcd"}},
			check:    blocked("Request header field my-custom-header is not allowed by Access-Control-Allow-Headers in preflight response."),
		},
		{
			// The guide's "disallow all cross-origin requests": a
			// same-origin polling handshake carries no Origin.
			name:        "allow-request-same-origin",
			socketio:    "allow_request {\nheader !Origin\n}",
			from:        "same",
			waitUpgrade: true,
			check:       connected("websocket"),
		},
		{
			name:     "allow-request-cross-origin",
			socketio: "cors {\norigin %PAGE%\n}\nallow_request {\nheader !Origin\n}",
			from:     "cross",
			check:    refusedWithStatus(403),
		},
		{
			// README's list recipe: a wildcard subdomain pattern and a
			// regexp that must match the whole origin.
			name:        "origin-wildcard-subdomain",
			socketio:    "cors {\norigin http://*.example.test:%PAGE_PORT%\n}",
			from:        "app.example.test",
			waitUpgrade: true,
			check:       connected("websocket"),
		},
		{
			name:        "origin-regexp",
			socketio:    "cors {\norigin_regexp http://pr-[0-9]+\\.example\\.test:%PAGE_PORT%\n}",
			from:        "pr-12.example.test",
			waitUpgrade: true,
			check:       connected("websocket"),
		},
		{
			// A JavaScript RegExp would match inside this origin; here the
			// whole origin must match.
			name:     "origin-regexp-not-whole",
			socketio: "cors {\norigin_regexp http://pr-[0-9]+\\.example\\.test:%PAGE_PORT%\n}",
			from:     "evil-pr-12.example.test",
			check:    blocked("No 'Access-Control-Allow-Origin' header is present on the requested resource."),
		},
		{
			name:        "localhost-other-port",
			socketio:    "cors {\norigin %PAGE%\n}",
			from:        "localhost",
			waitUpgrade: true,
			check:       connected("websocket"),
		},
		{
			// Socket.IO v2's client sends credentials by default and its
			// extra headers through transportOptions.polling.
			name:        "v2-client",
			socketio:    "allow_eio3\ncors {\norigin %PAGE%\ncredentials\nallowed_headers my-custom-header\n}\nallow_request {\nheader My-Custom-Header abcd\n}\nnamespace / {\nrelay\n}",
			from:        "cross",
			client:      "v2",
			options:     map[string]any{"transportOptions": map[string]any{"polling": map[string]any{"extraHeaders": map[string]string{"my-custom-header": "abcd"}}}},
			waitUpgrade: true,
			emit:        &emitSpec{Event: "hello", Args: []any{"from the v2 page"}},
			check: all(connected("websocket"), acked("[]"), func(t *testing.T, page string, r browserResult) {
				r.response(t, "GET", "EIO=3&transport=polling")
			}),
		},
		{
			name:     "v2-client-without-allow-eio3",
			socketio: "cors {\norigin %PAGE%\ncredentials\n}",
			from:     "cross",
			client:   "v2",
			check:    refusedWithStatus(400),
		},
		{
			// README's "all origins" for the v2 client: origin * carries
			// no cookies, so the client must not ask for them.
			name:        "v2-client-wildcard",
			socketio:    "allow_eio3\ncors {\norigin *\n}",
			from:        "cross",
			client:      "v2",
			options:     map[string]any{"withCredentials": false},
			waitUpgrade: true,
			check:       connected("websocket"),
		},
		{
			// Node's behaviour on request: any origin may open a
			// WebSocket (browsers apply no CORS to it).
			name:     "disable-origin-check",
			socketio: "disable_origin_check",
			from:     "cross",
			options:  map[string]any{"transports": []string{"websocket"}},
			check:    connected("websocket"),
		},
		{
			name:    "websocket-cross-origin-without-cors",
			from:    "cross",
			options: map[string]any{"transports": []string{"websocket"}},
			check:   websocketRefused(403),
		},
		{
			name:     "websocket-origin-not-allowed",
			socketio: "cors {\norigin https://example.com\n}",
			from:     "cross",
			options:  map[string]any{"transports": []string{"websocket"}},
			check:    websocketRefused(403),
		},
		{
			name:     "websocket-origin-allowed",
			socketio: "cors {\norigin %PAGE%\n}",
			from:     "cross",
			options:  map[string]any{"transports": []string{"websocket"}},
			check:    connected("websocket"),
		},
	}

	results, o, c := runBrowser(t, scenarios)
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			r, ok := results[s.name]
			if !ok {
				t.Fatal("browser.js reported nothing for this scenario")
			}
			page, _ := o.of(s)
			t.Logf("%s: %s in %dms", s.name, r.Outcome, r.Ms)
			s.check(t, page, r)
			if t.Failed() {
				t.Logf("what the page saw:\n%s", r)
			}
		})
	}

	// The server says which origin it refused and how to allow it, as the
	// guide's troubleshooting section would.
	t.Run("refusals logged with the fix", func(t *testing.T) {
		for origin, hint := range map[string]string{
			o.page:      "add a cors block to the socketio directive with \"origin " + o.page + "\"",
			o.localPage: "add it to the socketio directive's cors block: \"origin " + o.localPage + "\"",
		} {
			if len(c.logEntries(func(e map[string]any) bool {
				return e["origin"] == origin && strings.Contains(fmt.Sprint(e["hint"]), hint)
			})) == 0 {
				t.Errorf("no log entry for the refused origin %s with the hint %q", origin, hint)
			}
		}
	})
}

func all(checks ...browserCheck) browserCheck {
	return func(t *testing.T, page string, r browserResult) {
		for _, c := range checks {
			c(t, page, r)
		}
	}
}

// connected: the client connected, ended on transport, and the browser
// reported no error at all.
func connected(transport string) browserCheck {
	return func(t *testing.T, page string, r browserResult) {
		if r.Outcome != "connect" {
			t.Fatalf("outcome %q (%s %s), want connect", r.Outcome, r.Error, r.Description)
		}
		if r.Transport != transport {
			t.Errorf("transport %q, want %q", r.Transport, transport)
		}
		for _, m := range r.Console {
			if strings.HasPrefix(m, "error:") {
				t.Errorf("the browser reported an error: %s", m)
			}
		}
		if len(r.PageErrors) > 0 || len(r.FailedRequests) > 0 {
			t.Errorf("page errors %q, failed requests %q", r.PageErrors, r.FailedRequests)
		}
	}
}

// acked: the event the page emitted after connecting was acknowledged with
// these arguments (JSON).
func acked(reply string) browserCheck {
	return func(t *testing.T, page string, r browserResult) {
		if string(r.Ack) != reply {
			t.Errorf("ack %s, want %s", r.Ack, reply)
		}
	}
}

// blocked: the browser refused to let the page read the polling handshake,
// the client got "xhr poll error", and the console says why in Chromium's
// words.
func blocked(reason string) browserCheck {
	return func(t *testing.T, page string, r browserResult) {
		if r.Outcome != "connect_error" || r.Error != "xhr poll error" {
			t.Fatalf("outcome %q %q, want connect_error \"xhr poll error\"", r.Outcome, r.Error)
		}
		if !r.consoleHas("from origin '"+page+"' has been blocked by CORS policy: ", reason) {
			t.Errorf("no console message says the request from %s was blocked by CORS policy: %s\nconsole: %q", page, reason, r.Console)
		}
	}
}

// refusedWithStatus: the CORS headers let the page read the handshake's
// error status, which the client reports as the error's description.
func refusedWithStatus(status int) browserCheck {
	return func(t *testing.T, page string, r browserResult) {
		if r.Outcome != "connect_error" || r.Error != "xhr poll error" {
			t.Fatalf("outcome %q %q, want connect_error \"xhr poll error\"", r.Outcome, r.Error)
		}
		if want := itoa(status); r.Description != want {
			t.Errorf("error description %q, want the status %s", r.Description, want)
		}
		if r.consoleHas("blocked by CORS policy") {
			t.Errorf("the browser blocked the response, want it readable: %q", r.Console)
		}
		if !r.consoleHas("the server responded with a status of " + itoa(status)) {
			t.Errorf("no console message reports status %d: %q", status, r.Console)
		}
	}
}

// websocketRefused: a WebSocket-only client's upgrade got an HTTP status
// instead of 101, which Chromium reports on the console.
func websocketRefused(status int) browserCheck {
	return func(t *testing.T, page string, r browserResult) {
		if r.Outcome != "connect_error" || r.Error != "websocket error" {
			t.Fatalf("outcome %q %q, want connect_error \"websocket error\"", r.Outcome, r.Error)
		}
		if !r.consoleHas("WebSocket connection to 'ws://", "failed: Error during WebSocket handshake: Unexpected response code: "+itoa(status)) {
			t.Errorf("no console message reports the refused upgrade with %d: %q", status, r.Console)
		}
	}
}

// response returns the first response of method (any when empty) whose URL
// contains part.
func (r browserResult) response(t *testing.T, method, part string) browserResponse {
	t.Helper()
	for _, resp := range r.Responses {
		if (method == "" || resp.Method == method) && strings.Contains(resp.URL, part) {
			return resp
		}
	}
	t.Fatalf("the page made no %s request containing %q", method, part)
	return browserResponse{}
}
