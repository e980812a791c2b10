package main

import "math/bits"

// histogram counts latencies in microseconds into log-linear buckets: exact
// below 32 µs, then 32 buckets per power of two (about 3% wide). Each client
// goroutine owns its own and the scenario merges them at the end, so
// recording takes no lock.
type histogram struct {
	counts [histExponents * histSub]uint64
	n      uint64
	max    int64
}

const (
	histSubBits   = 5
	histSub       = 1 << histSubBits
	histExponents = 40 // up to 2^44 µs, far beyond any run
)

func histIndex(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits - 1
	i := (shift+1)*histSub + int(v>>shift) - histSub
	if i >= len(histogram{}.counts) {
		return len(histogram{}.counts) - 1
	}
	return i
}

// histValue is the middle of bucket i, what a quantile reports.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	low := int64(i%histSub+histSub) << shift
	return low + (int64(1)<<shift)/2
}

func (h *histogram) record(micros int64) {
	h.counts[histIndex(micros)]++
	h.n++
	if micros > h.max {
		h.max = micros
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the latency below which a fraction q of the samples lie,
// or 0 when there are none.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histValue(i)
			if v > h.max {
				return h.max
			}
			return v
		}
	}
	return h.max
}

// buckets lists the non-empty buckets as [value, count] pairs, in
// increasing order, the largest value capped at the maximum as quantile
// caps it.
func (h *histogram) buckets() [][2]int64 {
	var out [][2]int64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		out = append(out, [2]int64{min(histValue(i), h.max), int64(c)})
	}
	return out
}
