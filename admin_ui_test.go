package caddysocketio

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"go.uber.org/zap"
	"golang.org/x/crypto/argon2"
)

// hashOf is what `caddy hash-password` prints for password.
func hashOf(t *testing.T, password string, h caddyauth.Hasher) string {
	t.Helper()
	b, err := h.Hash([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAdminUIBlock(t *testing.T) {
	bcrypt := hashOf(t, "s3cret", caddyauth.BcryptHash{})
	h, err := parse(t, "socketio {\n admin_ui {\n  namespace /ops\n  username admin\n  password "+bcrypt+"\n  mode production\n  read_only\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(h)
	if want := `{"admin_ui":{"namespace":"/ops","username":"admin","password":"` + bcrypt + `","mode":"production","read_only":true}}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	h, err = parse(t, "socketio {\n admin_ui {\n  auth off\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(h); string(got) != `{"admin_ui":{"auth_off":true}}` {
		t.Errorf("auth off: %s", got)
	}
}

func TestAdminUIBlockErrors(t *testing.T) {
	for _, c := range []struct{ name, block, says string }{
		{"no password", "username admin", "a username and a password hash are required (or `auth off`"},
		{"nothing", "", "make one with `caddy hash-password`"},
		{"a plain password", "username admin\n  password hunter2", "password must be a bcrypt or argon2id hash, not the password itself"},
		{"a cut bcrypt hash", "username admin\n  password $2a$14$Zkx19XLiW6VYouLHR5N", "password is not a valid bcrypt hash"},
		{"auth on", "auth on", `auth takes only off`},
		{"auth off with a password", "auth off\n  username admin", "auth off cannot be combined with username and password"},
		{"mode", "auth off\n  mode staging", `mode "staging" is not development or production`},
		{"namespace", "auth off\n  namespace admin", `namespace "admin" must start with /`},
		{"unknown", "auth off\n  colour blue", `unknown admin_ui subdirective "colour"`},
		{"twice", "auth off\n  read_only\n  read_only", "read_only is set twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(t, "socketio {\n admin_ui {\n  "+c.block+"\n }\n}")
			if err == nil || !strings.Contains(err.Error(), c.says) || !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("got %v, want an error at its line saying %q", err, c.says)
			}
		})
	}
}

// argon2idHash is the PHC string `caddy hash-password --algorithm
// argon2id` prints (small parameters, for speed).
func argon2idHash(password string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(password), salt, 1, 8*1024, 1, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=1,p=1$%s$%s", argon2.Version, 8*1024, enc.EncodeToString(salt), enc.EncodeToString(key))
}

func TestAdminUIPasswordHashes(t *testing.T) {
	for _, hash := range []string{hashOf(t, "s3cret", caddyauth.BcryptHash{}), argon2idHash("s3cret")} {
		a := &AdminUI{Username: "admin", Password: hash}
		if err := a.validate(); err != nil {
			t.Fatal(err)
		}
		check := a.options("app", zap.NewNop()).Authenticate
		if !check("admin", "s3cret") || check("admin", "s3cre") || check("root", "s3cret") {
			t.Errorf("%.10s: the right login must pass, a wrong password or username not", hash)
		}
	}
}
