package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// node is an element of a parsed SVG: what a reader's browser would draw.
type node struct {
	name     string
	attrs    map[string]string
	text     string // the element's own character data
	children []*node
}

// parseSVG parses an SVG document, failing the test when it is not
// well-formed XML (a browser would show nothing).
func parseSVG(t *testing.T, doc string) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	root := &node{}
	stack := []*node{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			top := stack[len(stack)-1]
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			stack[len(stack)-1].text += string(tok)
		}
	}
	if len(root.children) != 1 || root.children[0].name != "svg" {
		t.Fatalf("want one <svg> root element, got %d elements", len(root.children))
	}
	return root.children[0]
}

// find lists the elements under n (n included) that match.
func (n *node) find(match func(*node) bool) []*node {
	var out []*node
	if match(n) {
		out = append(out, n)
	}
	for _, c := range n.children {
		out = append(out, c.find(match)...)
	}
	return out
}

// texts is every <text> a reader sees under n.
func (n *node) texts() []string {
	var out []string
	for _, t := range n.find(func(e *node) bool { return e.name == "text" }) {
		out = append(out, t.text)
	}
	return out
}

func elements(name string) func(*node) bool {
	return func(e *node) bool { return e.name == name }
}

func withAttr(name, key, value string) func(*node) bool {
	return func(e *node) bool { return e.name == name && e.attrs[key] == value }
}

func fixture(t *testing.T) *results {
	t.Helper()
	rs, err := readResults(filepath.Join("testdata", "run", "results.jsonl"), "node")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func mustContain(t *testing.T, what string, texts []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(texts, w) {
			t.Errorf("%s: no text %q among %q", what, w, texts)
		}
	}
}

var src = source{dir: "bench/results/fixture", commit: "abc1234", date: "2026-12-01T23:10Z"}

func TestRSSChartShowsEachServersMedianPerConnectionCount(t *testing.T) {
	c := rssChart(fixture(t), 4, src)
	doc := parseSVG(t, c.svg)
	texts := doc.texts()
	// node at 10,000 ran twice (17,000 and 18,000 bytes): the median.
	mustContain(t, "rss chart", texts,
		"Server memory per idle WebSocket connection",
		"node", "caddy",
		"17.1 KiB", "14.9 KiB",
		"7.17 KiB (0.42×)", "6.48 KiB (0.43×)",
		"10,000", "connections held",
		"bench/compare.sh results: bench/results/fixture, commit abc1234, 2026-12-01T23:10Z")
	for _, srv := range []string{"node", "caddy"} {
		g := doc.find(withAttr("g", "data-server", srv))
		if len(g) != 2 { // the legend and the series
			t.Fatalf("%s: %d groups, want its legend and its series", srv, len(g))
		}
		var ns []string
		for _, p := range g[1].find(elements("circle")) {
			ns = append(ns, p.attrs["data-n"])
		}
		if !slices.Equal(ns, []string{"10000", "19000"}) {
			t.Errorf("%s: points at %q connections, want 10000 and 19000", srv, ns)
		}
		if len(g[1].find(elements("polyline"))) != 1 {
			t.Errorf("%s: no line through its points", srv)
		}
	}
	// More memory is drawn higher: node's point above caddy's.
	nodeY := doc.find(withAttr("circle", "data-value", "15272"))
	caddyY := doc.find(withAttr("circle", "data-value", "6636"))
	if len(nodeY) != 1 || len(caddyY) != 1 || num(t, nodeY[0].attrs["cy"]) >= num(t, caddyY[0].attrs["cy"]) {
		t.Errorf("at 19,000 connections node's 15,272 B must be drawn above caddy's 6,636 B")
	}
}

func TestCPUChartHasARowPerPhaseAndShadesWhereTheReferenceSpendsLess(t *testing.T) {
	c := cpuChart(fixture(t), 4, src)
	doc := parseSVG(t, c.svg)
	rows := doc.find(elements("g"))
	var phases []string
	behind := map[string]bool{}
	for _, r := range rows {
		if p, ok := r.attrs["data-phase"]; ok {
			phases = append(phases, p)
			behind[p] = r.attrs["data-behind"] == "true"
		}
	}
	want := []string{
		"conns n=10000: heartbeat per idle connection",
		"conns n=19000: heartbeat per idle connection",
		"echo c=50: per ack",
		"fanout n=1000: per delivery",
		"fanout n=1000 idle-polling: per delivery",
		"handshake c=50 polling: per handshake",
	}
	if !slices.Equal(phases, want) {
		t.Fatalf("rows %q\nwant %q (EIO 4 only, in the table's order)", phases, want)
	}
	mustContain(t, "cpu chart", doc.texts(),
		"148 µs", "113 µs", "caddy 0.76×", // node's median of 140 and 156
		"104 µs", "153 µs", "caddy 1.47×",
		"77.7 µs", "34.9 µs", "caddy 0.45×",
		"15 µs", "4.5 µs", "caddy 0.30×",
		"4.48 µs", // caddy alone measured it: no ratio
		"169 µs", "80.3 µs", "caddy 0.48×")
	for p, b := range behind {
		if b != (p == "conns n=19000: heartbeat per idle connection") {
			t.Errorf("row %q shaded %t; only where caddy spends more than node", p, b)
		}
	}
	// The log scale: a bar ten times longer in value is not ten times
	// longer on screen, but longer it is.
	echo := doc.find(withAttr("rect", "data-value", "77.7"))
	fan := doc.find(withAttr("rect", "data-value", "4.5"))
	if len(echo) != 1 || len(fan) != 1 || num(t, echo[0].attrs["width"]) <= num(t, fan[0].attrs["width"]) {
		t.Errorf("node's 77.7 µs bar must be longer than caddy's 4.5 µs")
	}
}

