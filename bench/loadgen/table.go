package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/caddy-socketio/caddy-socketio/bench/internal/resultlines"
)

// figure is one number of a result the table shows.
type figure struct {
	name  string
	value func(result) float64
}

// figures lists, per scenario, the numbers worth comparing.
var figures = map[string][]figure{
	"conns": {
		{"connections up after a heartbeat", func(r result) float64 { return float64(r.Up) }},
		{"server RSS per connection (bytes)", func(r result) float64 { return r.BytesPerOp }},
		{"server CPU per connection, ramp and hold (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"server CPU per idle connection per heartbeat (µs)", func(r result) float64 { return r.HeartbeatCPUus }},
	},
	"echo": {
		{"acks/s", func(r result) float64 { return r.OpsPerSec }},
		{"p50 ack latency (µs)", func(r result) float64 { return float64(r.P50us) }},
		{"p99 ack latency (µs)", func(r result) float64 { return float64(r.P99us) }},
		{"server CPU per ack (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"  of which kernel (µs)", func(r result) float64 { return perOp(r.ServerSysus, r.Ops) }},
		{"errors", func(r result) float64 { return float64(r.Errors) }},
	},
	// the echo at a fixed offered rate (the same for both servers).
	"openloop": {
		{"offered events/s", func(r result) float64 { return r.OfferedPerSec }},
		{"acks/s", func(r result) float64 { return r.OpsPerSec }},
		{"p50 ack latency (µs)", func(r result) float64 { return float64(r.P50us) }},
		{"p99 ack latency (µs)", func(r result) float64 { return float64(r.P99us) }},
		{"p99.9 ack latency (µs)", func(r result) float64 { return float64(r.P999us) }},
		{"server CPU per ack (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"  of which kernel (µs)", func(r result) float64 { return perOp(r.ServerSysus, r.Ops) }},
		{"errors", func(r result) float64 { return float64(r.Errors) }},
	},
	"fanout": {
		{"deliveries/s", func(r result) float64 { return r.OpsPerSec }},
		{"p99 delivery latency (µs)", func(r result) float64 { return float64(r.P99us) }},
		{"server CPU per delivery (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"  of which kernel (µs)", func(r result) float64 { return perOp(r.ServerSysus, r.Ops) }},
		{"server write calls per delivery", writesPerOp},
		{"lost deliveries", func(r result) float64 { return float64(r.Lost) }},
	},
	// fanout over two nodes and Redis (-url2): each node's share too.
	"fanout cluster": {
		{"deliveries/s", func(r result) float64 { return r.OpsPerSec }},
		{"p99 delivery latency (µs)", func(r result) float64 { return float64(r.P99us) }},
		{"  to the second node's receivers, through Redis (µs)", func(r result) float64 {
			return nodeFigure(r, 1, func(n nodeResult) float64 { return float64(n.P99us) })
		}},
		{"server CPU per delivery, both nodes (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"  of which kernel (µs)", func(r result) float64 { return perOp(r.ServerSysus, r.Ops) }},
		{"first node (the sender's): CPU per delivery to its receivers (µs)", func(r result) float64 { return nodeFigure(r, 0, func(n nodeResult) float64 { return n.CPUusPerOp }) }},
		{"second node: CPU per delivery to its receivers (µs)", func(r result) float64 { return nodeFigure(r, 1, func(n nodeResult) float64 { return n.CPUusPerOp }) }},
		{"server write calls per delivery, both nodes", writesPerOp},
		{"lost deliveries", func(r result) float64 { return float64(r.Lost) }},
	},
	// fanout sent by a backend (-emit-via): the HTTP API into Caddy, or
	// @socket.io/redis-emitter's PUBLISH into Node; latency from the call
	// (or the PUBLISH) to each delivery.
	"fanout backend": {
		{"backend emits/s", func(r result) float64 { return r.EmitsPerSec }},
		{"server CPU per backend emit (µs)", func(r result) float64 { return r.CPUusPerEmit }},
		{"server CPU per delivery (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"p99 from the emit to a delivery (µs)", func(r result) float64 { return float64(r.P99us) }},
		{"deliveries/s", func(r result) float64 { return r.OpsPerSec }},
		{"lost deliveries", func(r result) float64 { return float64(r.Lost) }},
	},
	// echo answered by a backend hook (-variant hook, -hook-backend): the
	// ack is the backend's answer, through the server's HTTP call.
	"echo hook": {
		{"hooked acks/s", func(r result) float64 { return r.OpsPerSec }},
		{"p50 ack latency (µs)", func(r result) float64 { return float64(r.P50us) }},
		{"p99 ack latency (µs)", func(r result) float64 { return float64(r.P99us) }},
		{"server CPU per hooked ack (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"  of which kernel (µs)", func(r result) float64 { return perOp(r.ServerSysus, r.Ops) }},
		{"hook request body (bytes)", func(r result) float64 { return hookFigure(r, func(h hookStats) float64 { return h.EventBodyBytes }) }},
		{"hook requests in flight at most", func(r result) float64 {
			return hookFigure(r, func(h hookStats) float64 { return float64(h.MaxConcurrent) })
		}},
		{"connections opened to the backend", func(r result) float64 {
			return hookFigure(r, func(h hookStats) float64 { return float64(h.Connections) })
		}},
		{"errors", func(r result) float64 { return float64(r.Errors) }},
	},
	// every client connecting at once through a connect hook.
	"storm": {
		{"clients connected", func(r result) float64 { return float64(r.Up) }},
		{"time until all connected (s)", func(r result) float64 { return r.Seconds }},
		{"p50 time to connected (µs)", func(r result) float64 { return float64(r.P50us) }},
		{"p99 time to connected (µs)", func(r result) float64 { return float64(r.P99us) }},
		{"refusals (connect_error, retried)", func(r result) float64 { return float64(r.Refused) }},
		{"connect hooks in flight at the backend, at most", func(r result) float64 {
			return hookFigure(r, func(h hookStats) float64 { return float64(h.MaxConcurrent) })
		}},
		{"connect hook requests", func(r result) float64 { return hookFigure(r, func(h hookStats) float64 { return float64(h.Connects) }) }},
		{"connections opened to the backend", func(r result) float64 {
			return hookFigure(r, func(h hookStats) float64 { return float64(h.Connections) })
		}},
		{"server CPU per connection (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"errors", func(r result) float64 { return float64(r.Errors) }},
	},
	"handshake": {
		{"handshakes/s", func(r result) float64 { return r.OpsPerSec }},
		{"server CPU per handshake (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"server RSS per abandoned session (bytes)", func(r result) float64 { return r.BytesPerOp }},
	},
	"polling": {
		{"round trips/s", func(r result) float64 { return r.OpsPerSec }},
		{"p50 round trip (µs)", func(r result) float64 { return float64(r.P50us) }},
		{"p99 round trip (µs)", func(r result) float64 { return float64(r.P99us) }},
		{"server CPU per round trip (µs)", func(r result) float64 { return r.CPUusPerOp }},
		{"errors", func(r result) float64 { return float64(r.Errors) }},
	},
}

// nodeFigure is a figure of node i of a cross-node result.
func nodeFigure(r result, i int, value func(nodeResult) float64) float64 {
	if i >= len(r.Nodes) {
		return notMeasured
	}
	return value(r.Nodes[i])
}

// hookFigure is a figure of the hook backend's counters.
func hookFigure(r result, value func(hookStats) float64) float64 {
	if r.Hook == nil {
		return notMeasured
	}
	return value(*r.Hook)
}

// figuresOf is what the table shows of a phase: its variant's own list
// when it has one (a cross-node fanout), its scenario's otherwise.
func figuresOf(p phase) []figure {
	if f, ok := figures[p.scenario+" "+p.variant]; ok {
		return f
	}
	return figures[p.scenario]
}

// writesPerOp is the server's write calls per operation.
func writesPerOp(r result) float64 {
	if r.ServerWrites == 0 {
		return notMeasured // no syscw (an older result line): a server always writes
	}
	return perOp(r.ServerWrites, r.Ops)
}

// perOp divides a count (microseconds, system calls) by the operations.
func perOp(us, ops int64) float64 {
	if ops == 0 {
		return 0
	}
	return float64(us) / float64(ops)
}

var scenarioOrder = []string{"conns", "echo", "openloop", "fanout", "handshake", "polling", "storm"}

// phase identifies results that measure the same thing, run after run.
type phase struct {
	scenario, variant, transport string
	eio, n                       int
}

func (p phase) String() string {
	s := fmt.Sprintf("%s %s=%d EIO%d %s", p.scenario, map[bool]string{true: "n", false: "c"}[p.scenario == "conns" || p.scenario == "fanout" || p.scenario == "storm"], p.n, p.eio, p.transport)
	if p.variant != "" {
		s += " " + p.variant
	}
	return s
}

// runTable reads result lines and prints, for each phase, the median of
// every figure per server and its ratio to the reference server's, then
// Engine.IO 3 against Engine.IO 4 for each server.
func runTable(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("table", flag.ContinueOnError)
	ref := fs.String("ref", "node", "the server the ratios divide by")
	if err := fs.Parse(args); err != nil {
		return err
	}
	groups := map[phase]map[string][]result{}
	servers := map[string]bool{}
	for _, name := range fs.Args() {
		if err := resultlines.Read(name, func(r result) {
			p := phase{r.Scenario, r.Variant, r.Transport, r.Protocol, r.N}
			if groups[p] == nil {
				groups[p] = map[string][]result{}
			}
			groups[p][r.Server] = append(groups[p][r.Server], r)
			servers[r.Server] = true
		}); err != nil {
			return err
		}
	}
	if len(groups) == 0 {
		return fmt.Errorf("no result lines in %q", fs.Args())
	}
	var others []string
	for s := range servers {
		if s != *ref {
			others = append(others, s)
		}
	}
	sort.Strings(others)
	names := append([]string{*ref}, others...)

	phases := sortedPhases(groups)
	fmt.Fprintf(w, "| phase | figure | %s |", strings.Join(names, " | "))
	for _, o := range others {
		fmt.Fprintf(w, " %s/%s |", o, *ref)
	}
	fmt.Fprintf(w, "\n|---|---|%s\n", strings.Repeat("---:|", len(names)+len(others)))
	for _, p := range phases {
		for _, f := range figuresOf(p) {
			fmt.Fprintf(w, "| %s | %s |", p, f.name)
			meds := map[string]float64{}
			for _, s := range names {
				m, n := measuredMedian(groups[p][s], f.value)
				if n == 0 {
					fmt.Fprint(w, " – |")
					continue
				}
				meds[s] = m
				fmt.Fprintf(w, " %s (%d) |", number(m), n)
			}
			for _, o := range others {
				fmt.Fprintf(w, " %s |", ratio(meds, o, *ref))
			}
			fmt.Fprintln(w)
		}
	}

	// Engine.IO 3 against 4, per server: the same phase but the protocol.
	var lines []string
	for _, p := range phases {
		if p.eio != 3 {
			continue
		}
		p4 := p
		p4.eio = 4
		if groups[p4] == nil {
			continue
		}
		for _, f := range figuresOf(p) {
			for _, s := range names {
				m3, n3 := measuredMedian(groups[p][s], f.value)
				m4, n4 := measuredMedian(groups[p4][s], f.value)
				if n3 == 0 || n4 == 0 {
					continue
				}
				m := map[string]float64{"3": m3, "4": m4}
				lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", p, f.name, s, number(m["3"]), number(m["4"]), ratio(m, "3", "4")))
			}
		}
	}
	return writeProtocolLines(w, lines)
}

func writeProtocolLines(w io.Writer, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n| phase (EIO3) | figure | server | EIO3 | EIO4 | EIO3/EIO4 |\n|---|---|---|---:|---:|---:|\n")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

// sortedPhases orders phases EIO 4 first, then by scenario, size,
// transport and variant.
func sortedPhases(groups map[phase]map[string][]result) []phase {
	rank := map[string]int{}
	for i, s := range scenarioOrder {
		rank[s] = i
	}
	var ps []phase
	for p := range groups {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.eio != b.eio {
			return a.eio > b.eio
		}
		if rank[a.scenario] != rank[b.scenario] {
			return rank[a.scenario] < rank[b.scenario]
		}
		if a.n != b.n {
			return a.n < b.n
		}
		if a.transport != b.transport {
			return a.transport < b.transport
		}
		return a.variant < b.variant
	})
	return ps
}

// notMeasured is what a figure's value is for a result line that lacks it
// (written by an older load generator, or /proc/<pid>/io unreadable): the
// median leaves it out rather than count it as 0.
var notMeasured = math.NaN()

// measuredMedian is the median of the results that have the figure, and
// how many do.
func measuredMedian(rs []result, value func(result) float64) (float64, int) {
	var have []result
	for _, r := range rs {
		if !math.IsNaN(value(r)) {
			have = append(have, r)
		}
	}
	if len(have) == 0 {
		return 0, 0
	}
	return median(have, value), len(have)
}

func median(rs []result, value func(result) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = value(r)
	}
	sort.Float64s(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

func ratio(m map[string]float64, a, b string) string {
	x, okA := m[a]
	y, okB := m[b]
	if !okA || !okB || y == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x/y)
}

func number(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
