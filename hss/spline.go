package hss

import (
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/hssee/hssee/hss/fss"
)

// Octave splines: a positive power function t(X) (octSpec: 1/√X for the norms) of one value per row
// in ONE round, where the octave lookup (octave.go) takes two — its comparisons, then the mantissa's
// lookup on an index the comparisons produce. This is the spline gate of Boyle et al. (Eurocrypt
// 2021, §5: a piecewise polynomial from interval containment, the payloads carrying what the pieces
// need), with the octave normalisation of SIGMA (Gupta et al., PETS 2024) done by the payloads:
//
//  1. Open x̂ = x + r mod 2^m (r uniform, m = cmpBits). For every octave j (X ∈ [2^(lo+j),
//     2^(lo+j+1)), raw exponent e_j = lo + j + inFrac) one DCF key per row, all at the same point α
//     (r's bits), is evaluated at the K+1 public points x̂ − T_{j,i}, T_{j,i} = 2^e_j·(1 + i/K), i = 0
//     … K (T_{j,K} = T_{j+1,0}). By the MSB rule (Boyle et al., §4) each evaluation gives shares of
//     s_{j,i} = 1{x ≥ T_{j,i}}; the comparisons read x̂ − T at a common resolution 2^k0 (1/8 of a
//     piece of the lowest octave; the dropped bits' carry is the same at every threshold, all
//     multiples of 2^k0, so the s are monotone in the threshold and every row lies in exactly one
//     piece; a row less than 2^k0 below a threshold may take the piece above it, whose parabola
//     holds there to 2^-14.2).
//  2. The same opening is the truncation of x by k_j = e_j − pm_j (pm_j = min(splinePM, e_j)) for
//     every octave j, at width m (Trunc's y = A_j(x̂) − R_j + g_j(x̂)·M, R_j = (r mod 2^m) >> k_j, M its
//     top bit, as in trunc.go: exact although x is correct only mod 2^m). Key j's payload is (1 −
//     2μ)·(1, R_j, M, R_j², R_j·M), μ the mask bit of the MSB rule: it gives s·R_j, s·M, s·R_j² and
//     s·R_j·M, so s_{j,i}·Σ'_j and s_{j,i}·Σ'_j², Σ'_j = Trunc(x, k_j) = A − R + g·M (M² = M), are
//     local. In octave j, Σ'_j is the mantissa m ∈ [1, 2) at pm_j fractional bits.
//  3. With b_{j,i} = s_{j,i} − s_{j,i+1} (one-hot over the pieces), L = Σ b_{j,i}·(A0 + A1·Σ'_j +
//     A2·Σ'_j²) is the piece's parabola through t_c at its three Chebyshev nodes (c the octave's class,
//     as in octave.go: t(X) = t_c(m)·2^(−sh_j)), untruncated at splineF fractional bits, and O = Σ_j
//     (s_{j,0} − s_{j,K})·2^(G−sh_j) the octave factor. L's truncation and the row product x·L·O then
//     take one round (truncRowMul3), so t(X)·x takes 2 rounds where the octave lookup's takes 3.
//
// Error: the parabolas' fit over pieces of 1/K of the mantissa (h³·max|t_c‴|/192 ≈ 2^-15.7 relative
// for 1/√X), the mantissa's truncation (2^-pm), L's truncation (2^-lutFrac); measured 2^-14.3 to
// 2^-15 relative, as the octave lookup (TestSpline), 2^-14.2 within 2^k0 below a threshold. Inputs
// below 2^lo give 0, and so do inputs from 2^hi up to 2^(hi+1) (2^(m−1) raw; outside the range;
// within 2^k0 of 2^lo or 2^hi either may happen). The view is x̂ alone, uniform. Material per row and
// party: one DCF key per octave (m − k0 − 1 levels, 38 for the norms; payload 5: ~68 KB per row and
// party for the norms' 31 octaves), 6·nb + 4 words for party 1; the evaluation
// costs nb·(K+1) DCF walks per row (~20× the octave lookup's CPU), which is why only one-row norms
// use it.

const (
	splineKBits = 3 // K = 8 quadratic pieces per octave
	splinePM    = 16
	splineF     = 2*splinePM + 17 // L's fractional bits before its truncation (A2 keeps 17 bits)
	splineP     = 5               // DCF payload: (1 − 2μ)·(1, R_j, M, R_j², R_j·M)
	// splineVersion is in the keys' tag: material of an earlier layout (its truncations, opening width
	// and comparison resolution) is refused rather than misread.
	splineVersion = 1
)