func TestLatencyChartPoolsRunsAndMarksTheQuantiles(t *testing.T) {
	rs := fixture(t)
	echo := parseSVG(t, cdfChart(rs, 4, "echo", src).svg)
	mustContain(t, "echo cdf", echo.texts(),
		"Latency distribution: echo c=50",
		"node: p50 1 ms · p99 20 ms (200 acks, 2 run(s))", // two runs of 100 samples, pooled
		"caddy: p50 500 µs · p99 1.5 ms (100 acks, 1 run(s))",
		"50%", "90%", "99%", "1 ms", "10 ms")
	if slices.Contains(echo.texts(), "99.9%") {
		t.Errorf("200 samples cannot show a p99.9, yet the axis goes there")
	}

	fanout := parseSVG(t, cdfChart(rs, 4, "fanout", src).svg)
	mustContain(t, "fanout cdf", fanout.texts(),
		"node: p50 15 ms · p99 100 ms · p99.9 150 ms (1,000 deliveries, 1 run(s))",
		"caddy: p50 4 ms · p99 30 ms · p99.9 45 ms (1,000 deliveries, 1 run(s))",
		"99.9%")
	for _, srv := range []string{"node", "caddy"} {
		g := fanout.find(withAttr("g", "data-server", srv))
		line := g[len(g)-1].find(elements("polyline"))
		if len(line) != 1 {
			t.Fatalf("%s: %d lines, want its CDF", srv, len(line))
		}
		// A CDF only climbs: each point is right of and above the last
		// (SVG's y grows downwards).
		pts := strings.Fields(line[0].attrs["points"])
		lastX, lastY := -1.0, 1e9
		for _, p := range pts {
			x, y, _ := strings.Cut(p, ",")
			px, py := num(t, x), num(t, y)
			if px < lastX || py > lastY {
				t.Fatalf("%s: the CDF goes back at %s after (%v,%v)", srv, p, lastX, lastY)
			}
			lastX, lastY = px, py
		}
	}
	// Further left is faster: caddy's p99 marker left of node's.
	n99 := fanout.find(withAttr("circle", "data-value", "100000"))
	c99 := fanout.find(withAttr("circle", "data-value", "30000"))
	if len(n99) != 1 || len(c99) != 1 || num(t, c99[0].attrs["cx"]) >= num(t, n99[0].attrs["cx"]) {
		t.Errorf("caddy's 30 ms p99 must be drawn left of node's 100 ms")
	}
}

