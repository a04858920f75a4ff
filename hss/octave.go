package hss

import (
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/hssee/hssee/hss/fss"
)

// Octave lookups: a positive power function t(X) (1/X, 1/√X) on a wide range [2^lo, 2^hi) at a
// fixed RELATIVE resolution, in four rounds (three where the caller multiplies the result by
// something else anyway: evalOctMul3, trowmul3.go, takes the mantissa's truncation and the product of
// L, O and the caller's row in one round). This follows the normalise-then-look-up structure of
// SIGMA (Gupta et al., PETS 2024, §5: reciprocal and rsqrt from a lookup on a normalised,
// reduced-precision input), with the normalisation done by comparisons from function secret sharing
// (Boyle et al., Eurocrypt 2021) instead of a bit decomposition:
//
//  1. Open x̂ = x + r (64 bits, r uniform) and evaluate ONE DCF key per element (α = r mod 2^(c−1))
//     at the nb−1 public points x̂ − T_j for the octave thresholds T_j = 2^(lo+j) (raw
//     2^(lo+j+inFrac)). By the MSB rule of Boyle et al. (§4) every evaluation gives shares of
//     s_j = 1{x ≥ T_j}, and the payload (1 − 2·msb(r), (1 − 2·msb(r))·r) also gives s_j·x locally (as
//     in ReLU). Evaluating one key at several public points is the interval-containment pattern of
//     Boyle et al.; the view is x̂ alone, uniform.
//  2. With the one-hot octave b_j = s_j − s_{j+1} (s_0 = 1, s_nb = 0) the parties compute locally the
//     mantissa position w = Σ_j b_j·(x·2^(E−e_j) − 2^E + c_j·S) (e_j = lo+j+inFrac, E = hi+inFrac,
//     c_j the octave's class: 0 for 1/X; the parity of lo+j for 1/√X; S = 2^E plus two index steps,
//     so that no index meets two classes), so that (w − c_j·S)/2^E + 1 ∈ [1, 2) is the mantissa, and
//     a cubic lookup on z = ⌊w/2^(E−4)⌉ (the masked-index gate of lut.go with a polynomial part,
//     offsets at 2^-14 of the mantissa) returns L = t_c(mantissa) ∈ (1/2, 1] with F fractional bits
//     after a truncation (one more round).
//  3. t is a power function, so t(X) = t_c(mantissa)·2^(−sh_j) with sh_j = lo+j (1/X) or
//     ⌊(lo+j)/2⌋ (1/√X). The octave factor O = Σ_j b_j·2^(G−sh_j), G = max sh_j, is local; one
//     Beaver product L·O gives t(X) with F+G = outFrac fractional bits exactly (no truncation).
//
// Error: the cubic's fit over the two index steps z can stand for (2^-19 relative for 1/X, less for
// 1/√X), the coarsened offset (2^-14 relative), and L's truncation to F bits (2^-F absolute, L ≥ 1/2).
// (A table of 2^12 mantissa entries per class, which this replaces, cost a window of 4098–8194
// positions per element.) Inputs in [2^lo·(1−2^-4), 2^lo) give ≈ t(2^lo), smaller ones (and 0) give
// 0; inputs at or above 2^hi are outside the range (bounded garbage, not an error the parties can
// see).

type octSpec struct {
	target          int // octRecip or octRsqrt
	lo, hi          int
	inFrac, outFrac uint
	mulBits         uint // width of the final product (its output is correct mod 2^mulBits)
}

const (
	octRecip = 0
	octRsqrt = 1
)

func (s octSpec) f(x float64) float64 {
	if s.target == octRecip {
		return 1 / x
	}
	return 1 / math.Sqrt(x)
}

// classes is the number of mantissa tables: t(2^lo+j ·m) = t_c(m)·2^(−sh_j).
func (s octSpec) classes() int {
	if s.target == octRecip {
		return 1
	}
	return 2
}

