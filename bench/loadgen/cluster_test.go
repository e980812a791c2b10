package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteCallsCountEveryWriteOfTheProcess(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := readWriteCalls(os.Getpid()) // may be 0: the test may not have written yet
	for range 5 {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if after := readWriteCalls(os.Getpid()); after-before < 5 {
		t.Fatalf("5 writes moved syscw of /proc/%d/io from %d to %d", os.Getpid(), before, after)
	}
}

func TestSecondNodeFlagsBelongToTheFanout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-scenario", "echo", "-url2", "http://127.0.0.1:2/socket.io/"}, "-url2 is for -scenario fanout"},
		{[]string{"-scenario", "fanout", "-pid", "1", "-pid2", "2"}, "give -url2 too"},
		{[]string{"-scenario", "fanout", "-url2", "http://127.0.0.1:2/socket.io/", "-pid2", "2"}, "-pid2 without -pid"},
	} {
		if _, err := parseFlags(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loadgen %s: error %v, want one saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestTableShowsEachNodesShareOfACrossNodeFanout(t *testing.T) {
	lines := `{"scenario":"fanout","server":"node","variant":"cluster","eio":4,"transport":"websocket","n":4,"ops":400,"ops_per_s":40,"server_cpu_us":8000,"server_writes":400,"p99_us":900,"nodes":[{"receivers":2,"ops":200,"cpu_us_per_op":24,"p99_us":800},{"receivers":2,"ops":200,"cpu_us_per_op":16,"p99_us":1000}],"cpu_us_per_op":20}
{"scenario":"fanout","server":"caddy","variant":"cluster","eio":4,"transport":"websocket","n":4,"ops":400,"ops_per_s":80,"server_cpu_us":2000,"server_writes":100,"p99_us":300,"nodes":[{"receivers":2,"ops":200,"cpu_us_per_op":6,"p99_us":200},{"receivers":2,"ops":200,"cpu_us_per_op":4,"p99_us":400}],"cpu_us_per_op":5}
`
	name := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(name, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := runTable([]string{name}, &out); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| fanout n=4 EIO4 websocket cluster | server CPU per delivery, both nodes (µs) | 20.0 (1) | 5.00 (1) | 0.25 |",
		"| fanout n=4 EIO4 websocket cluster | first node (the sender's): CPU per delivery to its receivers (µs) | 24.0 (1) | 6.00 (1) | 0.25 |",
		"| fanout n=4 EIO4 websocket cluster | second node: CPU per delivery to its receivers (µs) | 16.0 (1) | 4.00 (1) | 0.25 |",
		"| fanout n=4 EIO4 websocket cluster |   to the second node's receivers, through Redis (µs) | 1000 (1) | 400 (1) | 0.40 |",
		"| fanout n=4 EIO4 websocket cluster | server write calls per delivery, both nodes | 1.00 (1) | 0.25 (1) | 0.25 |",
	} {
		if !strings.Contains(out.String(), row+"\n") {
			t.Errorf("table misses the row\n%s\nin\n%s", row, out.String())
		}
	}
}

func TestTableLeavesOutAFigureAnOlderResultLineLacks(t *testing.T) {
	// The first line predates the write-call count; its missing figure must
	// not pull the median to 0.
	lines := `{"scenario":"fanout","server":"caddy","eio":4,"transport":"websocket","n":2,"ops":100,"cpu_us_per_op":5}
{"scenario":"fanout","server":"caddy","eio":4,"transport":"websocket","n":2,"ops":100,"server_writes":30,"cpu_us_per_op":7}
`
	name := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(name, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := runTable([]string{"-ref", "caddy", name}, &out); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| fanout n=2 EIO4 websocket | server CPU per delivery (µs) | 6.00 (2) |",
		"| fanout n=2 EIO4 websocket | server write calls per delivery | 0.30 (1) |",
	} {
		if !strings.Contains(out.String(), row+"\n") {
			t.Errorf("table misses the row\n%s\nin\n%s", row, out.String())
		}
	}
}
