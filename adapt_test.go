package caddysocketio

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the expected JSON of the golden adapt tests (review the diff)")

// TestCaddyfileAdapt adapts each testdata/caddyfile_adapt/*.caddyfiletest:
// a Caddyfile, a line of dashes, then either the JSON Caddy must produce or
// the error it must report (file:line included).
func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "caddyfile_adapt", "*.caddyfiletest"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden adapt tests found: %v", err)
	}
	const separator = "\n----------\n"
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, expected, ok := strings.Cut(string(data), separator)
			if !ok {
				t.Fatalf("%s has no %q line", file, strings.TrimSpace(separator))
			}
			expected = strings.TrimSpace(expected)
			out, _, adaptErr := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), nil)
			var got string
			if adaptErr != nil {
				got = adaptErr.Error()
			} else {
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, out, "", "\t"); err != nil {
					t.Fatal(err)
				}
				got = pretty.String()
			}
			if *update && (expected == "" || strings.HasPrefix(expected, "{")) {
				if err := os.WriteFile(file, []byte(input+separator+got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if expected == "" {
				t.Fatalf("%s has no expected output; run go test -run TestCaddyfileAdapt -update and review it", file)
			}
			if strings.HasPrefix(expected, "{") {
				if adaptErr != nil {
					t.Fatalf("adapting failed: %v", adaptErr)
				}
				if got != expected {
					t.Errorf("adapted JSON differs\n--- got\n%s\n--- want\n%s", got, expected)
				}
				return
			}
			if adaptErr == nil {
				t.Fatalf("adapting succeeded, want the error %q", expected)
			}
			if !strings.Contains(got, expected) {
				t.Errorf("error\n got %s\nwant %s", got, expected)
			}
		})
	}
}
