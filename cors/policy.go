// Package cors is a CORS policy with the semantics of the npm `cors` package
// as the Node Socket.IO server uses it (the `cors` option of socket.io and
// engine.io), plus the origin check that browsers do not do for WebSocket.
//
// It differs from npm `cors` only where that is safer: `*` cannot be combined
// with credentials, a regular expression must match the whole origin, and the
// origin "null" (sandboxed frames, file:// pages) is never reflected.
//
// The package imports nothing from Caddy so that it can sit in front of any
// http.Handler.
package cors

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultMethods is what npm cors answers in Access-Control-Allow-Methods
// when no methods are configured.
var DefaultMethods = []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"}

// Options configures a Policy. The field names follow the npm cors options.
type Options struct {
	// Origins lists the allowed origins: exact origins such as
	// "https://example.com", wildcard-subdomain patterns such as
	// "https://*.example.com" (one or more labels in place of the star), or
	// the single value "*" for every origin. A single exact origin is sent
	// as is on every response, as npm cors does with a string origin;
	// otherwise an allowed request origin is reflected.
	Origins []string
	// OriginRegexps are regular expressions (Go syntax) that must match the
	// whole request origin, unlike a JavaScript RegExp that matches anywhere.
	OriginRegexps []string
	// Methods for Access-Control-Allow-Methods; DefaultMethods when empty.
	Methods []string
	// AllowedHeaders for Access-Control-Allow-Headers; when nil, the
	// preflight's Access-Control-Request-Headers is reflected.
	AllowedHeaders []string
	// ExposedHeaders for Access-Control-Expose-Headers.
	ExposedHeaders []string
	// Credentials sends Access-Control-Allow-Credentials: true.
	Credentials bool
	// MaxAge for Access-Control-Max-Age, in whole seconds; nil sends none,
	// zero sends "0" (browsers then cache nothing).
	MaxAge *time.Duration
	// PreflightContinue leaves OPTIONS requests to the next handler after
	// setting the headers, instead of answering them.
	PreflightContinue bool
	// OptionsSuccessStatus is the status of an answered preflight; 204 when
	// zero.
	OptionsSuccessStatus int
}

// Policy is a validated, compiled Options. It is immutable and safe for
// concurrent use; a config reload builds a new one.
type Policy struct {
	origins originMatcher

	// Header values computed once, so that the hot path only sets strings.
	methods        string
	allowedHeaders string
	reflectHeaders bool
	exposedHeaders string
	credentials    bool
	maxAge         string
	preflightNext  bool
	preflightCode  int
}

// New validates o and compiles it into a Policy. Its errors say what was
// wrong, with the value, and how to fix it.
func New(o Options) (*Policy, error) {
	m, err := compileOrigins(o.Origins, o.OriginRegexps)
	if err != nil {
		return nil, err
	}
	if m.any && o.Credentials {
		return nil, errorf(`origin "*" cannot be combined with credentials; list the allowed origins instead`)
	}
	p := &Policy{
		origins:        m,
		methods:        strings.Join(DefaultMethods, ","),
		reflectHeaders: o.AllowedHeaders == nil,
		credentials:    o.Credentials,
		preflightNext:  o.PreflightContinue,
		preflightCode:  http.StatusNoContent,
	}
	if len(o.Methods) > 0 {
		if err := checkTokens("method", o.Methods); err != nil {
			return nil, err
		}
		p.methods = strings.Join(o.Methods, ",")
	}
	if err := checkTokens("allowed header", o.AllowedHeaders); err != nil {
		return nil, err
	}
	p.allowedHeaders = strings.Join(o.AllowedHeaders, ",")
	if err := checkTokens("exposed header", o.ExposedHeaders); err != nil {
		return nil, err
	}
	p.exposedHeaders = strings.Join(o.ExposedHeaders, ",")
	if o.MaxAge != nil {
		d := *o.MaxAge
		if d < 0 || d%time.Second != 0 {
			return nil, errorf("max_age %s must be zero or a whole number of seconds (Access-Control-Max-Age counts seconds)", d)
		}
		p.maxAge = strconv.FormatInt(int64(d/time.Second), 10)
	}
	if o.OptionsSuccessStatus != 0 {
		if o.OptionsSuccessStatus < 200 || o.OptionsSuccessStatus > 299 {
			return nil, errorf("options_success_status %d is not a 2xx status; browsers fail a preflight answered with anything else (use 200 for old browsers, 204 otherwise)", o.OptionsSuccessStatus)
		}
		p.preflightCode = o.OptionsSuccessStatus
	}
	return p, nil
}

// Apply sets the CORS response headers for r on w, as npm cors does before
// the request reaches the Socket.IO server. A preflight (any OPTIONS
// request, as npm cors decides) is answered here with an empty body, and
// Apply reports true; with PreflightContinue, or for any other method, it
// reports false and the caller goes on serving r.
func (p *Policy) Apply(w http.ResponseWriter, r *http.Request) (answered bool) {
	h := w.Header()
	p.applyOrigin(h, r.Header.Get("Origin"))
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method != http.MethodOptions {
		if p.exposedHeaders != "" {
			h.Set("Access-Control-Expose-Headers", p.exposedHeaders)
		}
		return false
	}
	h.Set("Access-Control-Allow-Methods", p.methods)
	allowed := p.allowedHeaders
	if p.reflectHeaders {
		allowed = r.Header.Get("Access-Control-Request-Headers")
		addVary(h, "Access-Control-Request-Headers")
	}
	if allowed != "" {
		h.Set("Access-Control-Allow-Headers", allowed)
	}
	if p.maxAge != "" {
		h.Set("Access-Control-Max-Age", p.maxAge)
	}
	if p.exposedHeaders != "" {
		h.Set("Access-Control-Expose-Headers", p.exposedHeaders)
	}
	if p.preflightNext {
		return false
	}
	// Safari waits for a body on a 204 without Content-Length (npm cors
	// says so too), so the length is always explicit.
	h.Set("Content-Length", "0")
	w.WriteHeader(p.preflightCode)
	return true
}

// PreflightContinue reports whether preflights go on to the next handler.
func (p *Policy) PreflightContinue() bool { return p.preflightNext }

// applyOrigin sets Access-Control-Allow-Origin and Vary the way npm cors
// does for its three kinds of origin option: "*" (no Vary), a fixed string
// (always sent, Vary: Origin) and a list (reflected when allowed, Vary:
// Origin either way, so that caches keep one answer per origin).
func (p *Policy) applyOrigin(h http.Header, origin string) {
	switch {
	case p.origins.any:
		h.Set("Access-Control-Allow-Origin", "*")
		return
	case p.origins.fixed != "":
		h.Set("Access-Control-Allow-Origin", p.origins.fixed)
	case p.origins.allows(origin):
		h.Set("Access-Control-Allow-Origin", origin)
	}
	addVary(h, "Origin")
}

// checkTokens rejects empty values and values with characters that cannot
// appear in a header field name or method token, which would otherwise
// produce a header browsers silently ignore.
func checkTokens(what string, values []string) error {
	for _, v := range values {
		if v == "" {
			return errorf("empty %s", what)
		}
		for i := 0; i < len(v); i++ {
			if !isTokenChar(v[i]) {
				return errorf("%s %q has the character %q, which is not allowed in an HTTP token; give one name per argument, without commas", what, v, v[i])
			}
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