// splinePrep is the public data of an octave spline: per octave its thresholds, truncation shift and
// factor, per class and piece the line's coefficients.
type splinePrep struct {
	nb       int
	m, k0    uint       // comparisons of x − T mod 2^m at resolution 2^k0: DCFs on m − k0 − 1 bits
	ks       []uint     // the octaves' truncations: k_j = e_j − pm_j, pm_j = min(splinePM, e_j)
	ts       [][]uint64 // [nb][K+1]
	factor   []uint64
	a0, a1   [][]uint64 // [nb][K]
	a2       [][]uint64
	F        uint // L's fractional bits
	fb, tb   uint // L's truncation: by fb at width tb
	tag      uint64
	dcfBits  uint
	payloads int
}

var splineCache sync.Map // octSpec -> *splinePrep

func (s octSpec) spline() (*splinePrep, error) {
	if v, ok := splineCache.Load(s); ok {
		return v.(*splinePrep), nil
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	K := 1 << splineKBits
	e0 := s.lo + int(s.inFrac)
	if e0 < splineKBits {
		return nil, fmt.Errorf("input frac %d too small for a spline from 2^%d", s.inFrac, s.lo)
	}
	nb := s.nb()
	lf := s.lutFrac()
	F := uint(splineF)
	if lf+1 > F {
		return nil, fmt.Errorf("output frac %d too large for a spline", s.outFrac)
	}
	p := &splinePrep{nb: nb, m: s.cmpBits(), k0: uint(max(0, e0-splineKBits-3)), F: F, fb: F - lf, tb: F + 3,
		ks: make([]uint, nb), ts: make([][]uint64, nb), factor: make([]uint64, nb),
		a0: make([][]uint64, nb), a1: make([][]uint64, nb), a2: make([][]uint64, nb)}
	p.dcfBits = p.m - p.k0 - 1
	p.payloads = splineP
	g := s.g()
	h := 1 / float64(K)
	for j := range nb {
		e := uint(e0 + j)
		c, sh := s.octave(j)
		pm := min(splinePM, e) // k_j = 0 where the input has at most splinePM bits there (Trunc by 0 is exact)
		p.ks[j], p.factor[j] = e-pm, 1<<uint(g-sh)
		p.ts[j] = make([]uint64, K+1)
		for i := range K + 1 {
			p.ts[j][i] = 1<<e + uint64(i)<<(e-splineKBits)
		}
		// The piece's parabola through t_c at its three Chebyshev nodes, in Σ'_j = m·2^pm.
		p.a0[j], p.a1[j], p.a2[j] = make([]uint64, K), make([]uint64, K), make([]uint64, K)
		for i := range K {
			mid := 1 + (float64(i)+0.5)*h
			var xs, ys [3]float64
			for k := range 3 {
				xs[k] = mid + h/2*math.Cos(float64(2*k+1)*math.Pi/6)
				ys[k] = s.f(math.Ldexp(xs[k], c))
			}
			// Newton's divided differences, then the monomial coefficients.
			d1 := (ys[1] - ys[0]) / (xs[1] - xs[0])
			d2 := ((ys[2]-ys[1])/(xs[2]-xs[1]) - d1) / (xs[2] - xs[0])
			a2 := d2
			a1 := d1 - d2*(xs[0]+xs[1])
			a0 := ys[0] - d1*xs[0] + d2*xs[0]*xs[1]
			p.a0[j][i] = uint64(int64(math.Round(math.Ldexp(a0, int(F)))))
			p.a1[j][i] = uint64(int64(math.Round(math.Ldexp(a1, int(F)-int(pm)))))
			p.a2[j][i] = uint64(int64(math.Round(math.Ldexp(a2, int(F)-2*int(pm)))))
		}
	}
	p.tag = s.tag() ^ 1<<62 | uint64(splineKBits)<<52 | uint64(splinePM)<<56 | splineVersion<<60
	v, _ := splineCache.LoadOrStore(s, p)
	return v.(*splinePrep), nil
}

// SplineKey is one party's material for an octave spline on N values (one per row): per value the
// mask r, the sign bit μ of the MSB rule, M = msb(r mod 2^m) and μ·M, then per octave R_j = (r mod 2^m)
// >> k_j, μR_j, R_j², μR_j², R_j·M and μR_j·M (splineWords); party 0 expands its shares from Seed,
// party 1 holds its corrections (W). DCF holds one batch per octave with payload (1 − 2μ)·(1, R_j, M,
// R_j², R_j·M): one batch of N·NB keys, value i's octave j at i·NB + j, all of value i at the same point.
type SplineKey struct {
	Consumable
	Party uint8
	N, NB int
	Tag   uint64
	Seed  [32]byte
	W     []uint64 // party 1 only
	DCF   *fss.DCFKeys
}

func (k *SplineKey) Kind() string { return "ospl" }
func (k *SplineKey) Len() int     { return k.N }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *SplineKey) PartyID() int { return int(k.Party) }

