package caddysocketio

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-socketio/caddy-socketio/httpapi"
)

func init() {
	caddy.RegisterModule(APIHandler{})
}

// APIHandler is the Caddy handler http.handlers.socketio_api: the HTTP
// server API (package httpapi) of a socketio handler's live server, found
// by its name, so that it can sit on another listener (an internal one) or
// behind Caddy's own guards. It answers every request it gets: mount it
// with handle_path, which strips the prefix the routes are under.
type APIHandler struct {
	// Server is the name of the socketio handler whose server the API
	// drives (its name option, or its path by default); "/socket.io/"
	// by default. The server may start later than this handler: until it
	// runs, requests get 404.
	Server string `json:"server,omitempty"`
	// Keys are the API keys accepted in "Authorization: Bearer <key>";
	// several during a rotation. Placeholders such as
	// {env.SOCKETIO_API_KEY} are resolved when the config loads. Without
	// keys, anyone who reaches the handler may use the API.
	Keys []string `json:"keys,omitempty"`

	api    *httpapi.Handler
	logger *zap.Logger
	missed *sync.Once // the first request that found no server logs it
}

// CaddyModule returns the Caddy module information.
func (APIHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.socketio_api",
		New: func() caddy.Module { return new(APIHandler) },
	}
}

// Provision resolves the keys and makes the API handler; the server is
// looked up on each request.
func (a *APIHandler) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.missed = new(sync.Once)
	if a.Server == "" {
		a.Server = "/socket.io/"
	}
	repl := caddy.NewReplacer()
	keys := make([]string, 0, len(a.Keys))
	for i, k := range a.Keys {
		v := strings.TrimSpace(repl.ReplaceKnown(k, ""))
		if v == "" {
			// k is a placeholder here (a literal key is never empty), so
			// naming it shows no secret.
			return fmt.Errorf("socketio_api key %d (%s) is empty once placeholders are resolved; set the environment variable, or remove the key", i+1, k)
		}
		keys = append(keys, v)
	}
	if len(keys) == 0 {
		a.logger.Warn("socketio_api has no key: anyone who reaches it can emit to every client and list or disconnect sockets; the handler cannot see Caddy's other guards, so add key {env.SOCKETIO_API_KEY} unless only trusted hosts can reach this listener",
			zap.String("server", a.Server))
	}
	a.api = httpapi.New(a.find, httpapi.Options{Keys: keys, Logger: a.logger})
	return nil
}

// Validate checks what can be checked without the environment.
func (a *APIHandler) Validate() error {
	for i, k := range a.Keys {
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("socketio_api key %d is empty; give a key, or a placeholder such as {env.SOCKETIO_API_KEY}", i+1)
		}
	}
	return nil
}

// find is the live server of the socketio handler named Server, with its
// max_payload as the body limit.
func (a *APIHandler) find() (httpapi.Target, error) {
	l := lookupLiveServer(a.Server)
	if l == nil && strings.HasPrefix(a.Server, "/") {
		l = lookupLiveServer(normalizePath(a.Server)) // "/socket.io" for the default name "/socket.io/"
	}
	if l == nil {
		err := fmt.Errorf("no socketio handler named %q is running; set socketio_api's server to the socketio handler's name (its path, such as /socket.io/, unless it sets name)", a.Server)
		a.missed.Do(func() { a.logger.Warn("socketio_api request for a server that does not run", zap.Error(err)) })
		return httpapi.Target{}, err
	}
	return httpapi.Target{Server: l.io, MaxBody: l.maxPayload()}, nil
}

// ServeHTTP answers the API request; it never calls next.
func (a *APIHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	a.api.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*APIHandler)(nil)
	_ caddy.Validator             = (*APIHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*APIHandler)(nil)
)
