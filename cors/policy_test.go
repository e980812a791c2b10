package cors

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func seconds(n int) *time.Duration {
	d := time.Duration(n) * time.Second
	return &d
}

// exchange is one request through a policy and what the browser would see.
type exchange struct {
	name     string
	opts     Options
	method   string
	header   map[string]string // request headers
	vary     string            // a Vary already on the response
	want     map[string]string // every CORS header, Vary and Content-Length
	answered bool              // the policy wrote the response
	status   int               // when answered
}

var exchanges = []exchange{
	{
		name:   "origin * on a polling GET: star, no Vary",
		opts:   Options{Origins: []string{"*"}},
		method: "GET", header: map[string]string{"Origin": "https://a.example"},
		want: map[string]string{"Access-Control-Allow-Origin": "*"},
	},
	{
		name:   "origin * preflight: default methods, reflected request headers",
		opts:   Options{Origins: []string{"*"}},
		method: "OPTIONS", header: map[string]string{"Origin": "https://a.example", "Access-Control-Request-Headers": "my-custom-header"},
		want: map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
			"Access-Control-Allow-Headers": "my-custom-header",
			"Vary":                         "Access-Control-Request-Headers",
			"Content-Length":               "0",
		},
		answered: true, status: 204,
	},
	{
		name:   "single origin is sent as is, even to another origin (npm string origin)",
		opts:   Options{Origins: []string{"https://example.com"}},
		method: "GET", header: map[string]string{"Origin": "https://other.example"},
		want: map[string]string{"Access-Control-Allow-Origin": "https://example.com", "Vary": "Origin"},
	},
	{
		name:   "origin list reflects an allowed origin with credentials",
		opts:   Options{Origins: []string{"https://a.example", "https://b.example"}, Credentials: true},
		method: "POST", header: map[string]string{"Origin": "https://b.example"},
		want: map[string]string{
			"Access-Control-Allow-Origin":      "https://b.example",
			"Access-Control-Allow-Credentials": "true",
			"Vary":                             "Origin",
		},
	},
	{
		name:   "origin list: a refused origin gets no Allow-Origin but still Vary",
		opts:   Options{Origins: []string{"https://a.example", "https://b.example"}, Credentials: true},
		method: "GET", header: map[string]string{"Origin": "https://evil.example"},
		want: map[string]string{"Access-Control-Allow-Credentials": "true", "Vary": "Origin"},
	},
	{
		name:   "no Origin header: Vary only",
		opts:   Options{Origins: []string{"https://a.example", "https://b.example"}},
		method: "GET",
		want:   map[string]string{"Vary": "Origin"},
	},
	{
		name:   "wildcard subdomain is reflected",
		opts:   Options{Origins: []string{"https://*.example.com"}},
		method: "GET", header: map[string]string{"Origin": "https://chat.eu.example.com"},
		want: map[string]string{"Access-Control-Allow-Origin": "https://chat.eu.example.com", "Vary": "Origin"},
	},
	{
		name:   "wildcard does not match the bare domain",
		opts:   Options{Origins: []string{"https://*.example.com"}},
		method: "GET", header: map[string]string{"Origin": "https://example.com"},
		want: map[string]string{"Vary": "Origin"},
	},
	{
		name:   "wildcard does not match another scheme",
		opts:   Options{Origins: []string{"https://*.example.com"}},
		method: "GET", header: map[string]string{"Origin": "http://a.example.com"},
		want: map[string]string{"Vary": "Origin"},
	},
	{
		name:   "regexp must match the whole origin",
		opts:   Options{OriginRegexps: []string{`https://[a-z]+\.example\.com`}},
		method: "GET", header: map[string]string{"Origin": "https://a.example.com.evil.net"},
		want: map[string]string{"Vary": "Origin"},
	},
	{
		name:   "regexp match is reflected",
		opts:   Options{OriginRegexps: []string{`https://[a-z]+\.example\.com`}},
		method: "GET", header: map[string]string{"Origin": "https://a.example.com"},
		want: map[string]string{"Access-Control-Allow-Origin": "https://a.example.com", "Vary": "Origin"},
	},
	{
		name: "preflight with every option",
		opts: Options{
			Origins:        []string{"https://a.example", "https://b.example"},
			Methods:        []string{"GET", "POST"},
			AllowedHeaders: []string{"my-custom-header", "Authorization"},
			ExposedHeaders: []string{"X-Trace-Id"},
			Credentials:    true,
			MaxAge:         seconds(600),
		},
		method: "OPTIONS", header: map[string]string{"Origin": "https://a.example", "Access-Control-Request-Headers": "x-other"},
		want: map[string]string{
			"Access-Control-Allow-Origin":      "https://a.example",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET,POST",
			"Access-Control-Allow-Headers":     "my-custom-header,Authorization",
			"Access-Control-Expose-Headers":    "X-Trace-Id",
			"Access-Control-Max-Age":           "600",
			"Vary":                             "Origin",
			"Content-Length":                   "0",
		},
		answered: true, status: 204,
	},
	{
		name:   "max_age 0 is sent",
		opts:   Options{Origins: []string{"*"}, MaxAge: seconds(0)},
		method: "OPTIONS", header: map[string]string{"Origin": "https://a.example"},
		want: map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
			"Access-Control-Max-Age":       "0",
			"Vary":                         "Access-Control-Request-Headers",
			"Content-Length":               "0",
		},
		answered: true, status: 204,
	},
	{
		name:   "exposed headers on an actual response",
		opts:   Options{Origins: []string{"*"}, ExposedHeaders: []string{"X-Trace-Id", "X-Other"}},
		method: "GET", header: map[string]string{"Origin": "https://a.example"},
		want: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "X-Trace-Id,X-Other"},
	},
	{
		name:   "preflight_continue sets the headers and leaves the answer to the next handler",
		opts:   Options{Origins: []string{"https://a.example", "https://b.example"}, PreflightContinue: true},
		method: "OPTIONS", header: map[string]string{"Origin": "https://a.example"},
		want: map[string]string{
			"Access-Control-Allow-Origin":  "https://a.example",
			"Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
			"Vary":                         "Origin, Access-Control-Request-Headers",
		},
	},
	{
		name:   "options_success_status 200",
		opts:   Options{Origins: []string{"*"}, OptionsSuccessStatus: 200, AllowedHeaders: []string{"a"}},
		method: "OPTIONS",
		want: map[string]string{
			"Access-Control-Allow-Origin":  "*",
			"Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
			"Access-Control-Allow-Headers": "a",
			"Content-Length":               "0",
		},
		answered: true, status: 200,
	},
	{
		name:   "Vary is appended to an existing one, not repeated",
		opts:   Options{Origins: []string{"https://a.example", "https://b.example"}},
		method: "OPTIONS", header: map[string]string{"Origin": "https://a.example"},
		vary: "Accept-Encoding, origin",
		want: map[string]string{
			"Access-Control-Allow-Origin":  "https://a.example",
			"Access-Control-Allow-Methods": "GET,HEAD,PUT,PATCH,POST,DELETE",
			"Vary":                         "Accept-Encoding, origin, Access-Control-Request-Headers",
			"Content-Length":               "0",
		},
		answered: true, status: 204,
	},
	{
		name:   "Vary * stays *",
		opts:   Options{Origins: []string{"https://a.example", "https://b.example"}},
		method: "GET", header: map[string]string{"Origin": "https://a.example"},
		vary: "*",
		want: map[string]string{"Access-Control-Allow-Origin": "https://a.example", "Vary": "*"},
	},
}

