package cors

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// npmOptions writes o as the options object a Node server would pass to
// npm cors for the same policy: "*" or a single origin as a string, a list
// as an array where wildcards and regexps become anchored RegExps.
func npmOptions(o Options) map[string]any {
	out := map[string]any{}
	switch {
	case len(o.Origins) == 1 && len(o.OriginRegexps) == 0 && !strings.Contains(o.Origins[0], "*.") || len(o.Origins) == 1 && o.Origins[0] == "*":
		out["origin"] = o.Origins[0]
	default:
		var list []any
		for _, s := range o.Origins {
			if scheme, rest, ok := strings.Cut(s, "://*."); ok {
				label := `[a-z0-9]([a-z0-9-]*[a-z0-9])?`
				list = append(list, map[string]string{"regexp": `^` + regexp.QuoteMeta(scheme+"://") + `(` + label + `\.)+` + regexp.QuoteMeta(rest) + `$`})
				continue
			}
			list = append(list, s)
		}
		for _, re := range o.OriginRegexps {
			list = append(list, map[string]string{"regexp": `^(?:` + re + `)$`})
		}
		out["origin"] = list
	}
	if o.Methods != nil {
		out["methods"] = o.Methods
	}
	if o.AllowedHeaders != nil {
		out["allowedHeaders"] = o.AllowedHeaders
	}
	if o.ExposedHeaders != nil {
		out["exposedHeaders"] = o.ExposedHeaders
	}
	if o.Credentials {
		out["credentials"] = true
	}
	if o.MaxAge != nil {
		out["maxAge"] = int(*o.MaxAge / time.Second)
	}
	if o.PreflightContinue {
		out["preflightContinue"] = true
	}
	if o.OptionsSuccessStatus != 0 {
		out["optionsSuccessStatus"] = o.OptionsSuccessStatus
	}
	return out
}

// TestSameHeadersAsNpmCors runs every exchange of TestPolicyHeaders through
// the real npm cors middleware too, and requires the same headers, the same
// status, and the same decision to answer or to pass the request on.
func TestSameHeadersAsNpmCors(t *testing.T) {
	type npmCase struct {
		Options map[string]any    `json:"options"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
		Vary    string            `json:"vary"`
	}
	type npmResult struct {
		Status   int               `json:"status"`
		Answered bool              `json:"answered"`
		Next     bool              `json:"next"`
		Headers  map[string]string `json:"headers"`
	}
	var cases []npmCase
	for _, x := range exchanges {
		cases = append(cases, npmCase{npmOptions(x.opts), x.method, x.header, x.vary})
	}
	input, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(file, input, 0o600); err != nil {
		t.Fatal(err)
	}
	res := testpeer.RunNode(t, 30*time.Second, filepath.Join("testdata", "npm_cors.js"), "CASES_FILE="+file)
	if res.Err != nil {
		t.Fatalf("node: %v\n%s", res.Err, res.Stderr)
	}
	var results []npmResult
	if err := json.Unmarshal([]byte(res.Stdout), &results); err != nil {
		t.Fatalf("node printed %q: %v", res.Stdout, err)
	}
	if len(results) != len(exchanges) {
		t.Fatalf("node answered %d cases, want %d", len(results), len(exchanges))
	}
	for i, x := range exchanges {
		p, err := New(x.opts)
		if err != nil {
			t.Fatal(err)
		}
		w, answered := runExchange(t, p, x)
		npm := results[i]
		if got := corsHeaders(w.Header()); !reflect.DeepEqual(got, npm.Headers) {
			t.Errorf("%s: headers differ from npm cors\n  go %v\n npm %v", x.name, got, npm.Headers)
		}
		if answered != npm.Answered || answered == npm.Next {
			t.Errorf("%s: answered = %v; npm cors answered = %v, called next = %v", x.name, answered, npm.Answered, npm.Next)
		}
		if answered && w.Code != npm.Status {
			t.Errorf("%s: status %d, npm cors %d", x.name, w.Code, npm.Status)
		}
	}
}
