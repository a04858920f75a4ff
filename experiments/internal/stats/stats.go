// Package stats holds the small numeric helpers the experiment programs
// share: medians of repeated measurements and rounding for reports.
package stats

import (
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
