package hooks

import (
	"errors"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Config is one configuration of one namespace's hooks (a Caddyfile hooks
// block). SetConfig copies it: changing a Config after handing it over has
// no effect.
type Config struct {
	// Transport carries every hook request. The Caddy module passes one
	// that runs its handler chain (reverse_proxy, php_fastcgi, ...); from
	// Go, http.DefaultTransport or, better, an *http.Transport whose
	// MaxIdleConnsPerHost is MaxConcurrent (net/http keeps 2 idle
	// connections per host by default, and opens a new one for every
	// request past them). Requests go to it as they are: no redirects are
	// followed, no cookies kept. Each request is built for one RoundTrip
	// and not read afterwards, so a transport may add headers to it.
	Transport http.RoundTripper
	// URL is the base URL including the path prefix: requests go to
	// URL+"/connect", URL+"/event" and URL+"/notify".
	URL string
	// Connect asks the backend before a socket joins the namespace.
	Connect bool
	// Events are path.Match globs of the event names sent to the backend.
	Events []string
	// Notify lists the lifecycle webhooks: any of "connect",
	// "disconnect", "join", "leave".
	Notify []string
	// Timeout bounds each hook call, its wait for a free request slot
	// included; 5 s when zero.
	Timeout time.Duration
	// MaxConcurrent is the number of hook requests in flight (all kinds,
	// per Config); 64 when zero. Past it, calls wait for a slot within
	// their Timeout, then fail with code "overloaded".
	MaxConcurrent int
	// Secrets are the HMAC-SHA256 keys signing each request, the first
	// one first; with none, no Socketio-Signature header is sent (the
	// caller warns about it).
	Secrets []string
	// ForwardHeaders are the handshake headers passed on to the backend
	// (an allowlist; none by default).
	ForwardHeaders []string
	// MaxAnswerBytes is the largest backend answer read; 1e6 when zero.
	MaxAnswerBytes int64
	// Logger receives the failures; nothing is logged when nil.
	Logger *zap.Logger
}

// NotifyTypes are the lifecycle webhooks Config.Notify may name.
var NotifyTypes = []string{"connect", "disconnect", "join", "leave"}

// The defaults of the zero values of Config.
const (
	DefaultTimeout        = 5 * time.Second
	DefaultMaxConcurrent  = 64
	DefaultMaxAnswerBytes = 1_000_000
)

// reservedHeaders are set by the hooks themselves, or by HTTP: forwarding a
// client's value for them would let the client forge the request.
var reservedHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Content-Encoding": true, "Transfer-Encoding": true,
	"Host": true, "Connection": true, "Upgrade": true, "Te": true, "Trailer": true, "Expect": true,
	"Socketio-Signature": true,
}

// Validate reports everything wrong with c, each with how to fix it.
func (c *Config) Validate() error {
	var errs []error
	if c.Transport == nil {
		errs = append(errs, errors.New("hooks: no transport: name the handler that reaches the backend (reverse_proxy, php_fastcgi, ...)"))
	}
	if c.URL == "" {
		errs = append(errs, errors.New("hooks: no URL: set the base URL the hook paths /connect, /event and /notify are appended to"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("hooks: URL %q is not an absolute http(s) URL such as http://127.0.0.1:8000/socketio", c.URL))
	} else if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("hooks: URL %q has a query or fragment; give the path prefix alone", c.URL))
	}
	if !c.Connect && len(c.Events) == 0 && len(c.Notify) == 0 {
		errs = append(errs, errors.New("hooks: nothing to do: enable connect, name events, or notify types"))
	}
	for _, g := range c.Events {
		if g == "" {
			errs = append(errs, errors.New("hooks: empty event glob; name events such as order:place or chat:*"))
			continue
		}
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, fmt.Errorf("hooks: event glob %q is malformed (%v); see Go's path.Match syntax: * ? [a-z] and \\ escapes", g, err))
		}
	}
	seen := map[string]bool{}
	for _, n := range c.Notify {
		if !isNotifyType(n) {
			errs = append(errs, fmt.Errorf("hooks: unknown notify type %q; use any of %s", n, strings.Join(NotifyTypes, ", ")))
		} else if seen[n] {
			errs = append(errs, fmt.Errorf("hooks: notify type %q given twice", n))
		}
		seen[n] = true
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("hooks: negative timeout %v; give a positive duration such as 3s", c.Timeout))
	}
	if c.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("hooks: negative max_concurrent %d; give a positive number such as 64", c.MaxConcurrent))
	}
	if c.MaxAnswerBytes < 0 {
		errs = append(errs, fmt.Errorf("hooks: negative largest answer size %d", c.MaxAnswerBytes))
	}
	for i, s := range c.Secrets {
		if s == "" {
			// Never print secrets, only their position.
			errs = append(errs, fmt.Errorf("hooks: secret %d of %d is empty (an unset environment variable?); set it or remove it", i+1, len(c.Secrets)))
		}
	}
	for _, h := range c.ForwardHeaders {
		name := http.CanonicalHeaderKey(h)
		switch {
		case !httpguts.ValidHeaderFieldName(h):
			errs = append(errs, fmt.Errorf("hooks: forward_headers: %q is not a header name", h))
		case reservedHeaders[name]:
			errs = append(errs, fmt.Errorf("hooks: forward_headers: %s is set by the hooks themselves and cannot be forwarded; remove it", name))
		}
	}
	return errors.Join(errs...)
}

// MatchesEvent tells whether the event called name goes to the backend.
func (c *Config) MatchesEvent(name string) bool {
	for _, g := range c.Events {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

func isNotifyType(s string) bool {
	for _, t := range NotifyTypes {
		if s == t {
			return true
		}
	}
	return false
}