// corsHeaders collects the headers a CORS policy may set.
func corsHeaders(h http.Header) map[string]string {
	got := map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") || k == "Vary" || k == "Content-Length" {
			got[k] = strings.Join(v, ", ")
		}
	}
	return got
}

func runExchange(t *testing.T, p *Policy, x exchange) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	r := httptest.NewRequest(x.method, "/socket.io/?EIO=4&transport=polling", nil)
	for k, v := range x.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	if x.vary != "" {
		w.Header().Set("Vary", x.vary)
	}
	return w, p.Apply(w, r)
}

func TestPolicyHeaders(t *testing.T) {
	for _, x := range exchanges {
		t.Run(x.name, func(t *testing.T) {
			p, err := New(x.opts)
			if err != nil {
				t.Fatal(err)
			}
			w, answered := runExchange(t, p, x)
			if got := corsHeaders(w.Header()); !reflect.DeepEqual(got, x.want) {
				t.Errorf("headers\n got %v\nwant %v", got, x.want)
			}
			if answered != x.answered {
				t.Fatalf("answered = %v, want %v", answered, x.answered)
			}
			if answered && (w.Code != x.status || w.Body.Len() != 0) {
				t.Errorf("answer = %d %q, want %d and no body", w.Code, w.Body.String(), x.status)
			}
		})
	}
}

