package main

import (
	"fmt"
	"math"
	"strings"
)

// chart is one SVG file to write, or why it was left out.
type chart struct {
	file    string // base name, such as rss-per-connection.svg
	svg     string // empty when skipped
	skipped string
}

const width = 760

// source is the footer line of every chart: which run it shows.
type source struct {
	dir, date, commit string
}

func (s *svg) footer(src source) {
	t := "bench/compare.sh results: " + src.dir
	if src.commit != "" {
		t += ", commit " + src.commit
	}
	if src.date != "" {
		t += ", " + src.date
	}
	s.text(s.w-12, s.h-8, t, `font-size="10" fill="#666" text-anchor="end"`)
}

// rssChart plots the server's resident memory per idle WebSocket
// connection against the connections held (the conns phases).
func rssChart(rs *results, eio int, src source) chart {
	c := chart{file: "rss-per-connection.svg"}
	ps := rs.phases(eio, func(p phase) bool {
		return p.scenario == "conns" && p.transport == "websocket" && p.variant == ""
	})
	type point struct {
		n    int
		v    float64
		runs int
	}
	series := map[string][]point{}
	var ns []int
	var top float64
	for _, p := range ps {
		have := false
		for _, srv := range rs.servers {
			if v, runs, ok := median(rs.byPhase[p][srv], func(r result) float64 { return r.BytesPerOp }); ok {
				series[srv] = append(series[srv], point{p.n, v, runs})
				top = math.Max(top, v)
				have = true
			}
		}
		if have {
			ns = append(ns, p.n)
		}
	}
	if len(ns) == 0 {
		c.skipped = fmt.Sprintf("no conns phase over WebSocket at EIO %d with RSS figures", eio)
		return c
	}

	const left, right, top0, bottom = 80.0, 30.0, 78.0, 62.0
	s := newSVG(width, 420, "Server memory per idle WebSocket connection",
		"Resident memory of each server per connection held, against the number of connections; lower is better.")
	s.text(width/2, 40, fmt.Sprintf("RSS after the hold minus the fresh server's, per connection; EIO %d, medians; lower is better", eio), `fill="#444" text-anchor="middle"`)
	s.legend(width-right, 60, rs.servers)
	x := scale{lo: left, hi: width - right - 40}
	switch {
	case ns[len(ns)-1] >= 4*ns[0]:
		x.log = true
		x.min, x.max = logRange(float64(ns[0]), float64(ns[len(ns)-1]))
	default:
		x.min, x.max = 0, float64(ns[len(ns)-1])*1.15
	}
	y := scale{min: 0, lo: 420 - bottom, hi: top0}
	y.max = niceStep(top/1024*1.2/5) * 5 // in KiB, five round steps
	for _, t := range y.ticks() {
		py := y.at(t)
		s.line(left, py, x.hi+20, py, `stroke="#e5e5e5"`)
		s.text(left-8, py+4, sig(t), `text-anchor="end" fill="#444"`)
	}
	for _, t := range x.ticks() {
		px := x.at(t)
		s.line(px, y.lo, px, y.lo+5, `stroke="#888"`)
		s.text(px, y.lo+19, thousands(int64(t)), `text-anchor="middle" fill="#444"`)
	}
	s.line(left, y.lo, x.hi+20, y.lo, `stroke="#888"`)
	xlabel := "connections held"
	if x.log {
		xlabel += " (log scale)"
	}
	s.text((left+x.hi)/2, 420-26, xlabel, `text-anchor="middle" fill="#222"`)
	s.text(0, 0, "KiB per connection", fmt.Sprintf(`transform="translate(22 %.0f) rotate(-90)" text-anchor="middle" fill="#222"`, (y.lo+y.hi)/2))

	ref := rs.servers[0]
	refAt := map[int]float64{}
	for _, p := range series[ref] {
		refAt[p.n] = p.v
	}
	for _, srv := range rs.servers {
		pts := series[srv]
		if len(pts) == 0 {
			continue
		}
		s.raw(`<g class="series" data-server="%s">`+"\n", esc(srv))
		var line []float64
		for _, p := range pts {
			line = append(line, x.at(float64(p.n)), y.at(p.v/1024))
		}
		s.polyline(line, fmt.Sprintf(`stroke="%s" stroke-width="2.5"`, colour(rs.servers, srv)))
		for _, p := range pts {
			px, py := x.at(float64(p.n)), y.at(p.v/1024)
			label := kib(p.v)
			if r, ok := refAt[p.n]; ok && srv != ref && r > 0 {
				label += fmt.Sprintf(" (%.2f×)", p.v/r)
			}
			s.raw(`<circle cx="%.1f" cy="%.1f" r="4.5" fill="%s" data-n="%d" data-value="%.0f"><title>%s, %s connections: %s per connection (median of %d run(s))</title></circle>`+"\n",
				px, py, colour(rs.servers, srv), p.n, p.v, esc(srv), thousands(int64(p.n)), kib(p.v), p.runs)
			s.text(px+8, py-8, label, fmt.Sprintf(`fill="%s" font-weight="600"`, colour(rs.servers, srv)))
		}
		s.raw("</g>\n")
	}
	s.footer(src)
	c.svg = s.String()
	return c
}