// splineWords is the number of shares per value: r, μ, M, μM and 6 per octave.
func splineWords(nb int) int { return 4 + 6*nb }

func (k *SplineKey) Size() int {
	s := 1 + 4 + 1 + 8 + 32
	if k.Party == 1 {
		s += PackedLen(k.N*splineWords(k.NB), 64)
	}
	if k.DCF != nil {
		s += fssHeaderLen + k.DCF.Size()
	}
	return s
}

func (k *SplineKey) shapeOK() bool {
	if k.Party == 0 {
		return k.W == nil
	}
	return len(k.W) == k.N*splineWords(k.NB)
}

func (k *SplineKey) MarshalBinary() ([]byte, error) {
	if k.Party > 1 || k.NB < 1 || k.NB > 64 || k.DCF == nil || !k.shapeOK() {
		return nil, fmt.Errorf("hss: ospl key: marshal: %w", errKey)
	}
	e := Enc{b: make([]byte, 0, k.Size())}
	e.U8(k.Party)
	e.U32(uint32(k.N))
	e.U8(uint8(k.NB))
	e.U64(k.Tag)
	e.Seed(k.Seed)
	if k.Party == 1 {
		e.Packed(k.W, 64)
	}
	b, err := k.DCF.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("hss: ospl key: marshal: %w", err)
	}
	e.b = append(e.b, b...)
	return e.Bytes(), nil
}

func (k *SplineKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party := d.U8()
	n := int(d.U32())
	nb := int(d.U8())
	tag := d.U64()
	seed := d.Seed()
	if d.Err() == nil && (party > 1 || n > MaxKeyLen/splineWords(64) || nb < 1 || nb > 64) {
		d.Fail(fmt.Errorf("party %d, length %d, %d octaves: %w", party, n, nb, errKey))
	}
	out := &SplineKey{Party: party, N: n, NB: nb, Tag: tag, Seed: seed}
	if d.Err() == nil && party == 1 {
		out.W = d.Packed(n*splineWords(nb), 64)
	}
	if d.Err() == nil {
		raw := d.take(len(d.b))
		if d.Err() == nil {
			dk := new(fss.DCFKeys)
			if err := dk.UnmarshalBinary(raw); err != nil {
				d.Fail(err)
			} else if dk.N != n*nb || dk.Party != int(party) || dk.P != splineP || dk.Bits < 1 || dk.Bits > 62 {
				d.Fail(fmt.Errorf("comparison keys do not match: %w", errKey))
			}
			out.DCF = dk
		}
	}
	if err := d.Finish(); err != nil {
		*k = SplineKey{}
		return fmt.Errorf("hss: ospl key: %w", err)
	}
	k.Party, k.N, k.NB, k.Tag, k.Seed, k.W, k.DCF = out.Party, out.N, out.NB, out.Tag, out.Seed, out.W, out.DCF
	return nil
}

func init() {
	RegisterKey("ospl", func() MarshalKey { return new(SplineKey) })
	registerSeq("rsqrt.sm", "ospl", "trowmul3")
}

