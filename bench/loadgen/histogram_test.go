package main

import (
	"encoding/json"
	"testing"
)

// The buckets a result line carries are the whole distribution: every
// quantile read back from them is the one the histogram reports, and the
// counts add up to the samples.
func TestResultLineCarriesTheLatencyHistogram(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 20000; v += 7 {
		h.record(v)
	}
	h.record(250000) // one outlier, alone in its bucket
	var r result
	r.latencies(&h)
	line, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		P50us     int64      `json:"p50_us"`
		P99us     int64      `json:"p99_us"`
		MaxUs     int64      `json:"max_us"`
		Histogram [][2]int64 `json:"latency_histogram"`
	}
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatal(err)
	}
	var total int64
	for i, b := range back.Histogram {
		if b[1] <= 0 || (i > 0 && b[0] <= back.Histogram[i-1][0]) {
			t.Fatalf("bucket %d = %v: want increasing values with positive counts", i, b)
		}
		total += b[1]
	}
	if total != int64(h.n) {
		t.Fatalf("the buckets count %d samples, the histogram %d", total, h.n)
	}
	quantile := func(q float64) int64 {
		rank := int64(q*float64(total) + 0.5)
		var seen int64
		for _, b := range back.Histogram {
			if seen += b[1]; seen >= rank {
				return b[0]
			}
		}
		return -1
	}
	if got := quantile(0.5); got != back.P50us {
		t.Errorf("p50 from the buckets %d, the line's p50_us %d", got, back.P50us)
	}
	if got := quantile(0.99); got != back.P99us {
		t.Errorf("p99 from the buckets %d, the line's p99_us %d", got, back.P99us)
	}
	if last := back.Histogram[len(back.Histogram)-1]; last != [2]int64{250000, 1} || back.MaxUs != 250000 {
		t.Errorf("the outlier: last bucket %v, max_us %d; want [250000 1] and 250000", last, back.MaxUs)
	}
}
