package cors

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// errorf prefixes every configuration error with the package name, so that
// a message in `caddy validate` output says where it comes from.
func errorf(format string, args ...any) error {
	return fmt.Errorf("cors: "+format, args...)
}

// originMatcher decides whether a request origin is allowed.
type originMatcher struct {
	any      bool             // "*": every origin
	fixed    string           // a single exact origin, sent as is (npm's string origin)
	exact    map[string]bool  // exact origins
	suffixes []wildcardOrigin // https://*.example.com
	regexps  []*regexp.Regexp // anchored at both ends
}

// wildcardOrigin is a pattern such as https://*.example.com:8443, split into
// the scheme ("https://") and the part after the star (".example.com:8443").
type wildcardOrigin struct {
	scheme, suffix string
}

func compileOrigins(origins, regexps []string) (originMatcher, error) {
	var m originMatcher
	for _, o := range origins {
		switch {
		case o == "*":
			if len(origins) > 1 || len(regexps) > 0 {
				return m, errorf(`origin "*" already allows every origin; remove the other origins, or remove "*"`)
			}
			m.any = true
		case o == "null":
			return m, errorf(`origin "null" is never allowed: every sandboxed frame and file:// page sends it, so allowing it allows anyone; serve the page from a real origin instead`)
		case strings.Contains(o, "*"):
			w, err := parseWildcard(o)
			if err != nil {
				return m, err
			}
			m.suffixes = append(m.suffixes, w)
		default:
			if err := checkOrigin(o); err != nil {
				return m, err
			}
			if m.exact == nil {
				m.exact = make(map[string]bool)
			}
			m.exact[o] = true
		}
	}
	for _, s := range regexps {
		re, err := regexp.Compile(`^(?:` + s + `)$`)
		if err != nil {
			return m, errorf("origin_regexp %q is not a valid regular expression: %v", s, err)
		}
		m.regexps = append(m.regexps, re)
	}
	if len(m.exact) == 1 && len(m.suffixes) == 0 && len(m.regexps) == 0 {
		for o := range m.exact {
			m.fixed = o
		}
	}
	if !m.any && len(m.exact) == 0 && len(m.suffixes) == 0 && len(m.regexps) == 0 {
		return m, errorf(`no origin is allowed; list origins with "origin", "origin_regexp", or use origin "*"`)
	}
	return m, nil
}

// allows reports whether origin is one the policy lets in. "null" and the
// empty string are never allowed, whatever a regexp says.
func (m *originMatcher) allows(origin string) bool {
	if origin == "" || origin == "null" {
		return false
	}
	if m.any {
		return true
	}
	if m.exact[origin] {
		return true
	}
	for _, w := range m.suffixes {
		if w.matches(origin) {
			return true
		}
	}
	for _, re := range m.regexps {
		if re.MatchString(origin) {
			return true
		}
	}
	return false
}

// matches reports whether origin is the pattern's scheme, then one or more
// DNS labels, then the suffix: https://a.example.com and
// https://a.b.example.com match https://*.example.com, but
// https://example.com and https://evil.com?.example.com do not.
func (w wildcardOrigin) matches(origin string) bool {
	rest, ok := strings.CutPrefix(origin, w.scheme)
	if !ok {
		return false
	}
	labels, ok := strings.CutSuffix(rest, w.suffix)
	if !ok || labels == "" {
		return false
	}
	for label := range strings.SplitSeq(labels, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func parseWildcard(pattern string) (wildcardOrigin, error) {
	scheme, rest, ok := strings.Cut(pattern, "://")
	if !ok || !strings.HasPrefix(rest, "*.") || strings.Count(pattern, "*") != 1 {
		return wildcardOrigin{}, errorf(`origin %q: a wildcard origin is written scheme://*.domain, for example "https://*.example.com"; use origin_regexp for anything else`, pattern)
	}
	// The part after the star must itself be a valid origin host.
	if err := checkOrigin(scheme + "://x" + rest[1:]); err != nil {
		return wildcardOrigin{}, errorf("origin %q: %v", pattern, strings.TrimPrefix(err.Error(), "cors: "))
	}
	return wildcardOrigin{scheme: scheme + "://", suffix: rest[1:]}, nil
}

// checkOrigin rejects strings a browser never sends as an Origin, each with
// the fix: a browser serializes an origin as scheme://host[:port], in lower
// case, without a path and without the scheme's default port.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return errorf(`origin %q is not an origin; write scheme://host[:port], for example "https://example.com"`, o)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || u.User != nil {
		return errorf(`origin %q has more than scheme://host[:port]; browsers send %q`, o, u.Scheme+"://"+u.Host)
	}
	if strings.ToLower(o) != o {
		return errorf(`origin %q has upper-case letters; browsers send it in lower case: %q`, o, strings.ToLower(o))
	}
	if port := u.Port(); (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return errorf(`origin %q names the default port; browsers leave it out: %q`, o, u.Scheme+"://"+u.Hostname())
	}
	return nil
}

// CheckOrigin reports whether a browser may open a Socket.IO session with
// r. Browsers do not apply CORS to WebSocket, and a polling handshake from
// a refused origin still creates a session before the browser hides the
// answer, so the handler asks this before either. It allows:
//   - a request without Origin (not a browser; nothing to protect);
//   - a request whose Origin is the request's own host (same origin);
//   - an origin the policy allows. A nil policy (no cors configured)
//     allows only the first two, which is the safe default.
func (p *Policy) CheckOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if SameOrigin(r) {
		return true
	}
	return p != nil && p.origins.allows(origin)
}

// AllowsOrigin reports whether origin is one the policy allows (and would
// reflect). "null" never is.
func (p *Policy) AllowsOrigin(origin string) bool {
	return p != nil && p.origins.allows(origin)
}

// SameOrigin reports whether r's Origin header names the host r was sent
// to, comparing host and port (the scheme's default port when absent) as
// gorilla/websocket's default check does. The scheme itself is not
// compared, because behind a TLS-terminating proxy the request the server
// sees is plain HTTP while the page's origin is https.
func SameOrigin(r *http.Request) bool { return sameHost(r.Header.Get("Origin"), r) }

// sameHost reports whether origin names the host r was sent to (see
// SameOrigin).
func sameHost(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(withPort(u.Host, u.Scheme), withPort(r.Host, u.Scheme))
}

// withPort adds the scheme's default port to a host without one.
func withPort(host, scheme string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		return host
	}
	if scheme == "https" || scheme == "wss" {
		return host + ":443"
	}
	return host + ":80"
}
