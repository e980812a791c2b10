package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `caddy validate` refuses the unsafe or mistyped configurations README
// warns about, saying where and how to fix them.
func TestCaddyValidateRefusesBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		name, socketio string
		want           []string // parts of the output
	}{
		{
			name:     "wildcard with credentials",
			socketio: "cors {\n\t\t\torigin *\n\t\t\tcredentials\n\t\t}",
			want:     []string{`origin "*" cannot be combined with credentials; list the allowed origins instead`, "Caddyfile:"},
		},
		{
			name:     "typo in an option",
			socketio: "cors {\n\t\t\torigins https://example.com\n\t\t}",
			want:     []string{`unknown cors subdirective "origins"`, "Caddyfile:"},
		},
		{
			name:     "admin_ui without a password",
			socketio: "admin_ui {\n\t\t\tusername admin\n\t\t}",
			want:     []string{"admin_ui: a username and a password hash are required", "caddy hash-password", "Caddyfile:"},
		},
		{
			name:     "cors origin on the directive line",
			socketio: "cors https://example.com",
			want:     []string{"cors takes no argument", "Caddyfile:"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectValidateRefuses(t, "\tsocketio {\n\t\t"+tc.socketio+"\n\t}", tc.want)
		})
	}
}

// expectValidateRefuses runs `caddy validate` on a Caddyfile whose one site
// holds site (its lines indented by one tab) and checks that it fails with
// every text of want in its output, read as the user reads it.
func expectValidateRefuses(t *testing.T, site string, want []string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "Caddyfile")
	config := fmt.Sprintf("%s\nhttp://:%d {\n%s\n}\n", globalOptions("127.0.0.1:0"), freePort(t), site)
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCaddyCommand(dir, "", "validate", "--config", file, "--adapter", "caddyfile")
	if err == nil {
		t.Fatalf("caddy validate accepted:\n%s\noutput:\n%s", config, out)
	}
	// Caddy logs the error as JSON.
	out = strings.ReplaceAll(out, `\"`, `"`)
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("caddy validate output lacks %q:\n%s", w, out)
		}
	}
}
