package caddysocketio

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-socketio/caddy-socketio/cors"
)

// CORS is the JSON form of the `cors` block. Each field is the npm cors
// option of the same name, as the Node server's `cors` option takes it.
type CORS struct {
	// Exact origins ("https://example.com"), wildcard-subdomain patterns
	// ("https://*.example.com"), or the single value "*".
	Origins []string `json:"origins,omitempty"`
	// Regular expressions that must match the whole origin.
	OriginRegexps []string `json:"origin_regexps,omitempty"`
	// Access-Control-Allow-Methods; GET,HEAD,PUT,PATCH,POST,DELETE when empty.
	Methods []string `json:"methods,omitempty"`
	// Access-Control-Allow-Headers; when empty, a preflight's
	// Access-Control-Request-Headers is reflected.
	AllowedHeaders []string `json:"allowed_headers,omitempty"`
	// Access-Control-Expose-Headers.
	ExposedHeaders []string `json:"exposed_headers,omitempty"`
	// Access-Control-Allow-Credentials: true. Cannot be combined with "*".
	Credentials bool `json:"credentials,omitempty"`
	// Access-Control-Max-Age, in whole seconds; 0 is sent as "0".
	MaxAge *caddy.Duration `json:"max_age,omitempty"`
	// Pass preflight (OPTIONS) requests on to the next handler after setting
	// the headers, instead of answering them.
	PreflightContinue bool `json:"preflight_continue,omitempty"`
	// The status of an answered preflight; 204 by default.
	OptionsSuccessStatus int `json:"options_success_status,omitempty"`
}

// policy compiles c; its errors come from the cors package and name the
// offending value.
func (c *CORS) policy() (*cors.Policy, error) {
	if c == nil {
		return nil, nil
	}
	o := cors.Options{
		Origins:              c.Origins,
		OriginRegexps:        c.OriginRegexps,
		Methods:              c.Methods,
		AllowedHeaders:       c.AllowedHeaders,
		ExposedHeaders:       c.ExposedHeaders,
		Credentials:          c.Credentials,
		PreflightContinue:    c.PreflightContinue,
		OptionsSuccessStatus: c.OptionsSuccessStatus,
	}
	if c.MaxAge != nil {
		d := time.Duration(*c.MaxAge)
		o.MaxAge = &d
	}
	return cors.New(o)
}

// Cookie is the JSON form of the `cookie` subdirective: Node's `cookie`
// option. The cookie's value is the session id; it lets a sticky load
// balancer send a session's requests to the same Caddy.
type Cookie struct {
	// The cookie name; "io" by default.
	Name string `json:"name,omitempty"`
	// "/" by default.
	Path string `json:"path,omitempty"`
	// HttpOnly; on by default, as in Node.
	HTTPOnly *bool `json:"http_only,omitempty"`
	// "lax" (the default), "strict" or "none" (which needs secure).
	SameSite string `json:"same_site,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	// Max-Age in whole seconds; none (a session cookie) when zero.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
}

// httpCookie is c as the engine wants it; call after validate.
func (c *Cookie) httpCookie() *http.Cookie {
	if c == nil {
		return nil
	}
	hc := &http.Cookie{Name: c.Name, Path: c.Path, Secure: c.Secure, HttpOnly: c.HTTPOnly == nil || *c.HTTPOnly}
	if hc.Name == "" {
		hc.Name = "io"
	}
	if hc.Path == "" {
		hc.Path = "/"
	}
	switch c.SameSite {
	case "strict":
		hc.SameSite = http.SameSiteStrictMode
	case "none":
		hc.SameSite = http.SameSiteNoneMode
	default:
		hc.SameSite = http.SameSiteLaxMode
	}
	hc.MaxAge = int(time.Duration(c.MaxAge) / time.Second)
	return hc
}

func (c *Cookie) validate() error {
	if c == nil {
		return nil
	}
	if c.Name != "" {
		if err := (&http.Cookie{Name: c.Name, Value: "x"}).Valid(); err != nil {
			return fmt.Errorf("cookie name %q cannot be used: %v", c.Name, err)
		}
	}
	if c.Path != "" && !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("cookie path %q must start with /", c.Path)
	}
	switch c.SameSite {
	case "", "lax", "strict":
	case "none":
		if !c.Secure {
			return fmt.Errorf("cookie same_site none needs secure: browsers drop a SameSite=None cookie without Secure")
		}
	default:
		return fmt.Errorf("cookie same_site %q is not one of lax, strict, none", c.SameSite)
	}
	if c.MaxAge < 0 || time.Duration(c.MaxAge)%time.Second != 0 {
		return fmt.Errorf("cookie max_age %s must be a positive whole number of seconds", time.Duration(c.MaxAge))
	}
	return nil
}

// Namespace is the JSON form of a `namespace` block: what the server does
// for a namespace without any application code.
type Namespace struct {
	// The namespace, starting with "/" ("/" always exists).
	Name string `json:"name"`
	// When set, events a client emits are sent to the other sockets in the
	// rooms it joined (all other sockets of the namespace when it joined
	// none).
	Relay *Relay `json:"relay,omitempty"`
	// Rooms every socket joins on connection. Placeholders from the
	// handshake are replaced per connection: {query.<key>},
	// {header.<Name>}, {auth.<key>}. A room whose placeholder is empty is
	// not joined.
	Join []string `json:"join,omitempty"`
	// Hooks sends the namespace's connections, events and lifecycle to
	// the application's backend over HTTP.
	Hooks *Hooks `json:"hooks,omitempty"`

	// MaxEventsPerSecond replaces the socketio block's rate for this
	// namespace; {"events":0} (off in the Caddyfile) means no limit here.
	MaxEventsPerSecond *EventRate `json:"max_events_per_second,omitempty"`
}

// Relay lists the events a namespace relays.
type Relay struct {
	// The relayed events; every event when empty.
	Events []string `json:"events,omitempty"`
}
