package main

import (
	"fmt"
	"testing"
)

// TestStressScenariosRunAgainstTheNodeReference is the short smoke run of
// bench/stress.sh's scenarios, at a fraction of their size, against the
// Node reference (which has no buffered-bytes budget: its stalled clients
// stay open; the engine's tests check that this server closes them).
func TestStressScenariosRunAgainstTheNodeReference(t *testing.T) {
	url, pid := startNodeReference(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"stalled", []string{"-scenario", "stalled", "-n", "20", "-c", "5", "-events", "30", "-pad", "100000"}},
		{"cycles", []string{"-scenario", "cycles", "-n", "80", "-c", "8"}},
		{"slow", []string{"-scenario", "slow", "-n", "40", "-c", "10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, line := smokeRun(t, append([]string{"-url", url, "-pid", fmt.Sprint(pid), "-label", "node"}, tc.args...))
			switch tc.name {
			case "stalled":
				if r.Sent != 30 || r.Ops != 30*5 || r.Stress == nil || r.Stress.RSSMax == 0 {
					t.Fatalf("stalled: %s", line)
				}
			case "cycles":
				if r.Ops != 80 {
					t.Fatalf("cycles: %s", line)
				}
			case "slow":
				if r.Ops != 10 || r.Up != 40 {
					t.Fatalf("slow: %s", line)
				}
			}
		})
	}
}