func TestNullOriginIsNeverReflected(t *testing.T) {
	p, err := New(Options{Origins: []string{"https://a.example"}, OriginRegexps: []string{`.*`}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/socket.io/", nil)
	r.Header.Set("Origin", "null")
	w := httptest.NewRecorder()
	p.Apply(w, r)
	if v := w.Header().Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf(`Access-Control-Allow-Origin = %q for origin "null"`, v)
	}
	if p.CheckOrigin(r) {
		t.Error(`CheckOrigin allowed origin "null"`)
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Origins: []string{"*"}, Credentials: true}, `cors: origin "*" cannot be combined with credentials; list the allowed origins instead`},
		{Options{Origins: []string{"*", "https://a.example"}}, `origin "*" already allows every origin`},
		{Options{}, `no origin is allowed`},
		{Options{Origins: []string{"null"}}, `origin "null" is never allowed`},
		{Options{Origins: []string{"https://example.com/"}}, `origin "https://example.com/" has more than scheme://host[:port]; browsers send "https://example.com"`},
		{Options{Origins: []string{"https://Example.com"}}, `browsers send it in lower case: "https://example.com"`},
		{Options{Origins: []string{"https://example.com:443"}}, `names the default port; browsers leave it out: "https://example.com"`},
		{Options{Origins: []string{"example.com"}}, `origin "example.com" is not an origin; write scheme://host[:port]`},
		{Options{Origins: []string{"https://a*.example.com"}}, `a wildcard origin is written scheme://*.domain`},
		{Options{Origins: []string{"https://*.example.com/"}}, `origin "https://*.example.com/": origin "https://x.example.com/" has more than`},
		{Options{OriginRegexps: []string{`(`}}, `origin_regexp "(" is not a valid regular expression`},
		{Options{Origins: []string{"*"}, Methods: []string{"GET,POST"}}, `method "GET,POST" has the character ','`},
		{Options{Origins: []string{"*"}, AllowedHeaders: []string{"a b"}}, `allowed header "a b" has the character ' '`},
		{Options{Origins: []string{"*"}, ExposedHeaders: []string{""}}, `empty exposed header`},
		{Options{Origins: []string{"*"}, MaxAge: func() *time.Duration { d := 1500 * time.Millisecond; return &d }()}, `max_age 1.5s must be zero or a whole number of seconds`},
		{Options{Origins: []string{"*"}, MaxAge: seconds(-1)}, `max_age -1s must be zero`},
		{Options{Origins: []string{"*"}, OptionsSuccessStatus: 302}, `options_success_status 302 is not a 2xx status`},
	} {
		_, err := New(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", c.opts, err, c.want)
		}
	}
}

func TestCheckOrigin(t *testing.T) {
	list, err := New(Options{Origins: []string{"https://app.example", "https://*.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	star, err := New(Options{Origins: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		policy *Policy
		host   string
		origin string
		want   bool
	}{
		{"no cors, no Origin (a non-browser client)", nil, "io.example", "", true},
		{"no cors, same origin", nil, "io.example", "https://io.example", true},
		{"no cors, same origin with explicit default port in Host", nil, "io.example:443", "https://io.example", true},
		{"no cors, same origin on another port", nil, "127.0.0.1:8080", "http://127.0.0.1:8080", true},
		{"no cors, localhost on another port is another origin", nil, "localhost:8080", "http://localhost:3000", false},
		{"no cors, cross origin", nil, "io.example", "https://evil.example", false},
		{"no cors, null", nil, "io.example", "null", false},
		{"list, allowed origin", list, "io.example", "https://app.example", true},
		{"list, allowed wildcard", list, "io.example", "https://x.example.com", true},
		{"list, refused origin", list, "io.example", "https://evil.example", false},
		{"list, same origin not listed", list, "io.example", "https://io.example", true},
		{"star, any origin", star, "io.example", "https://evil.example", true},
	} {
		r := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := c.policy.CheckOrigin(r); got != c.want {
			t.Errorf("%s: CheckOrigin = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestWildcardLabels(t *testing.T) {
	w, err := parseWildcard("https://*.example.com:8443")
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"https://a.example.com:8443":         true,
		"https://a-b.c.example.com:8443":     true,
		"https://a.example.com":              false,
		"https://.example.com:8443":          false,
		"https://a..example.com:8443":        false,
		"https://-a.example.com:8443":        false,
		"https://a/b.example.com:8443":       false,
		"https://evil.com?.example.com:8443": false,
		"https://a.example.com:84430":        false,
	} {
		if got := w.matches(origin); got != want {
			t.Errorf("matches(%q) = %v, want %v", origin, got, want)
		}
	}
}

// FuzzPolicy checks that no origin makes Apply reflect anything other than
// the request's own origin, and that "null" never comes back.
func FuzzPolicy(f *testing.F) {
	for _, s := range []string{"https://a.example.com", "null", "https://a.example.com.evil", "", "https://x.y.example.com:8443"} {
		f.Add(s)
	}
	p, err := New(Options{
		Origins:       []string{"https://*.example.com", "https://app.example"},
		OriginRegexps: []string{`https://[a-z]+\.example\.net`},
		Credentials:   true,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, origin string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Origin"] = []string{origin}
		w := httptest.NewRecorder()
		p.Apply(w, r)
		got := w.Header().Get("Access-Control-Allow-Origin")
		if got != "" && (got != origin || origin == "null") {
			t.Fatalf("origin %q reflected as %q", origin, got)
		}
		if got != "" && !strings.HasSuffix(origin, ".example.com") && origin != "https://app.example" && !strings.HasSuffix(origin, ".example.net") {
			t.Fatalf("origin %q allowed", origin)
		}
	})
}