func floorDiv2(a int) int {
	if a >= 0 {
		return a / 2
	}
	return -((-a + 1) / 2)
}

// class and shift of octave j.
func (s octSpec) octave(j int) (c int, sh int) {
	if s.target == octRecip {
		return 0, s.lo + j
	}
	sh = floorDiv2(s.lo + j)
	return s.lo + j - 2*sh, sh
}

func (s octSpec) g() int {
	_, sh := s.octave(s.nb() - 1)
	return sh
}
func (s octSpec) lutFrac() uint { return uint(int(s.outFrac) - s.g()) }

// octStep: the mantissa tables are cubic pieces on an index of step 2^-octStep (of the mantissa).
const octStep = 4

func (s octSpec) nb() int       { return s.hi - s.lo }
func (s octSpec) cmpBits() uint { return uint(s.hi) + s.inFrac + 2 }
func (s octSpec) e() uint       { return uint(s.hi) + s.inFrac }
func (s octSpec) k() uint       { return s.e() - octStep }
func (s octSpec) idxBits() uint { return octStep + 3 }

// pf is the resolution (bits) of the cubic's offset, in mantissa units: 14, less where the table's
// width would exceed 64 bits; fb the cubic's extra fractional bits, tbits the width at which its
// truncation opens.
func (s octSpec) pf() uint    { return min(14, (61-s.lutFrac())/3) }
func (s octSpec) fb() uint    { return polyDeg*s.pf() - 2 }
func (s octSpec) tbits() uint { return s.lutFrac() + s.fb() + 3 }

// stride is the raw distance between the classes' mantissa ranges in w: 2^E plus a gap of two index
// steps, so that no index (which stands for two steps) meets two classes.
func (s octSpec) stride() uint64 { return 1<<s.e() + 2<<s.k() }

func (s octSpec) tag() uint64 {
	return 1<<63 | uint64(s.target) | uint64(s.lo+64)<<4 | uint64(s.hi+64)<<12 | uint64(octStep)<<20 |
		uint64(polyDeg)<<24 | uint64(s.inFrac)<<28 | uint64(s.outFrac)<<36 | uint64(s.mulBits)<<44
}

func (s octSpec) validate() error {
	switch {
	case s.lo >= s.hi || s.hi-s.lo > 40:
		return fmt.Errorf("range [2^%d, 2^%d) invalid", s.lo, s.hi)
	case s.lo+int(s.inFrac) < 0:
		return fmt.Errorf("input frac %d too small for 2^%d", s.inFrac, s.lo)
	case s.cmpBits() > 62 || s.k()+s.idxBits() > 64:
		return fmt.Errorf("input frac %d too large for 2^%d", s.inFrac, s.hi)
	case int(s.outFrac) < s.g()+8 || int(s.outFrac) > s.g()+31:
		return fmt.Errorf("output frac %d out of range [%d,%d]", s.outFrac, s.g()+8, s.g()+31)
	case s.e() < s.pf():
		return fmt.Errorf("input frac %d too small for 2^%d", s.inFrac, s.hi)
	case s.mulBits < 8 || s.mulBits > 64:
		return fmt.Errorf("product width %d out of range", s.mulBits)
	}
	return nil
}

// octPrep is the public data of an octave lookup: comparison and lookup specs, thresholds, and per
// octave the offset of its class in w (c·stride − 2^E) and its factor 2^(G−sh).
type octPrep struct {
	cmp, lut *lutSpec
	ts       []uint64
	off      []uint64
	factor   []uint64
}

var octCache sync.Map // octSpec -> *octPrep