// cpuRow is one phase's bars in the CPU chart.
type cpuRow struct {
	label  string
	values map[string]float64 // by server; a server missing did not measure it
}

// perOpNoun says what a scenario's operation is.
var perOpNoun = map[string]string{
	"echo":      "per ack",
	"fanout":    "per delivery",
	"handshake": "per handshake",
	"polling":   "per round trip",
	"storm":     "per connection",
}

// cpuChart draws, for every phase, each server's CPU per operation as
// horizontal bars on a log scale (the costs span two orders of magnitude),
// with this server's ratio to the reference server's; the rows where the
// reference spends less are shaded.
func cpuChart(rs *results, eio int, src source) chart {
	c := chart{file: "cpu-per-operation.svg"}
	var rows []cpuRow
	lo, hi := math.Inf(1), 0.0
	for _, p := range rs.phases(eio, func(phase) bool { return true }) {
		value := func(r result) float64 { return r.CPUusPerOp }
		noun := perOpNoun[p.scenario]
		if noun == "" {
			noun = "per operation"
		}
		if p.scenario == "conns" {
			// The figure of an idle connection is its heartbeat's cost;
			// the ramp's is the handshake's, measured by its own phase.
			value = func(r result) float64 { return r.HeartbeatCPUus }
			noun = "heartbeat per idle connection"
		}
		row := cpuRow{label: p.String() + ": " + noun, values: map[string]float64{}}
		for _, srv := range rs.servers {
			if v, _, ok := median(rs.byPhase[p][srv], value); ok {
				row.values[srv] = v
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		if len(row.values) > 0 {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		c.skipped = fmt.Sprintf("no phase at EIO %d with CPU figures", eio)
		return c
	}

	const width, labelW, ratioW, top0, bar, gap = 820.0, 330.0, 110.0, 86.0, 13.0, 12.0
	rowH := bar*float64(len(rs.servers)) + gap
	h := top0 + rowH*float64(len(rows)) + 70
	s := newSVG(width, h, "Server CPU per operation",
		"Each server's CPU time per operation of every benchmark phase, on a log scale, with the ratio of this server's to the reference server's; lower is better.")
	s.text(width/2, 40, fmt.Sprintf("user + system CPU of the server process over the measured window; EIO %d, medians; log scale; lower is better", eio), `fill="#444" text-anchor="middle"`)
	ref := rs.servers[0]
	if len(rs.servers) > 1 {
		s.text(width/2, 56, fmt.Sprintf("shaded: where %s spends more than %s", strings.Join(rs.servers[1:], " or "), ref), `fill="#444" text-anchor="middle"`)
	}
	s.legend(width-ratioW, 76, rs.servers)
	if len(rs.servers) > 1 {
		s.text(width-12, 76, "ratio to "+ref, `text-anchor="end" fill="#222" font-weight="600"`)
	}
	x := scale{lo: labelW, hi: width - ratioW - 50, log: true}
	x.min, x.max = logRange(lo, hi)
	axisY := top0 + rowH*float64(len(rows))
	for _, t := range x.ticks() {
		px := x.at(t)
		s.line(px, top0-4, px, axisY, `stroke="#e5e5e5"`)
		s.text(px, axisY+16, micros(t), `text-anchor="middle" fill="#444"`)
	}
	s.text((x.lo+x.hi)/2, axisY+36, "server CPU time per operation (log scale)", `text-anchor="middle" fill="#222"`)
	for i, row := range rows {
		y0 := top0 + rowH*float64(i)
		behind := false
		for srv, v := range row.values {
			if r, ok := row.values[ref]; ok && srv != ref && v > r {
				behind = true
			}
		}
		s.raw(`<g class="row" data-phase="%s" data-behind="%t">`+"\n", esc(row.label), behind)
		if behind {
			s.rect(4, y0-gap/2+2, width-8, rowH-2, `fill="#fbe3e3"`)
		}
		s.text(labelW-10, y0+rowH/2-gap/2+4, row.label, `text-anchor="end" fill="#222"`)
		for j, srv := range rs.servers {
			v, ok := row.values[srv]
			if !ok {
				continue
			}
			by := y0 + bar*float64(j)
			s.raw(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" data-server="%s" data-value="%g"><title>%s, %s: %s</title></rect>`+"\n",
				x.lo, by, math.Max(x.at(v)-x.lo, 1), bar-2, colour(rs.servers, srv), esc(srv), v, esc(srv), esc(row.label), micros(v))
			s.text(x.at(v)+4, by+bar-3.5, micros(v), `font-size="11" fill="#222"`)
			if r, ok := row.values[ref]; ok && srv != ref && r > 0 {
				weight := "400"
				if v > r {
					weight = "700"
				}
				s.text(width-12, by+bar-3.5, fmt.Sprintf("%s %.2f×", srv, v/r), fmt.Sprintf(`text-anchor="end" font-weight="%s" fill="#222" class="ratio"`, weight))
			}
		}
		s.raw("</g>\n")
	}
	s.footer(src)
	c.svg = s.String()
	return c
}

// cdfChart draws the latency distribution of one phase (the largest of the
// scenario and variant given, over WebSocket) for every server, all runs'
// samples together: the fraction of operations done within each latency,
// on a y axis that stretches the tail (50%, 90%, 99%, 99.9% equally apart)
// so the p99 and p99.9 a reader cares about are not squeezed into the top.
func cdfChart(rs *results, eio int, selector string, src source) chart {
	scenario, variant, _ := strings.Cut(selector, "/")
	name := "latency-" + scenario
	if variant != "" {
		name += "-" + variant
	}
	c := chart{file: name + ".svg"}
	ps := rs.phases(eio, func(p phase) bool {
		return p.scenario == scenario && p.variant == variant && p.transport == "websocket"
	})
	if len(ps) == 0 {
		c.skipped = fmt.Sprintf("no %s phase over WebSocket at EIO %d", selector, eio)
		return c
	}
	p := ps[len(ps)-1]
	type series struct {
		srv  string
		d    distribution
		runs int
	}
	var all []series
	lo, hi := math.Inf(1), 0.0
	var most int64
	for _, srv := range rs.servers {
		d, runs, ok := pooled(rs.byPhase[p][srv])
		if !ok {
			continue
		}
		all = append(all, series{srv, d, runs})
		lo, hi = math.Min(lo, float64(max(d.values[0], 1))), math.Max(hi, float64(d.values[len(d.values)-1]))
		most = max(most, d.total)
	}
	if len(all) == 0 {
		c.skipped = fmt.Sprintf("the %s results have no latency_histogram (written by a load generator older than the charts); rerun bench/compare.sh", p)
		return c
	}

	what := map[string]string{"echo": "acks", "fanout": "deliveries", "polling": "round trips", "storm": "connections"}[scenario]
	if what == "" {
		what = "operations"
	}
	const left, right, top0 = 80.0, 30.0, 96.0
	h := 460.0 + 18*float64(len(all))
	bottom := 62.0 + 18*float64(len(all))
	title := fmt.Sprintf("Latency distribution: %s", p)
	s := newSVG(width, h, title, fmt.Sprintf("The fraction of %s completed within each latency, per server, on a log latency axis; further left is better.", what))
	s.text(width/2, 40, fmt.Sprintf("fraction of %s within the latency; EIO %d; all runs' samples together; further left is better", what, eio), `fill="#444" text-anchor="middle"`)
	s.text(width/2, 56, "the y axis stretches the tail: 50%, 90%, 99%, 99.9% are equally far apart", `fill="#444" text-anchor="middle"`)
	s.legend(width-right, 78, rs.servers)

	// nines(q) is how many nines q has: 0.9 is 1, 0.99 is 2; the top of
	// the axis is the last nine the samples can resolve.
	topNines := math.Min(math.Max(math.Floor(math.Log10(float64(most))), 2), 5)
	nines := func(q float64) float64 {
		if q >= 1 {
			return topNines
		}
		return math.Min(-math.Log10(1-q), topNines)
	}
	x := scale{lo: left, hi: width - right, log: true}
	x.min, x.max = logRange(lo, hi)
	y := scale{min: 0, max: topNines, lo: h - bottom, hi: top0}
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999} {
		n := 0.0
		if q > 0 {
			n = -math.Log10(1 - q)
		}
		if n > topNines+1e-6 {
			break
		}
		py := y.at(n)
		s.line(left, py, x.hi, py, `stroke="#e5e5e5"`)
		s.text(left-8, py+4, trim(fmt.Sprintf("%.3f", q*100))+"%", `text-anchor="end" fill="#444"`)
	}
	for _, t := range x.ticks() {
		px := x.at(t)
		s.line(px, y.hi, px, y.lo+5, `stroke="#eeeeee"`)
		s.text(px, y.lo+19, micros(t), `text-anchor="middle" fill="#444"`)
	}
	s.line(left, y.lo, x.hi, y.lo, `stroke="#888"`)
	s.text((x.lo+x.hi)/2, y.lo+40, "latency (log scale)", `text-anchor="middle" fill="#222"`)
	s.text(0, 0, "fraction done within", fmt.Sprintf(`transform="translate(22 %.0f) rotate(-90)" text-anchor="middle" fill="#222"`, (y.lo+y.hi)/2))

	marks := []struct {
		q    float64
		name string
	}{{0.5, "p50"}, {0.99, "p99"}, {0.999, "p99.9"}}
	for k, sr := range all {
		col := colour(rs.servers, sr.srv)
		s.raw(`<g class="series" data-server="%s" data-samples="%d">`+"\n", esc(sr.srv), sr.d.total)
		pts := []float64{x.at(x.min), y.at(0)}
		var seen int64
		for j, v := range sr.d.values {
			px := x.at(float64(max(v, 1)))
			pts = append(pts, px, y.at(nines(float64(seen)/float64(sr.d.total))))
			seen += sr.d.counts[j]
			pts = append(pts, px, y.at(nines(float64(seen)/float64(sr.d.total))))
		}
		s.polyline(pts, fmt.Sprintf(`stroke="%s" stroke-width="2.2" stroke-linejoin="round"`, col))
		var summary []string
		for _, m := range marks {
			if -math.Log10(1-m.q) > topNines+1e-6 {
				continue // fewer samples than the quantile needs
			}
			v := sr.d.quantile(m.q)
			s.raw(`<circle cx="%.1f" cy="%.1f" r="4" fill="#fff" stroke="%s" stroke-width="2" data-quantile="%s" data-value="%d"><title>%s %s: %s</title></circle>`+"\n",
				x.at(float64(max(v, 1))), y.at(nines(m.q)), col, m.name, v, esc(sr.srv), m.name, micros(float64(v)))
			summary = append(summary, m.name+" "+micros(float64(v)))
		}
		s.raw("</g>\n")
		line := fmt.Sprintf("%s: %s (%s %s, %d run(s))", sr.srv, strings.Join(summary, " · "), thousands(sr.d.total), what, sr.runs)
		s.text(left, h-bottom+58+18*float64(k), line, fmt.Sprintf(`fill="%s" font-weight="600" class="summary"`, col))
	}
	s.footer(src)
	c.svg = s.String()
	return c
}
