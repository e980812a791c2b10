package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var familyName = regexp.MustCompile(`caddy_socketio_[a-z_]+`)

// names returns the metric family names the collector describes.
func names() map[string]bool {
	out := map[string]bool{}
	for _, d := range descs {
		name := familyName.FindString(d.Desc.String())
		out[name] = true
	}
	return out
}

// The README lists every metric, and names none that does not exist.
func TestREADMEListsEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, n := range familyName.FindAllString(string(readme), -1) {
		listed[n] = true
	}
	for n := range names() {
		if !listed[n] {
			t.Errorf("README does not list %s", n)
		}
	}
	for n := range listed {
		if !names()[n] {
			t.Errorf("README lists %s, which the collector does not have", n)
		}
	}
}

// The Grafana dashboard queries metrics that exist.
func TestGrafanaDashboardUsesExistingMetrics(t *testing.T) {
	dash, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	used := familyName.FindAllString(string(dash), -1)
	if len(used) == 0 {
		t.Fatal("the dashboard queries no caddy_socketio metric")
	}
	for _, n := range used {
		if base := strings.TrimSuffix(n, "_bucket"); !names()[base] {
			t.Errorf("the dashboard queries %s, which the collector does not have", n)
		}
	}
}
