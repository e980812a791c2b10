// Command charts draws BENCHMARKS.md's charts from a bench/compare.sh
// results directory: plain SVG files, written by the standard library
// alone, each comparing the servers of the run in their own colours (the
// reference server, Node, orange; this one blue).
//
//	go run ./bench/charts bench/results/<time>                  # into docs/benchmarks/
//	go run ./bench/charts -out DIR -eio 3 bench/results/<time>  # the EIO 3 phases, elsewhere
//
// It reads DIR/results.jsonl (and DIR/machine.txt for the footer: which run
// a chart shows) and writes
//
//   - rss-per-connection.svg: server RSS per idle WebSocket connection
//     against the connections held (the conns phases);
//   - cpu-per-operation.svg: server CPU per operation of every phase, log
//     scale, with each server's ratio to the reference, the rows where the
//     reference spends less shaded;
//   - latency-<scenario>.svg for each -cdf selector (echo and fanout by
//     default): the latency distribution (CDF) of that phase, all runs'
//     samples together, on a y axis that stretches the tail, p50, p99 and
//     p99.9 marked.
//
// Figures are the medians over runs, as `loadgen table` computes them; a
// chart without data in the results is left out, with a line saying why,
// and the file already there is not touched. bench/compare.sh runs this at
// its end.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "charts:", err)
		os.Exit(1)
	}
}

func run(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("charts", flag.ContinueOnError)
	out := fs.String("out", "docs/benchmarks", "directory the SVG files are written to")
	ref := fs.String("ref", "node", "the reference server: first in every chart, the ratios divide by it")
	eio := fs.Int("eio", 4, "the Engine.IO protocol of the phases shown: 4 or 3")
	cdfs := fs.String("cdf", "echo fanout", "phases whose latency distribution is drawn: scenario or scenario/variant, space-separated")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: charts [flags] RESULTS_DIR (a bench/compare.sh --out directory, holding results.jsonl)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("want one results directory")
	}
	if *eio != 3 && *eio != 4 {
		return fmt.Errorf("-eio %d: the benchmarks run Engine.IO 3 and 4", *eio)
	}
	dir := fs.Arg(0)
	rs, err := readResults(filepath.Join(dir, "results.jsonl"), *ref)
	if err != nil {
		return err
	}
	src := readSource(dir)
	charts := []chart{rssChart(rs, *eio, src), cpuChart(rs, *eio, src)}
	for _, sel := range strings.Fields(*cdfs) {
		charts = append(charts, cdfChart(rs, *eio, sel, src))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, c := range charts {
		name := filepath.Join(*out, c.file)
		if c.svg == "" {
			fmt.Fprintf(w, "charts: left out %s: %s\n", name, c.skipped)
			continue
		}
		if err := os.WriteFile(name, []byte(c.svg), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "charts: wrote %s\n", name)
	}
	return nil
}

// readSource names the run for the charts' footers: the results directory
// and, from the machine.txt compare.sh writes beside it, the commit and
// date (left out when there is none).
func readSource(dir string) source {
	src := source{dir: filepath.ToSlash(filepath.Clean(dir))}
	if abs, err := filepath.Abs(dir); err == nil {
		// A path inside the repository reads best from its root:
		// bench/results/<time>, not /home/someone/.../bench/results/<time>.
		if i := strings.LastIndex(filepath.ToSlash(abs), "/bench/results/"); i >= 0 {
			src.dir = filepath.ToSlash(abs)[i+1:]
		}
	}
	f, err := os.Open(filepath.Join(dir, "machine.txt"))
	if err != nil {
		return src
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		switch k {
		case "date":
			src.date = v
		case "commit":
			src.commit = v
		}
	}
	return src
}