// genSpline generates material for evalSpline on n values.
func genSpline(rng io.Reader, n int, s octSpec) (k0, k1 *SplineKey, err error) {
	p, err := s.spline()
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen ospl: %w", err)
	}
	nb, nw := p.nb, splineWords(p.nb)
	if n < 0 || n > MaxKeyLen/nw {
		return nil, nil, fmt.Errorf("hss: gen ospl: length %d out of range", n)
	}
	s0, err := ReadSeed(rng)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen ospl: %w", err)
	}
	r, err := randU64s(rng, n)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen ospl: %w", err)
	}
	k0 = &SplineKey{Party: 0, N: n, NB: nb, Tag: p.tag, Seed: s0}
	k1 = &SplineKey{Party: 1, N: n, NB: nb, Tag: p.tag, W: make([]uint64, n*nw)}
	b0 := streamScratch(s0, n*nw)
	defer putWords(b0)
	alphas := make([]uint64, n*nb)
	betas := make([]uint64, splineP*n*nb)
	v := make([]uint64, nw)
	for i, ri := range r {
		idx := (ri >> p.k0) & Mask(p.m-p.k0)
		mu := idx >> (p.m - p.k0 - 1)
		for j := range nb {
			alphas[i*nb+j] = idx & Mask(p.dcfBits)
		}
		rl := ri & Mask(p.m) // the truncations' mask: width m
		M := rl >> (p.m - 1)
		v[0], v[1], v[2], v[3] = ri, mu, M, mu*M
		for j := range nb {
			R := rl >> p.ks[j]
			w := v[4+6*j : 10+6*j]
			w[0], w[1], w[2], w[3], w[4], w[5] = R, mu*R, R*R, mu*R*R, R*M, mu*R*M
			b := betas[splineP*(i*nb+j) : splineP*(i*nb+j+1)]
			b[0], b[1], b[2], b[3], b[4] = 1-2*mu, (1-2*mu)*R, (1-2*mu)*M, (1-2*mu)*R*R, (1-2*mu)*R*M
		}
		for t, x := range v {
			k1.W[i*nw+t] = x - b0[i*nw+t]
		}
	}
	if k0.DCF, k1.DCF, err = fss.GenDCF(rng, p.dcfBits, splineP, alphas, betas); err != nil {
		return nil, nil, fmt.Errorf("hss: gen ospl: %w", err)
	}
	return k0, k1, nil
}

// evalSpline runs the spline's round on x (one value per row) and returns L untruncated (F
// fractional bits, in a pooled buffer: putWords it) and the octave factor O.
func (q *Party) evalSpline(k *SplineKey, p *splinePrep, x []uint64) (lin, fac []uint64, err error) {
	n, nb, nw := len(x), p.nb, splineWords(p.nb)
	if int(k.Party) != q.ID || k.N != n || k.NB != nb || k.Tag != p.tag || k.DCF == nil || !k.shapeOK() ||
		k.DCF.N != n*nb || k.DCF.Bits != p.dcfBits || k.DCF.P != splineP || k.DCF.Party != q.ID || k.DCF.Width != 0 {
		return nil, nil, fmt.Errorf("hss: ospl: material does not match the gate")
	}
	w := k.W
	if q.ID == 0 {
		buf := streamScratch(k.Seed, n*nw)
		defer putWords(buf)
		w = buf
	}
	masked := make([]uint64, n)
	for i := range x {
		masked[i] = x[i] + w[i*nw]
	}
	xh, err := q.OpenBits(masked, p.m) // everything below reads x̂ mod 2^m
	if err != nil {
		return nil, nil, fmt.Errorf("hss: ospl: %w", err)
	}
	lin, fac = getWords(n), make([]uint64, n)
	own := uint64(1 - q.ID)
	K := 1 << splineKBits
	top := p.m - 1
	np := K + 1 // points per octave
	// One task per value and octave (a decode step's one row spreads its octaves over the workers);
	// each leaves its octave's part of L and O, summed per value below.
	pl, po := make([]uint64, n*nb), make([]uint64, n*nb)
	fss.ParallelForGrain(n*nb, 4, func(wk *fss.Worker, lo, hi int) {
		in, keys, c := make([]uint64, np), make([]int, np), make([]uint64, splineP*np)
		sv, y1, y2 := make([]uint64, np), make([]uint64, np), make([]uint64, np)
		for task := lo; task < hi; task++ {
			i, j := task/nb, task%nb
			v := w[i*nw : (i+1)*nw]
			for t, th := range p.ts[j] {
				in[t] = ((xh[i] - th) >> p.k0) & Mask(p.dcfBits)
				keys[t] = task // the batch's key i·nb + j
			}
			wk.EvalMulti(k.DCF, keys, in, c)
			mu, M, muM := v[1], v[2], v[3]
			// The truncations' opened value at width m (trunc.go: c = x + r + 2^(m−2)): x is
			// correct mod 2^m only (the norms' squares), and x < 2^(m−2).
			ch := (xh[i] + 1<<(p.m-2)) & Mask(p.m)
			gm := (ch>>(p.m-1))&1 ^ 1
			kj := p.ks[j]
			A := ch>>kj - 1<<(p.m-2-kj)
			g := gm << (p.m - kj)
			o := v[4+6*j : 10+6*j]
			R, muR, R2, muR2, RM, muRM := o[0], o[1], o[2], o[3], o[4], o[5]
			for t, th := range p.ts[j] {
				pb := 1 ^ ((xh[i]-th)>>top)&1
				f := 1 - 2*pb
				cc := c[splineP*t : splineP*(t+1)]
				// Shares of s and of s times R, M, R², R·M (the MSB rule, as signStep).
				s := own*pb + f*(mu+cc[0])
				sR := pb*R + f*(muR+cc[1])
				sM := pb*M + f*(muM+cc[2])
				sR2 := pb*R2 + f*(muR2+cc[3])
				sRM := pb*RM + f*(muRM+cc[4])
				// s·Σ' and s·Σ'² for Σ' = A − R + g·M (M² = M).
				sv[t] = s
				y1[t] = s*A - sR + g*sM
				y2[t] = s*(A*A) + sR2 + (g*g+2*A*g)*sM - 2*A*sR - 2*g*sRM
			}
			a0, a1, a2 := p.a0[j], p.a1[j], p.a2[j]
			var L uint64
			for t := range K {
				L += a0[t]*(sv[t]-sv[t+1]) + a1[t]*(y1[t]-y1[t+1]) + a2[t]*(y2[t]-y2[t+1])
			}
			pl[task], po[task] = L, (sv[0]-sv[K])*p.factor[j]
		}
	})
	for i := range n {
		var L, O uint64
		for j := range nb {
			L, O = L+pl[i*nb+j], O+po[i*nb+j]
		}
		lin[i], fac[i] = L, O
	}
	return lin, fac, nil
}

