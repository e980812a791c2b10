package integration_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddy-socketio/caddy-socketio/internal/testpeer"
)

// browserScenario is one case of the Socket.IO "Handling CORS" guide: a
// socketio endpoint of its own (path /<name>/) and a page that connects to it.
type browserScenario struct {
	name string
	// socketio is the body of the endpoint's socketio block, without its
	// path; %PAGE% stands for the page's origin, %SERVER% for the server's,
	// %IP_PAGE% and %LOCALHOST_PAGE% for the page origins by IP and by name,
	// %PAGE_PORT% for the page's port.
	socketio string
	// from is the page that connects: "cross" (another port, the usual
	// case), "same" (the endpoint's own origin), "localhost" (both on
	// localhost, different ports), or a host name under example.test
	// (which Chromium resolves to 127.0.0.1): the page is then served from
	// that name and the server from api.example.test.
	from        string
	client      string         // "v4" (default) or "v2": which socket.io-client bundle the page loads
	options     map[string]any // the client options; path is added
	waitUpgrade bool           // wait for the upgrade to WebSocket (or its failure) before reporting
	emit        *emitSpec      // an event sent after connecting, answered by an ack
	cookies     bool           // give the browser a cookie "session=abc" for the server's origin
	check       browserCheck
}

type emitSpec struct {
	Event string `json:"event"`
	Args  []any  `json:"args"`
}

// browserResult is what testdata/browser.js saw in the page.
type browserResult struct {
	Name           string            `json:"name"`
	Outcome        string            `json:"outcome"` // connect, connect_error, timeout, script error
	Error          string            `json:"error"`
	Description    string            `json:"description"`
	ID             string            `json:"id"`
	Transport      string            `json:"transport"`
	Ack            json.RawMessage   `json:"ack"`
	Console        []string          `json:"console"`
	PageErrors     []string          `json:"pageErrors"`
	FailedRequests []string          `json:"failedRequests"`
	Responses      []browserResponse `json:"responses"`
	Ms             int               `json:"ms"` // how long the scenario took, for the log
}

type browserResponse struct {
	Method         string            `json:"method"`
	URL            string            `json:"url"`
	Status         int               `json:"status"`
	Headers        map[string]string `json:"headers"`
	RequestHeaders map[string]string `json:"requestHeaders"`
}

// origins of one browser run: the server (Caddy's first port) and the page
// (its second port), by IP and by localhost.
type origins struct {
	server, page, localServer, localPage string
	serverPort, pagePort                 int
}

// of returns the page's and the server's origin for s.
func (o origins) of(s browserScenario) (page, server string) {
	switch {
	case s.from == "same":
		return o.server, o.server
	case s.from == "localhost":
		return o.localPage, o.localServer
	case strings.HasSuffix(s.from, ".example.test"):
		return fmt.Sprintf("http://%s:%d", s.from, o.pagePort), fmt.Sprintf("http://api.example.test:%d", o.serverPort)
	}
	return o.page, o.server
}

// runBrowser starts one Caddy with an endpoint per scenario, serving the
// test pages on two ports, runs every scenario in one headless Chromium and
// returns the results by scenario name.
func runBrowser(t *testing.T, scenarios []browserScenario) (map[string]browserResult, origins, *caddyProcess) {
	t.Helper()
	chromium := testpeer.Chromium(t)
	testpeer.Node(t)
	serverPort, pagePort := freePort(t), freePort(t)
	o := origins{
		server:      fmt.Sprintf("http://127.0.0.1:%d", serverPort),
		page:        fmt.Sprintf("http://127.0.0.1:%d", pagePort),
		localServer: fmt.Sprintf("http://localhost:%d", serverPort),
		localPage:   fmt.Sprintf("http://localhost:%d", pagePort),
		serverPort:  serverPort,
		pagePort:    pagePort,
	}

	var endpoints strings.Builder
	type input struct {
		Name        string           `json:"name"`
		Page        string           `json:"page"`
		URL         string           `json:"url"`
		Options     map[string]any   `json:"options"`
		WaitUpgrade bool             `json:"waitUpgrade"`
		Emit        *emitSpec        `json:"emit,omitempty"`
		Cookies     []map[string]any `json:"cookies,omitempty"`
		TimeoutMs   int              `json:"timeoutMs"`
	}
	var inputs []input
	for _, s := range scenarios {
		page, server := o.of(s)
		body := strings.NewReplacer("%PAGE%", page, "%SERVER%", server,
			"%IP_PAGE%", o.page, "%LOCALHOST_PAGE%", o.localPage, "%PAGE_PORT%", fmt.Sprint(pagePort)).Replace(s.socketio)
		fmt.Fprintf(&endpoints, "\thandle /%s/* {\n\t\tsocketio {\n\t\t\tpath /%s/\n%s\n\t\t}\n\t}\n", s.name, s.name, indent(body, "\t\t\t"))

		client := s.client
		if client == "" {
			client = "v4"
		}
		options := map[string]any{"path": "/" + s.name + "/", "reconnection": false}
		for k, v := range s.options {
			options[k] = v
		}
		in := input{
			Name: s.name, Page: page + "/" + client + ".html", URL: server, Options: options,
			WaitUpgrade: s.waitUpgrade, Emit: s.emit, TimeoutMs: 8000,
		}
		if s.cookies {
			in.Cookies = []map[string]any{{"name": "session", "value": "abc", "url": server}}
		}
		inputs = append(inputs, in)
	}

	c := startCaddy(t, fmt.Sprintf(`http://:%d, http://:%d {
	bind 127.0.0.1
%s
	handle_path /vendor/* {
		root * site/vendor
		file_server
	}
	handle_path /node_modules/* {
		root * node_modules
		file_server
	}
	handle {
		root * integration_test/testdata/www
		file_server
	}
}
`, serverPort, pagePort, endpoints.String()))

	file := filepath.Join(t.TempDir(), "scenarios.json")
	data, err := json.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	res := testpeer.RunNode(t, 2*time.Minute, filepath.Join("testdata", "browser.js"),
		"SCENARIOS_FILE="+file, "CHROMIUM="+chromium)
	if res.Err != nil {
		t.Fatalf("browser.js: %v\nstdout: %s\nstderr: %s", res.Err, res.Stdout, res.Stderr)
	}
	var results []browserResult
	if err := json.Unmarshal([]byte(res.Stdout), &results); err != nil {
		t.Fatalf("browser.js printed %q: %v\nstderr: %s", res.Stdout, err, res.Stderr)
	}
	byName := make(map[string]browserResult, len(results))
	for _, r := range results {
		byName[r.Name] = r
	}
	return byName, o, c
}

// indent lays out Caddyfile lines written without indentation: each line
// gets prefix plus one tab per open brace, as `caddy fmt` would (Caddy warns
// about an unformatted Caddyfile).
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	depth := 0
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "}") && depth > 0 {
			depth--
		}
		if l != "" {
			lines[i] = prefix + strings.Repeat("\t", depth) + l
		} else {
			lines[i] = ""
		}
		if strings.HasSuffix(l, "{") {
			depth++
		}
	}
	return strings.Join(lines, "\n")
}

// consoleHas reports whether one console message contains every part.
func (r browserResult) consoleHas(parts ...string) bool {
	for _, m := range r.Console {
		all := true
		for _, p := range parts {
			if !strings.Contains(m, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (r browserResult) String() string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}

func itoa(n int) string { return fmt.Sprint(n) }

// browserCheck asserts what one scenario's page saw; page is its origin.
type browserCheck func(t *testing.T, page string, r browserResult)
