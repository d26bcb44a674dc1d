package main

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// wrkCorrect is wrk 4.x's stats_correct, on a dense histogram.
func wrkCorrect(data []uint64, expected int64) {
	max := uint64(len(data) - 1)
	for n := uint64(expected * 2); n <= max; n++ {
		count := data[n]
		m := int64(n) - expected
		for count != 0 && m > expected {
			data[m] += count
			m -= expected
		}
	}
}

func TestUncorrectedPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const conns, durUS = 16, 3_000_000
	data := make([]uint64, 400_001)
	var requests uint64
	for range 100_000 { // most answers fast
		data[100+rng.IntN(3000)]++
		requests++
	}
	for range 40 { // a slow start
		data[200_000+rng.IntN(200_000)]++
		requests++
	}
	real := append([]uint64(nil), data...)
	expected := int64(durUS / (requests / conns))
	wrkCorrect(data, expected)

	r := wrkResult{DurationUS: durUS, Requests: requests}
	for v, c := range data {
		if c > 0 {
			r.Hist = append(r.Hist, [2]uint64{uint64(v), c})
		}
	}
	p50, p99, n := uncorrectedPercentiles(r, conns)
	if n != requests {
		t.Fatalf("%d samples after undoing the correction, want %d", n, requests)
	}
	want := func(p float64) time.Duration {
		rank := uint64(math.Ceil(p / 100 * float64(requests)))
		var cum uint64
		for v, c := range real {
			if cum += c; cum >= rank {
				return time.Duration(v) * time.Microsecond
			}
		}
		return 0
	}
	if p50 != want(50) || p99 != want(99) {
		t.Errorf("p50 %v p99 %v, want %v %v", p50, p99, want(50), want(99))
	}
	if p99 > 5*time.Millisecond {
		t.Errorf("p99 %v: the slow start's phantoms are still there", p99)
	}
}