// costSpline is the cost of evalSpline (and genSpline's keys) on n values.
func costSpline(n int, p *splinePrep) Cost {
	d := &fss.DCFKeys{Bits: p.dcfBits, P: splineP, N: n * p.nb}
	k0 := &SplineKey{Party: 0, N: n, NB: p.nb, DCF: d}
	k1 := &SplineKey{Party: 1, N: n, NB: p.nb, DCF: d}
	return open(n, p.m).Add(keyCost(k0.Size(), k1.Size()))
}

// genSplineMul3 generates material for evalSplineMul3: the spline (kind.sm's ospl) on one value per row
// and the fused truncation and row product.
func genSplineMul3(rng io.Reader, kind string, lens []int, s octSpec, bits uint) (*seqKey, *seqKey, error) {
	p, err := s.spline()
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	rows := len(lens)
	c0, c1, err := genSpline(rng, rows, s)
	if err != nil {
		return nil, nil, err
	}
	t0, t1, err := genTruncRowMul3(rng, lens, p.fb, p.tb, bits)
	if err != nil {
		return nil, nil, err
	}
	return newSeqKey(kind+".sm", rows, c0, t0), newSeqKey(kind+".sm", rows, c1, t1), nil
}

// evalSplineMul3 returns shares of x_ij · L_i · O_i mod 2^bits, L_i·O_i = t(v_i) by the octave spline
// (one value per row): 2 rounds (the spline, then L's truncation with the row product), where
// evalOctMul3 takes 3.
func (p *Party) evalSplineMul3(kind string, s octSpec, v []uint64, x []uint64, lens []int) ([]uint64, error) {
	sp, err := s.spline()
	if err != nil {
		return nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	q, err := p.sub(kind+".sm", len(v))
	if err != nil {
		return nil, err
	}
	sk, err := takeKey[*SplineKey](q, "ospl", len(v))
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	lin, fac, err := q.evalSpline(sk, sp, v)
	if err != nil {
		return nil, wrapGate(kind, err)
	}
	defer putWords(lin)
	return q.endMul3(kind, x, lin, fac, lens, sp.fb, sp.tb, xTrunc{})
}

// splineMul3Part is the cost of evalSplineMul3 as one part of a composite, by stage (spline,
// trowmul3).
func splineMul3Part(kind string, lens []int, s octSpec, bits uint) (part, error) {
	sp, err := s.spline()
	if err != nil {
		return part{}, fmt.Errorf("hss: cost %s: %w", kind, err)
	}
	rows, n, err := mul3Shape(kind, lens)
	if err != nil {
		return part{}, err
	}
	st := seqStages(kind, part{kind: "ospl", c: costSpline(rows, sp), label: "spline"},
		part{kind: "trowmul3", c: costTruncRowMul3(rows, n, sp.fb, sp.tb, bits)})
	return part{kind: kind + ".sm", label: kind, c: SumStages(st), sub: st}, nil
}
