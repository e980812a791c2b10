package main

import (
	"fmt"
	"math"
	"sort"

	"github.com/caddy-socketio/caddy-socketio/bench/internal/resultlines"
)

// result is the part of a load generator result line (bench/loadgen's
// result.go) that the charts show.
type result struct {
	Scenario  string `json:"scenario"`
	Server    string `json:"server"`
	Variant   string `json:"variant"`
	Protocol  int    `json:"eio"`
	Transport string `json:"transport"`
	N         int    `json:"n"`

	Ops              int64      `json:"ops"`
	P50us            int64      `json:"p50_us"`
	P99us            int64      `json:"p99_us"`
	CPUusPerOp       float64    `json:"cpu_us_per_op"`
	BytesPerOp       float64    `json:"bytes_per_op"`
	HeartbeatCPUus   float64    `json:"heartbeat_cpu_us"`
	LatencyHistogram [][2]int64 `json:"latency_histogram"`
}

// phase identifies the results that measure the same thing, run after run,
// as `loadgen table` groups them.
type phase struct {
	scenario, variant, transport string
	eio, n                       int
}

func (p phase) String() string {
	size := "c"
	if p.scenario == "conns" || p.scenario == "fanout" || p.scenario == "storm" {
		size = "n"
	}
	s := fmt.Sprintf("%s %s=%d", p.scenario, size, p.n)
	if p.transport != "websocket" {
		s += " " + p.transport
	}
	if p.variant != "" {
		s += " " + p.variant
	}
	return s
}

// results holds a results file's lines by phase and server.
type results struct {
	byPhase map[phase]map[string][]result
	servers []string // the reference server first, then the others sorted
}

// readResults reads a results.jsonl file (resultlines.Read, as `loadgen
// table` does).
func readResults(name, ref string) (*results, error) {
	rs := &results{byPhase: map[phase]map[string][]result{}}
	seen := map[string]bool{}
	err := resultlines.Read(name, func(r result) {
		p := phase{r.Scenario, r.Variant, r.Transport, r.Protocol, r.N}
		if rs.byPhase[p] == nil {
			rs.byPhase[p] = map[string][]result{}
		}
		rs.byPhase[p][r.Server] = append(rs.byPhase[p][r.Server], r)
		seen[r.Server] = true
	})
	if err != nil {
		return nil, err
	}
	if len(rs.byPhase) == 0 {
		return nil, fmt.Errorf("%s has no result lines; run bench/compare.sh to fill it", name)
	}
	if seen[ref] {
		rs.servers = append(rs.servers, ref)
	}
	var others []string
	for s := range seen {
		if s != ref {
			others = append(others, s)
		}
	}
	sort.Strings(others)
	rs.servers = append(rs.servers, others...)
	return rs, nil
}

var scenarioOrder = []string{"conns", "echo", "fanout", "handshake", "polling", "storm"}

// phases lists the phases of one protocol that match keep, in the table's
// order: by scenario, size, transport and variant.
func (rs *results) phases(eio int, keep func(phase) bool) []phase {
	rank := map[string]int{}
	for i, s := range scenarioOrder {
		rank[s] = i + 1
	}
	var ps []phase
	for p := range rs.byPhase {
		if p.eio == eio && keep(p) {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		ra, rb := rank[a.scenario], rank[b.scenario]
		if ra == 0 {
			ra = len(rank) + 1 // a scenario this program does not know yet goes last
		}
		if rb == 0 {
			rb = len(rank) + 1
		}
		switch {
		case ra != rb:
			return ra < rb
		case a.scenario != b.scenario:
			return a.scenario < b.scenario
		case a.n != b.n:
			return a.n < b.n
		case a.transport != b.transport:
			return a.transport < b.transport
		}
		return a.variant < b.variant
	})
	return ps
}

// median is the median of a figure over a server's runs of a phase, leaving
// out the runs that did not measure it (0); ok is false when none did.
func median(rs []result, value func(result) float64) (m float64, runs int, ok bool) {
	var vs []float64
	for _, r := range rs {
		if v := value(r); v > 0 && !math.IsNaN(v) {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, 0, false
	}
	sort.Float64s(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], len(vs), true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, len(vs), true
}

// distribution is a latency histogram pooled over runs: bucket values in
// increasing order and their counts.
type distribution struct {
	values []int64
	counts []int64
	total  int64
}

// pooled adds up the latency histograms of a server's runs of a phase;
// ok is false when no run wrote one (an older load generator's lines).
func pooled(rs []result) (d distribution, runs int, ok bool) {
	sum := map[int64]int64{}
	for _, r := range rs {
		if len(r.LatencyHistogram) == 0 {
			continue
		}
		runs++
		for _, b := range r.LatencyHistogram {
			if b[1] > 0 {
				sum[b[0]] += b[1]
			}
		}
	}
	if len(sum) == 0 {
		return d, 0, false
	}
	for v := range sum {
		d.values = append(d.values, v)
	}
	sort.Slice(d.values, func(i, j int) bool { return d.values[i] < d.values[j] })
	for _, v := range d.values {
		d.counts = append(d.counts, sum[v])
		d.total += sum[v]
	}
	return d, runs, true
}

// quantile is the latency below which a fraction q of the samples lie, by
// the load generator's rule (the bucket holding rank q·n, rounded): for one
// run, the table's p50 and p99; for several, those of all runs' samples
// together (the table shows the median of each run's).
func (d distribution) quantile(q float64) int64 {
	rank := max(int64(q*float64(d.total)+0.5), 1)
	var seen int64
	for i, c := range d.counts {
		if seen += c; seen >= rank {
			return d.values[i]
		}
	}
	return d.values[len(d.values)-1]
}
