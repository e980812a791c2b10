package caddysocketio

import (
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-socketio/caddy-socketio/adminapi"
)

func init() {
	caddy.RegisterModule(AdminAPI{})
}

// AdminAPI is the admin.api.socketio module: package adminapi's read-only
// routes on Caddy's admin endpoint, under /socketio/, over the live
// servers of the running config. Caddy loads every admin.api module by
// itself: there is nothing to configure.
type AdminAPI struct {
	api *adminapi.Handler
}

// CaddyModule returns the Caddy module information.
func (AdminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.socketio",
		New: func() caddy.Module { return new(AdminAPI) },
	}
}

// Provision sets the API up over the live servers.
func (a *AdminAPI) Provision(caddy.Context) error {
	a.api = &adminapi.Handler{Prefix: "/socketio/", Servers: adminServers}
	return nil
}

// Routes returns the API's route.
func (a *AdminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/socketio/", Handler: caddy.AdminHandlerFunc(a.serve)}}
}

func (a *AdminAPI) serve(w http.ResponseWriter, r *http.Request) error {
	err := a.api.Serve(w, r)
	if e := (*adminapi.Error)(nil); errors.As(err, &e) {
		return caddy.APIError{HTTPStatus: e.Status, Err: e}
	}
	return err
}

// adminServers is every live server with the options of the config that
// runs it.
func adminServers() []adminapi.Server {
	var out []adminapi.Server
	for _, name := range liveServerNames() {
		if l := lookupLiveServer(name); l != nil {
			out = append(out, adminapi.Server{Name: name, Options: l.adminOptions(), IO: l.io})
		}
	}
	return out
}

// adminOptions are the options a server runs with, as the admin API shows
// them: those of the handler whose options apply (defaults filled in), and
// never a secret (the adapter's settings are only its kind).
type adminOptions struct {
	Path               string   `json:"path"`
	Transports         []string `json:"transports"`
	AllowUpgrades      bool     `json:"allow_upgrades"`
	AllowEIO3          bool     `json:"allow_eio3"`
	PingInterval       string   `json:"ping_interval"`
	PingTimeout        string   `json:"ping_timeout"`
	UpgradeTimeout     string   `json:"upgrade_timeout"`
	ConnectTimeout     string   `json:"connect_timeout"`
	MaxPayload         int64    `json:"max_payload"`
	PerMessageDeflate  bool     `json:"per_message_deflate"`
	CORSOrigins        []string `json:"cors_origins,omitempty"`
	DisableOriginCheck bool     `json:"disable_origin_check"`
	Adapter            string   `json:"adapter"`
	Namespaces         []string `json:"namespaces"`
}

func (l *liveServer) adminOptions() *adminOptions {
	l.mu.Lock()
	h := l.holders[l.active.Load()].handler
	if h == nil { // no request yet since the config that holds it loaded
		var newest uint64
		for g, hd := range l.holders {
			if g > newest {
				h, newest = hd.handler, g
			}
		}
	}
	l.mu.Unlock()
	if h == nil {
		return nil
	}
	or := func(d caddy.Duration, def time.Duration) string {
		if d > 0 {
			return time.Duration(d).String()
		}
		return def.String()
	}
	o := &adminOptions{
		Path:               h.Path,
		Transports:         h.Transports,
		AllowUpgrades:      h.AllowUpgrades == nil || *h.AllowUpgrades,
		AllowEIO3:          h.AllowEIO3,
		PingInterval:       or(h.PingInterval, 25*time.Second),
		PingTimeout:        or(h.PingTimeout, 20*time.Second),
		UpgradeTimeout:     or(h.UpgradeTimeout, 10*time.Second),
		ConnectTimeout:     or(h.ConnectTimeout, 45*time.Second),
		MaxPayload:         h.MaxPayload,
		PerMessageDeflate:  h.PerMessageDeflate,
		DisableOriginCheck: h.DisableOriginCheck,
		Adapter:            "memory",
		Namespaces:         []string{},
	}
	if len(o.Transports) == 0 {
		o.Transports = []string{"polling", "websocket"}
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = 1e6
	}
	if h.CORS != nil {
		o.CORSOrigins = h.CORS.Origins
	}
	if h.adapter != nil {
		o.Adapter = h.adapter.PoolKey()
	}
	for _, ns := range h.Namespaces {
		o.Namespaces = append(o.Namespaces, ns.Name)
	}
	return o
}

// Interface guards
var (
	_ caddy.Provisioner = (*AdminAPI)(nil)
	_ caddy.AdminRouter = (*AdminAPI)(nil)
)
