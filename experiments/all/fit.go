package main

import (
	"fmt"
	"math"
)

// computeFit models the online time of a pass on this machine, with the
// parties' link a loopback (no network delay), as
//
//	online ms = A·MACs + B·dealer bytes + C·rounds
//
// (the ring matmuls; the lookup/FSS gates, whose work is proportional to
// their key material; a fixed cost per round), fitted to the measured
// passes by least squares on relative error with non-negative coefficients.
// It extrapolates; results derived from it are labelled modelled.
type computeFit struct {
	PerGMAC      float64 `json:"ms_per_gmac"`
	PerDealerGiB float64 `json:"ms_per_dealer_gib"`
	PerRound     float64 `json:"ms_per_round"`
	Points       int     `json:"points"`
	MaxRelErr    float64 `json:"max_rel_err"` // over the fitted points
	Formula      string  `json:"formula"`
	From         string  `json:"fitted_to,omitempty"`
}

func (f computeFit) predict(macs float64, c costJSON) float64 {
	return f.PerGMAC*macs/1e9 + f.PerDealerGiB*float64(c.Dealer)/(1<<30) + f.PerRound*float64(c.Rounds)
}

func fitCompute(pts []latencyPoint) computeFit {
	var rows [][3]float64
	var ys []float64
	for _, p := range pts {
		if p.Modelled {
			continue
		}
		rows = append(rows, [3]float64{p.PrefillMACs / 1e9, float64(p.PrefillCost.Dealer) / (1 << 30), float64(p.PrefillCost.Rounds)})
		ys = append(ys, p.PrefillOnlineMS)
		rows = append(rows, [3]float64{p.DecodeMACs / 1e9, float64(p.DecodeCost.Dealer) / (1 << 30), float64(p.DecodeCost.Rounds)})
		ys = append(ys, p.DecodeOnlineMS)
	}
	best := computeFit{Points: len(ys), MaxRelErr: math.Inf(1)}
	bestRes := math.Inf(1)
	for mask := 1; mask < 8; mask++ {
		coef, ok := solveSubset(rows, ys, mask)
		if !ok {
			continue
		}
		res, maxRel := 0.0, 0.0
		for i, r := range rows {
			pred := coef[0]*r[0] + coef[1]*r[1] + coef[2]*r[2]
			rel := (pred - ys[i]) / ys[i]
			res += rel * rel
			maxRel = max(maxRel, math.Abs(rel))
		}
		if res < bestRes {
			bestRes = res
			best.PerGMAC, best.PerDealerGiB, best.PerRound = coef[0], coef[1], coef[2]
			best.MaxRelErr = round(maxRel, 3)
		}
	}
	best.PerGMAC, best.PerDealerGiB, best.PerRound = round(best.PerGMAC, 3), round(best.PerDealerGiB, 3), round(best.PerRound, 4)
	best.Formula = fmt.Sprintf("online ms ≈ %.3g·GMAC + %.3g·(dealer GiB) + %.3g·rounds", best.PerGMAC, best.PerDealerGiB, best.PerRound)
	return best
}

// solveSubset solves the relative least squares over the features in mask;
// ok is false when it is singular or a coefficient is negative.
func solveSubset(rows [][3]float64, ys []float64, mask int) ([3]float64, bool) {
	var idx []int
	for j := range 3 {
		if mask&(1<<j) != 0 {
			idx = append(idx, j)
		}
	}
	n := len(idx)
	if len(ys) < n {
		return [3]float64{}, false
	}
	// Normal equations of min Σ ((x·c − y)/y)².
	a := make([][]float64, n)
	b := make([]float64, n)
	for k := range a {
		a[k] = make([]float64, n)
	}
	for i, r := range rows {
		w := 1 / (ys[i] * ys[i])
		for p, jp := range idx {
			b[p] += w * r[jp] * ys[i]
			for q, jq := range idx {
				a[p][q] += w * r[jp] * r[jq]
			}
		}
	}
	// Gaussian elimination with partial pivoting.
	for col := range n {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		if math.Abs(a[piv][col]) < 1e-300 {
			return [3]float64{}, false
		}
		a[col], a[piv] = a[piv], a[col]
		b[col], b[piv] = b[piv], b[col]
		for r := range n {
			if r == col {
				continue
			}
			f := a[r][col] / a[col][col]
			for k := col; k < n; k++ {
				a[r][k] -= f * a[col][k]
			}
			b[r] -= f * b[col]
		}
	}
	var c [3]float64
	for p, j := range idx {
		c[j] = b[p] / a[p][p]
		if c[j] < 0 || math.IsNaN(c[j]) {
			return c, false
		}
	}
	return c, true
}
