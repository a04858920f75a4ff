// Package stats holds what the experiment programs share: medians of
// repeated measurements, rounding and byte sizes for their tables, the
// published figures they compare with, and loading the benchmark model.
package stats

import (
	"fmt"
	"math"
	"slices"
)

// Median returns the median of v (the mean of the two middle values for an
// even count; 0 for none). v is not modified.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Round rounds x to the given number of decimal digits.
func Round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// Size formats a byte count in binary units.
func Size(b int64) string {
	f := float64(b)
	switch {
	case f >= 1<<30:
		return fmt.Sprintf("%.3f GiB", f/(1<<30))
	case f >= 1<<20:
		return fmt.Sprintf("%.2f MiB", f/(1<<20))
	case f >= 1<<10:
		return fmt.Sprintf("%.1f KiB", f/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// SIGMA's published GPT-2 (124M) figures at 128 tokens (Gupta et al., PETS
// 2024): online bytes, rounds and key bytes — the project's bars for
// gpt2-124m prefill at 128 tokens.
const (
	SigmaSeq    = 128
	SigmaOnline = 0.824 * (1 << 30)
	SigmaRounds = 1128
	SigmaDealer = 14.3 * (1 << 30)
)

// LinkDelayMS is what a link of round trip rttMS and bandwidth mbps (0:
// unlimited) adds to a pass of rounds protocol rounds and online bytes
// (both parties together): a round is one message each way at once, so it
// costs half a round trip, and each party sends about half the bytes.
func LinkDelayMS(rounds, online int64, rttMS, mbps float64) float64 {
	d := float64(rounds) * rttMS / 2
	if mbps > 0 {
		d += float64(online) / 2 * 8 / (mbps * 1e6) * 1e3
	}
	return d
}