func (s octSpec) prep() (*octPrep, error) {
	if v, ok := octCache.Load(s); ok {
		return v.(*octPrep), nil
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	nb, nc := s.nb(), s.classes()
	p := &octPrep{ts: make([]uint64, nb-1), off: make([]uint64, nb), factor: make([]uint64, nb)}
	for j := range p.ts {
		p.ts[j] = 1 << (uint(s.lo+j+1) + s.inFrac)
	}
	g := s.g()
	k, e := s.k(), s.e()
	stride := s.stride()
	for j := range nb {
		c, sh := s.octave(j)
		p.off[j], p.factor[j] = uint64(c)*stride-1<<e, 1<<uint(g-sh)
	}
	// Class c's mantissa m ∈ [1, 2) is at v = w/2^E ∈ [c·S, c·S + 1), S = stride/2^E; index z stands
	// for v ∈ [(z−1)h, (z+1)h), h = 2^-octStep, and meets at most one class.
	h := math.Ldexp(1, -octStep)
	S := math.Ldexp(float64(stride), -int(e))
	wlo := int64(-1)
	whi := int64((uint64(nc-1)*stride+1<<e)>>k) + 2
	fz := func(z int64) (func(float64) float64, float64, float64) {
		c := int(math.Floor(float64(z) * h / S))
		if c+1 < nc && float64(z+1)*h > float64(c+1)*S {
			c++
		}
		c = max(0, min(c, nc-1))
		base := float64(c) * S
		return func(v float64) float64 { return s.f(math.Ldexp(1+v-base, c)) }, base, base + 1
	}
	pf := s.pf()
	tabs, _ := polyTablesZ(fz, polyDeg, k, e, e-pf, s.lutFrac(), s.fb(), wlo, whi)
	p.cmp = &lutSpec{parts: []lutPart{{k: 0, m: s.cmpBits()}}, signTerm: true, tag: s.tag()}
	p.lut = &lutSpec{parts: []lutPart{{k: k, m: s.idxBits(), wlo: wlo, tabs: tabs, deg: polyDeg, drop: e - pf}},
		tag: s.tag(), fb: s.fb(), tbits: s.tbits(), payW: s.tbits()} // its sum is read by its truncation only
	v, _ := octCache.LoadOrStore(s, p)
	return v.(*octPrep), nil
}

func genOct(rng io.Reader, kind string, n int, s octSpec) (*seqKey, *seqKey, error) {
	pr, err := s.prep()
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	c0, c1, err := genLUT(rng, kind+".cmp", n, pr.cmp)
	if err != nil {
		return nil, nil, err
	}
	l0, l1, err := genLUT(rng, kind+".lut", n, pr.lut)
	if err != nil {
		return nil, nil, err
	}
	t0, t1, err := GenTrunc(rng, n, pr.lut.fb, pr.lut.tbits)
	if err != nil {
		return nil, nil, wrapGate("gen "+kind, err)
	}
	m0, m1, err := GenMul(rng, n, s.mulBits)
	if err != nil {
		return nil, nil, wrapGate("gen "+kind, err)
	}
	return newSeqKey(kind, n, c0, l0, t0, m0), newSeqKey(kind, n, c1, l1, t1, m1), nil
}

// evalOct runs the four rounds of an octave lookup on shares x (raw units of 2^−inFrac) and returns
// shares of t(X) with outFrac fractional bits, correct mod 2^mulBits.
func (p *Party) evalOct(kind string, s octSpec, x []uint64) ([]uint64, error) {
	q, err := p.sub(kind, len(x))
	if err != nil {
		return nil, err
	}
	lv, fac, err := q.octLO(kind, s, x)
	if err != nil {
		return nil, err
	}
	mk, err := takeKey[*MulKey](q, "mul", len(x))
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	out, err := q.mulWith(mk, lv, fac, s.mulBits)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	if err := finish(kind, q); err != nil {
		return nil, err
	}
	return out, nil
}

// octLO runs the comparison, the mantissa lookup and its truncation on q's material.
func (q *Party) octLO(kind string, s octSpec, x []uint64) (lv, fac []uint64, err error) {
	pr, err := s.prep()
	if err != nil {
		return nil, nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	w, fac, err := q.octIndex(kind, s, pr, x)
	if err != nil {
		return nil, nil, err
	}
	n := len(x)
	lk, err := takeKey[*lutKey](q, kind+".lut", n)
	if err != nil {
		return nil, nil, wrapGate(kind, err)
	}
	o, err := q.evalLUTWith(lk, pr.lut, w)
	if err != nil {
		return nil, nil, wrapGate(kind, err)
	}
	lv, err = q.truncPoly(o, pr.lut)
	if err != nil {
		return nil, nil, wrapGate(kind, err)
	}
	return lv, fac, nil
}

// octIndex is the octave lookup's first round: the comparisons with every threshold (kind.cmp) and
// the lookup input w and octave factor of every element.
func (q *Party) octIndex(kind string, s octSpec, pr *octPrep, x []uint64) (w, fac []uint64, err error) {
	ck, err := takeKey[*lutKey](q, kind+".cmp", len(x))
	if err != nil {
		return nil, nil, wrapGate(kind, err)
	}
	sb, sx, err := q.evalThresholds(ck, pr.cmp, x, pr.ts)
	if err != nil {
		return nil, nil, wrapGate(kind, err)
	}
	n, nb := len(x), s.nb()
	own := uint64(1 - q.ID)
	w = make([]uint64, n)
	fac = make([]uint64, n)
	e := s.e()
	for i := range n {
		var acc, f uint64
		for j := range nb {
			sj, sxj := own, x[i] // s_0 = 1, s_0·x = x
			if j > 0 {
				sj, sxj = sb[j-1][i], sx[j-1][i]
			}
			var sn, sxn uint64 // s_nb = 0
			if j < nb-1 {
				sn, sxn = sb[j][i], sx[j][i]
			}
			bj := sj - sn
			ej := uint(s.lo+j) + s.inFrac
			acc += (sxj-sxn)<<(e-ej) + bj*pr.off[j]
			f += bj * pr.factor[j]
		}
		w[i], fac[i] = acc, f
	}
	return w, fac, nil
}

// octLORaw is octLO without the mantissa's truncation: it returns the lookup's untruncated
// polynomial term (in a pooled buffer: putWords it) and the octave factor; the mantissa is
// Trunc(lin, lut.fb, lut.tbits) for the returned spec.
func (q *Party) octLORaw(kind string, s octSpec, x []uint64) (lin, fac []uint64, lut *lutSpec, err error) {
	pr, err := s.prep()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	w, fac, err := q.octIndex(kind, s, pr, x)
	if err != nil {
		return nil, nil, nil, err
	}
	lk, err := takeKey[*lutKey](q, kind+".lut", len(x))
	if err != nil {
		return nil, nil, nil, wrapGate(kind, err)
	}
	o, err := q.evalLUTWith(lk, pr.lut, w)
	if err != nil {
		return nil, nil, nil, wrapGate(kind, err)
	}
	return o.lin, fac, pr.lut, nil
}

// evalThresholds opens x + r (64 bits, one round) and returns shares of s_j = 1{x ≥ ts[j]} and of
// s_j·x for every threshold, from one DCF key per element evaluated at every threshold (see the
// comment at the top of this file). Needs |x − ts[j]| < 2^(c−1) for the comparison width c.
func (p *Party) evalThresholds(k *lutKey, spec *lutSpec, x []uint64, ts []uint64) (s, sx [][]uint64, err error) {
	n := len(x)
	m := spec.parts[0].m
	if k.party != p.ID || k.tag != spec.tag || k.dcf == nil || len(k.dpf) != 0 || k.n != n || k.rbits != spec.openBits() ||
		!k.shapeOK() || k.dcf.N != n || k.dcf.Bits != m-1 || k.dcf.P != 2 || k.dcf.Party != p.ID || k.dcf.Width != 0 {
		return nil, nil, fmt.Errorf("hss: %s: material does not match the gate", k.kind)
	}
	r, mr, mrr, release := k.masks()
	defer release() // after the ParallelFor below, which reads them
	r, mr, mrr = r[:n], mr[:n], mrr[:n]
	masked := make([]uint64, n)
	for i := range x {
		masked[i] = x[i] + r[i]
	}
	xh, err := p.OpenBits(masked, 64)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: %s: %w", k.kind, err)
	}
	s, sx = make([][]uint64, len(ts)), make([][]uint64, len(ts))
	for j := range ts {
		s[j], sx[j] = make([]uint64, n), make([]uint64, n)
	}
	own := uint64(1 - p.ID)
	fss.ParallelFor(n, func(wk *fss.Worker, lo, hi int) {
		nt := len(ts)
		in, c := make([]uint64, nt), make([]uint64, 2*nt)
		for i := lo; i < hi; i++ {
			for j, t := range ts {
				in[j] = (xh[i] - t) & Mask(m-1)
			}
			wk.EvalPoints(k.dcf, i, in, c) // all thresholds of element i in one lockstep walk
			for j, t := range ts {
				vh := xh[i] - t // masked x − t
				idx := vh & Mask(m)
				pb := 1 ^ (idx>>(m-1))&1
				u := mr[i] + c[2*j]
				ur := mrr[i] + c[2*j+1]
				f := 1 - 2*pb
				sj := own*pb + f*u
				sr := pb*r[i] + f*ur
				s[j][i] = sj
				sx[j][i] = sj*vh - sr + sj*t
			}
		}
	})
	return s, sx, nil
}

// ---- public gates -----------------------------------------------------------------------------------

// RecipExtra is the number of fractional bits Reciprocal and Rsqrt add to their output:
// their results have Frac + RecipExtra fractional bits.
const RecipExtra = 12

func checkOctFrac(f uint) error {
	if f < 8 || f > 28 {
		return fmt.Errorf("frac %d out of range [8,28]", f)
	}
	return nil
}

func recipSpec(fx Fixed) octSpec {
	return octSpec{target: octRecip, lo: -6, hi: 12, inFrac: fx.Frac, outFrac: fx.Frac + RecipExtra, mulBits: 64}
}

func rsqrtSpec(fx Fixed) octSpec {
	return octSpec{target: octRsqrt, lo: -8, hi: 14, inFrac: fx.Frac, outFrac: fx.Frac + RecipExtra, mulBits: 64}
}

// GenReciprocal generates material for Reciprocal on n elements.
func GenReciprocal(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	if err := checkOctFrac(fx.Frac); err != nil {
		return nil, nil, fmt.Errorf("hss: gen recip: %w", err)
	}
	a, b, err := genOct(rng, "recip", n, recipSpec(fx))
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// Reciprocal returns shares of 1/x, with Frac+RecipExtra fractional bits, for shares x (Frac
// fractional bits, 8 ≤ Frac ≤ 28) with x ∈ [2^-6, 2^12): softmax row sums (in [1, seqLen] for
// seqLen ≤ 4096) and other positive values.
//
// Construction: the octave lookup of octave.go: normalised-input lookup as in SIGMA (Gupta et al.,
// PETS 2024), octave comparisons by one DCF per element evaluated at 17 thresholds (Boyle et al.,
// Eurocrypt 2021), a cubic mantissa lookup (19 indices), its truncation and a Beaver product with the
// octave factor. Rounds 4. Online (both parties): 68.75 bytes at Frac 12. Dealer (both parties): two
// DCF keys on Frac+13 bits with payload 2, two DPF keys on 7 bits with payload 4, a Trunc key and a
// 64-bit triple, ≈ 2.40 KB per element at Frac 12 (party 0: 1.11 KB). Error: relative ≤ 2^-14
// (offset) + 2^-(F−1) (L's truncation, F = Frac+1): measured 2^-12.2 at Frac 12, within the
// required 2^-9 (softmax divides by the row sums with it, so its error enters every probability).
// Inputs just below 2^-6 give ≈ 2^6, smaller ones 0. Eval cost per element: 17 DCF paths walked in
// lockstep (fss.Worker.EvalMulti), a window of 19 positions (a softmax needs one per row).
func (p *Party) Reciprocal(x []uint64) ([]uint64, error) {
	if err := checkOctFrac(p.Fx.Frac); err != nil {
		return nil, fmt.Errorf("hss: recip: %w", err)
	}
	return p.evalOct("recip", recipSpec(p.Fx), x)
}

// GenRsqrt generates material for Rsqrt on n elements.
func GenRsqrt(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error) {
	if err := checkOctFrac(fx.Frac); err != nil {
		return nil, nil, fmt.Errorf("hss: gen rsqrt: %w", err)
	}
	a, b, err := genOct(rng, "rsqrt", n, rsqrtSpec(fx))
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// Rsqrt returns shares of 1/√x, with Frac+RecipExtra fractional bits, for shares x (Frac fractional
// bits, 8 ≤ Frac ≤ 28) with x ∈ [2^-8, 2^14) (variances and mean squares plus ε; LayerNorm and RMSNorm
// use the same construction on a more precise input and the range [2^-16, 2^15)).
//
// Construction: the octave lookup of octave.go (SIGMA, PETS 2024; Boyle et al., Eurocrypt 2021) with
// two cubic mantissa pieces (even and odd octaves), 22 octaves. Rounds 4. Online (both parties):
// 70.5 bytes at Frac 12. Dealer (both parties): two DCF keys on Frac+15 bits with payload 2, two DPF
// keys on 7 bits with payload 4, a Trunc key and a 64-bit triple, ≈ 2.53 KB per element at Frac 12
// (party 0: 1.18 KB).
// Error: relative ≤ 2^-14 + 2^-(F−1), F = Frac+6: measured 2^-15.4 at Frac 12. Eval cost per
// element: 21 DCF paths in lockstep, a window of 37 positions.
func (p *Party) Rsqrt(x []uint64) ([]uint64, error) {
	if err := checkOctFrac(p.Fx.Frac); err != nil {
		return nil, fmt.Errorf("hss: rsqrt: %w", err)
	}
	return p.evalOct("rsqrt", rsqrtSpec(p.Fx), x)
}

// costOct is the cost of an octave lookup (genOct / evalOct) on n elements: the thresholds'
// comparison (64-bit opening), the mantissa lookup and the product with the octave factor.
func costOct(kind string, n int, s octSpec) (Cost, error) {
	st, err := octStages(kind, n, s)
	return SumStages(st), err
}

// octStages is costOct by stage.
func octStages(kind string, n int, s octSpec) ([]Stage, error) {
	pr, err := s.prep()
	if err != nil {
		return nil, fmt.Errorf("hss: cost %s: %w", kind, err)
	}
	cmp := costLUT(n, pr.cmp)
	cmp.Online, cmp.Rounds = open(n, 64).Online, 1 // evalThresholds opens at 64 bits
	return seqStages(kind, part{kind: kind + ".cmp", c: cmp, label: "cmp"}, part{kind: kind + ".lut", c: costLUT(n, pr.lut), label: "lut"},
		part{kind: "trunc", c: costTrunc(n, pr.lut.fb, pr.lut.tbits)}, part{kind: "mul", c: costMul(n, normBits(s.mulBits))}), nil
}

func init() {
	for _, k := range []string{"recip.cmp", "recip.lut", "rsqrt.cmp", "rsqrt.lut"} {
		registerLUT(k)
	}
	registerSeq("recip", "recip.cmp", "recip.lut", "trunc", "mul")
	registerSeq("rsqrt", "rsqrt.cmp", "rsqrt.lut", "trunc", "mul")
}
