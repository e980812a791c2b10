package httpapi

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIDocumentsEveryRoute reads the paths of openapi.yaml (path
// keys indented two spaces under "paths:", methods four) and compares them
// with the handler's routes, both ways.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	inPaths, path := false, ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && line != "" && !strings.HasPrefix(line, " "):
			inPaths = false
		case inPaths && strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case inPaths && len(line) > 4 && strings.HasPrefix(line, "    ") && line[4] != ' ':
			method := strings.TrimSuffix(strings.TrimSpace(line), ":")
			switch method {
			case "get", "post", "put", "delete", "patch":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(documented)
	routes := Routes()
	sort.Strings(routes)
	if strings.Join(documented, "\n") != strings.Join(routes, "\n") {
		t.Errorf("openapi.yaml documents:\n%s\nthe handler serves:\n%s", strings.Join(documented, "\n"), strings.Join(routes, "\n"))
	}
}
