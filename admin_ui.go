package caddysocketio

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-socketio/caddy-socketio/adminui"
)

// AdminUI serves the official Socket.IO Admin UI's protocol
// (@socket.io/admin-ui 0.5.1) on a namespace of the server.
type AdminUI struct {
	// Namespace the UI connects to; "/admin" by default.
	Namespace string `json:"namespace,omitempty"`
	// Username and Password log the UI in; Password is a hash, as
	// `caddy hash-password` makes it (bcrypt or argon2id), as basic_auth
	// takes it.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// AuthOff lets the UI in without a login: anyone who reaches the
	// namespace can see every socket and, unless ReadOnly, disconnect them.
	AuthOff bool `json:"auth_off,omitempty"`
	// Mode is "development" (the default, as Node's admin-ui without
	// NODE_ENV) or "production", which sends only the statistics.
	Mode string `json:"mode,omitempty"`
	// ReadOnly refuses the UI's commands (emit, join, leave, disconnect).
	ReadOnly bool `json:"read_only,omitempty"`
}

const hashHint = "make one with `caddy hash-password` (bcrypt by default, or --algorithm argon2id) and give its output"

// validate checks the block; a missing password is an error, so that an
// admin namespace is never open by mistake.
func (a *AdminUI) validate() error {
	if a == nil {
		return nil
	}
	if a.Namespace != "" && !strings.HasPrefix(a.Namespace, "/") {
		return fmt.Errorf("admin_ui: namespace %q must start with /", a.Namespace)
	}
	switch a.Mode {
	case "", "development", "production":
	default:
		return fmt.Errorf("admin_ui: mode %q is not development or production", a.Mode)
	}
	if a.AuthOff {
		if a.Username != "" || a.Password != "" {
			return errors.New("admin_ui: auth off cannot be combined with username and password; keep one")
		}
		return nil
	}
	if a.Username == "" || a.Password == "" {
		return errors.New("admin_ui: a username and a password hash are required (or `auth off`, to let anyone who reaches the namespace in); " + hashHint)
	}
	if _, err := a.comparer(); err != nil {
		return err
	}
	return nil
}

// comparer is the hash algorithm of Password, told by its prefix.
func (a *AdminUI) comparer() (caddyauth.Comparer, error) {
	switch {
	case strings.HasPrefix(a.Password, "$2a$"), strings.HasPrefix(a.Password, "$2b$"), strings.HasPrefix(a.Password, "$2y$"):
		if _, err := bcrypt.Cost([]byte(a.Password)); err != nil {
			return nil, fmt.Errorf("admin_ui: password is not a valid bcrypt hash: %v; %s", err, hashHint)
		}
		return caddyauth.BcryptHash{}, nil
	case strings.HasPrefix(a.Password, "$argon2id$"):
		if _, _, err := caddyauth.DecodeHash([]byte(a.Password)); err != nil {
			return nil, fmt.Errorf("admin_ui: password is not a valid argon2id hash: %v; %s", err, hashHint)
		}
		return caddyauth.Argon2idHash{}, nil
	}
	return nil, errors.New("admin_ui: password must be a bcrypt or argon2id hash, not the password itself; " + hashHint)
}

// options are the adminui package's options for this block.
func (a *AdminUI) options(serverName string, logger *zap.Logger) adminui.Options {
	hostname, _ := os.Hostname()
	o := adminui.Options{
		ReadOnly:   a.ReadOnly,
		Production: a.Mode == "production",
		Logger:     logger,
		// Two servers in one process, or two Caddy nodes on one host, are
		// told apart in the UI.
		ServerID: fmt.Sprintf("%s#%d %s", hostname, os.Getpid(), serverName),
	}
	if a.AuthOff {
		return o
	}
	cmp, _ := a.comparer() // validated
	username, hash := []byte(a.Username), []byte(a.Password)
	o.Authenticate = func(user, password string) bool {
		ok, err := cmp.Compare(hash, []byte(password))
		if err != nil {
			logger.Error("admin_ui: checking a password failed", zap.Error(err))
			return false
		}
		return ok && subtle.ConstantTimeCompare([]byte(user), username) == 1
	}
	return o
}

// configureAdminUI starts, reconfigures or stops the server's Admin UI for
// the config whose options now apply; called with l.mu held. A reload that
// moves it to another namespace stops the old one (that namespace then
// refuses connections).
func (l *liveServer) configureAdminUILocked(a *AdminUI, logger *zap.Logger) {
	if l.adminUI != nil && (a == nil || l.adminUI.Namespace() != adminNamespace(a)) {
		l.adminUI.Stop()
		l.adminUI = nil
	}
	if a == nil || l.stopped {
		return
	}
	if l.adminUI == nil {
		l.adminUI = adminui.New(l.io, adminNamespace(a), a.options(l.name, logger))
		return
	}
	l.adminUI.SetOptions(a.options(l.name, logger))
}

func adminNamespace(a *AdminUI) string {
	if a.Namespace == "" {
		return "/admin"
	}
	return a.Namespace
}

// parseAdminUI reads an admin_ui block:
//
//	admin_ui {
//		namespace /admin
//		username admin
//		password <hash>
//		auth off
//		mode development|production
//		read_only
//	}
func parseAdminUI(d *caddyfile.Dispenser) (*AdminUI, error) {
	start := d.Token() // errors of the whole block point at its first line
	if d.NextArg() {
		return nil, d.Errf("admin_ui takes no value, its options go in its block: got %q", d.Val())
	}
	a := &AdminUI{}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return nil, d.Errf("admin_ui: %s is set twice", opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "namespace":
			a.Namespace, err = oneArg(d)
		case "username":
			a.Username, err = oneArg(d)
		case "password":
			a.Password, err = oneArg(d)
		case "auth":
			var v string
			if v, err = oneArg(d); err == nil && v != "off" {
				err = d.Errf("admin_ui: auth takes only off (to let the UI in without a login), got %q", v)
			}
			a.AuthOff = true
		case "mode":
			a.Mode, err = oneArg(d)
		case "read_only":
			err = noArgs(d)
			a.ReadOnly = true
		default:
			return nil, d.Errf("unknown admin_ui subdirective %q (expected namespace, username, password, auth, mode or read_only)", opt)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := a.validate(); err != nil {
		return nil, errAt(start, err)
	}
	return a, nil
}