func TestChartsWithoutDataAreLeftOutAndSayWhy(t *testing.T) {
	rs := fixture(t)
	if c := cdfChart(rs, 4, "polling", src); c.svg != "" || !strings.Contains(c.skipped, "no polling phase") {
		t.Errorf("polling: %q", c.skipped)
	}
	if c := rssChart(rs, 3, src); c.svg != "" || !strings.Contains(c.skipped, "EIO 3") {
		t.Errorf("EIO 3 has no conns phase: %q", c.skipped)
	}
	// A results file of a load generator that wrote no histograms.
	dir := t.TempDir()
	line := `{"scenario":"echo","server":"node","eio":4,"transport":"websocket","n":50,"ops":10,"p50_us":1000,"p99_us":2000,"cpu_us_per_op":70}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "results.jsonl"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	old, err := readResults(filepath.Join(dir, "results.jsonl"), "node")
	if err != nil {
		t.Fatal(err)
	}
	if c := cdfChart(old, 4, "echo", src); c.svg != "" || !strings.Contains(c.skipped, "no latency_histogram") {
		t.Errorf("echo without histograms: %q", c.skipped)
	}
}

func TestRunWritesTheChartsOfAResultsDirectory(t *testing.T) {
	out := t.TempDir()
	var log bytes.Buffer
	if err := run([]string{"-out", out, "-cdf", "echo fanout polling", filepath.Join("testdata", "run")}, &log); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"rss-per-connection.svg", "cpu-per-operation.svg", "latency-echo.svg", "latency-fanout.svg"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		doc := parseSVG(t, string(b))
		// The footer names the run, from machine.txt.
		mustContain(t, f, doc.texts(), "bench/compare.sh results: testdata/run, commit abc1234, 2026-12-01T23:10Z")
		if !strings.Contains(log.String(), "wrote "+filepath.Join(out, f)) {
			t.Errorf("the log does not say it wrote %s:\n%s", f, log.String())
		}
	}
	if !strings.Contains(log.String(), "left out "+filepath.Join(out, "latency-polling.svg")) {
		t.Errorf("the log does not say why latency-polling.svg is missing:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(out, "latency-polling.svg")); !os.IsNotExist(err) {
		t.Errorf("latency-polling.svg written without data: %v", err)
	}
}

func TestRunRejectsWhatItCannotDraw(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "results.jsonl"), []byte("== a log line only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "results.jsonl"), []byte("{\"scenario\": 4}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{empty}, "has no result lines; run bench/compare.sh"},
		{[]string{bad}, "results.jsonl:1: not a load generator result line"},
		{[]string{filepath.Join(empty, "missing")}, "no such file"},
		{[]string{"-eio", "5", empty}, "-eio 5"},
		{nil, "want one results directory"},
	} {
		err := run(append([]string{"-out", t.TempDir()}, tc.args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("charts %q: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

func TestAxisNumbersReadAsPeopleWriteThem(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{micros(850), "850 µs"}, {micros(1520), "1.52 ms"}, {micros(12416), "12.4 ms"},
		{micros(1000), "1 ms"}, {micros(2.5e6), "2.5 s"}, {micros(4.5), "4.5 µs"},
		{kib(7346), "7.17 KiB"}, {thousands(19000), "19,000"}, {thousands(999), "999"},
		{sig(1234567), "1,234,567"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	sc := scale{min: 1, max: 1000, lo: 0, hi: 600, log: true} // 200 pixels a decade
	if got := sc.ticks(); !slices.Equal(got, []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}) {
		t.Errorf("log ticks over three wide decades: %v", got)
	}
	if sc.at(10) != 200 || sc.at(1000) != 600 {
		t.Errorf("log scale: 10 at %v, 1000 at %v; want 200 and 600", sc.at(10), sc.at(1000))
	}
	sc.hi = 150
	if got := sc.ticks(); !slices.Equal(got, []float64{1, 10, 100, 1000}) {
		t.Errorf("log ticks over three narrow decades: %v", got)
	}
	if lo, hi := logRange(3.4, 153); lo != 2 || hi != 200 {
		t.Errorf("logRange(3.4, 153) = %v, %v; want 2, 200", lo, hi)
	}
}

func num(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number: %v", s, err)
	}
	return v
}

// A run of one server alone (compare.sh --servers caddy) keeps Caddy's
// colour, and has no ratios to show.
func TestEachServerKeepsItsColourInARunOfItsOwn(t *testing.T) {
	both := parseSVG(t, cpuChart(fixture(t), 4, src).svg)
	for srv, want := range map[string]string{"node": "#E69F00", "caddy": "#0072B2"} {
		for _, bar := range both.find(withAttr("rect", "data-server", srv)) {
			if bar.attrs["fill"] != want {
				t.Fatalf("%s's bar is %s, want %s", srv, bar.attrs["fill"], want)
			}
		}
	}

	dir := t.TempDir()
	lines := `{"scenario":"echo","server":"caddy","eio":4,"transport":"websocket","n":50,"ops":100,"cpu_us_per_op":20,"latency_histogram":[[800,99],[5000,1]]}
{"scenario":"fanout","server":"caddy","eio":4,"transport":"websocket","n":1000,"ops":100,"cpu_us_per_op":5,"latency_histogram":[[3000,100]]}
`
	if err := os.WriteFile(filepath.Join(dir, "results.jsonl"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	alone, err := readResults(filepath.Join(dir, "results.jsonl"), "node")
	if err != nil {
		t.Fatal(err)
	}
	cpu := parseSVG(t, cpuChart(alone, 4, src).svg)
	bars := cpu.find(withAttr("rect", "data-server", "caddy"))
	if len(bars) != 2 || bars[0].attrs["fill"] != "#0072B2" {
		t.Fatalf("caddy alone: %d bars, the first %v; want 2 in Caddy's blue", len(bars), bars)
	}
	if n := len(cpu.find(withAttr("text", "class", "ratio"))); n != 0 {
		t.Errorf("%d ratios drawn with no reference server in the run", n)
	}
	if n := len(cpu.find(withAttr("g", "data-behind", "true"))); n != 0 {
		t.Errorf("%d rows shaded with no reference server in the run", n)
	}
	echo := parseSVG(t, cdfChart(alone, 4, "echo", src).svg)
	line := echo.find(withAttr("g", "data-server", "caddy"))
	if len(line) != 2 || !strings.Contains(line[1].find(elements("polyline"))[0].attrs["stroke"], "#0072B2") {
		t.Errorf("caddy alone: its CDF is not in Caddy's blue")
	}
	mustContain(t, "caddy alone", echo.texts(), "caddy: p50 800 µs · p99 800 µs (100 acks, 1 run(s))")
}
