package fss

import (
	"fmt"
	"unsafe"
)

// Window evaluation fused with the inner products of a piecewise-polynomial lookup.
//
// A key with payload β = (1, ρ, ρ², …, ρ^D) at the point α shares, at every window position q, the
// vector y_q = [lo+q = α]·β. For public coefficient tables coef[j] (j ≤ D) and a public u, the
// parties then hold shares of
//
//	Σ_q Σ_j coef[j][q]·(u − ρ)^j·[lo+q = α] = Σ_j coef[j][q*]·(u − ρ)^j   (q* = α − lo)
//
// without a multiplication: expanding (u − ρ)^j = Σ_c binom(j, c)·u^(j−c)·(−ρ)^c gives
// Σ_i u^i·S_i with S_i = Σ_q Σ_c y_q,c·H_c,i[q] and H_c,i = (−1)^c·binom(c+i, c)·coef[c+i]. This is
// the spline evaluation of SIGMA (Gupta et al., PETS 2024, §4), which multiplies the DPF's
// indicator by the coefficients in a second round, made local here by a mask-dependent payload as
// Boyle et al. (Eurocrypt 2021, §5) do for the offset.

// polyH returns the tables H_c,i of the expansion above for the window's coefficient tables coef
// (degree D = len(coef) − 1): h[c*(D+1)+i][q], zero when c + i > D.
func polyH(coef [][]uint64) [][]uint64 {
	p := len(coef)
	count := len(coef[0])
	h := make([][]uint64, p*p)
	for c := range p {
		for i := range p {
			t := make([]uint64, count)
			if c+i < p {
				b := binom(c+i, c)
				if c%2 == 1 {
					b = -b
				}
				for q, v := range coef[c+i] {
					t[q] = b * v
				}
			}
			h[c*p+i] = t
		}
	}
	return h
}

func binom(n, k int) uint64 {
	r := uint64(1)
	for j := 1; j <= k; j++ {
		r = r * uint64(n-k+j) / uint64(j)
	}
	return r
}

// horner returns Σ_i u^i·s[i] (mod 2^64).
func horner(s []uint64, u uint64) uint64 {
	var v uint64
	for i := len(s) - 1; i >= 0; i-- {
		v = v*u + s[i]
	}
	return v
}

func checkPoly(k *DPFKeys, coef [][]uint64) (int, error) {
	if len(coef) < 1 || len(coef) != k.P {
		return 0, fmt.Errorf("fss: dpf window: %d coefficient tables for payload %d", len(coef), k.P)
	}
	count := len(coef[0])
	for _, c := range coef {
		if len(c) != count {
			return 0, fmt.Errorf("fss: dpf window: coefficient tables of unequal length")
		}
	}
	return count, k.checkWindow(0, count)
}

// EvalWindowPoly returns the party's share of Σ_q Σ_j coef[j][q]·(u − ρ)^j·[lo+q = α_i] over the
// window of len(coef[j]) inputs starting at lo (mod 2^Bits), for a key with payload (1, ρ, …, ρ^D),
// D = len(coef) − 1 = P − 1 (see the comment above). It is the reference for EvalWindowPolyBatch.
func (w *Worker) EvalWindowPoly(k *DPFKeys, i int, lo uint64, coef [][]uint64, u uint64) (uint64, error) {
	count, err := checkPoly(k, coef)
	if err != nil {
		return 0, err
	}
	if i < 0 || i >= k.N {
		return 0, fmt.Errorf("fss: dpf window: key %d out of range", i)
	}
	p := k.P
	y := make([]uint64, count*p)
	if err := w.EvalWindow(k, i, lo, count, y); err != nil {
		return 0, err
	}
	h := polyH(coef)
	s := make([]uint64, p)
	for q := range count {
		for c := range p {
			for j := range p {
				s[j] += y[q*p+c] * h[c*p+j][q]
			}
		}
	}
	return horner(s, u), nil
}

// EvalWindowPolyBatch sets out[e] = EvalWindowPoly(k, i0+e, los[e], coef, us[e]) for every e <
// len(los), with the same results, expanding the trees of up to winBatch elements together
// (expandBatch) and fusing the leaves' conversion with the inner products (for payload 4 and 2- or
// 3-level leaves, whole leaves against tables padded per window offset, polyLeavesPadded: with
// AVX-512 F/DQ where the CPU has them, polyDotAVX).
func (w *Worker) EvalWindowPolyBatch(k *DPFKeys, i0 int, los []uint64, coef [][]uint64, us, out []uint64) error {
	count, err := checkPoly(k, coef)
	if err != nil {
		return err
	}
	n := len(los)
	if len(us) < n || len(out) < n || i0 < 0 || i0+n > k.N {
		return fmt.Errorf("fss: dpf window: batch of %d from key %d out of range", n, i0)
	}
	if count == 0 {
		clear(out[:n])
		return nil
	}
	h := polyH(coef)
	var pad []uint64
	if padLeaves && k.P == 4 && (k.Leaf == 2 || k.Leaf == 3) {
		pad = polyPad(h, count, 1<<k.Leaf)
	}
	for b := 0; b < n; b += winBatch {
		e := min(b+winBatch, n)
		ws, cur, ct := w.expandBatch(k, i0+b, los[b:e], count)
		if pad != nil {
			w.polyLeavesPadded(k, i0+b, ws, cur, ct, count, us[b:e], out[b:e], pad)
		} else {
			w.polyLeaves(k, i0+b, ws, cur, ct, h, count, us[b:e], out[b:e])
		}
	}
	return nil
}

// polyLeaves finishes EvalWindowPolyBatch in portable Go: per element, its leaves are hashed and
// every window position's values enter the sums S_i.
func (w *Worker) polyLeaves(k *DPFKeys, i0 int, ws []winState, cur []block, ct []uint64, h [][]uint64, count int, us, out []uint64) {
	p := k.P
	nl := 1 << k.Leaf
	lmask := nl - 1
	nbk := (k.leafVals() + 1) / 2
	v := k.leafVals()
	neg := mask64(uint64(k.Party))
	var s [MaxPayload]uint64
	for e := range ws {
		base := int(ws[e].lo) & lmask
		nlv := (base+count-1)>>k.Leaf + 1
		seeds := cur[ws[e].at : ws[e].at+nlv]
		tc := ct[ws[e].at : ws[e].at+nlv]
		lb := w.leafBlocks(nlv * nbk)
		for u, sd := range seeds {
			dst := lb[u*nbk : (u+1)*nbk]
			for b := range dst {
				dst[b] = block{sd.lo ^ (tweakLeaf + 2*uint64(b)), sd.hi}
			}
		}
		mmoBlocks(lb, lb)
		vals := blockVals(lb)
		fin := k.fin[(i0+e)*v : (i0+e+1)*v]
		clear(s[:p])
		for q := range count {
			pos := base + q
			u, off := pos>>k.Leaf, pos&lmask
			m := mask64(tc[u])
			src := vals[u*2*nbk+off*p : u*2*nbk+off*p+p]
			f := fin[off*p : off*p+p]
			for c := range p {
				y := src[c] + (f[c] & m)
				hc := h[c*p : c*p+p]
				for i := range p {
					s[i] += y * hc[i][q]
				}
			}
		}
		out[e] = (horner(s[:p], us[e]) ^ neg) - neg
	}
}

// polyPad returns, for the AVX-512 inner products of payload-4 leaves of npos positions, the tables
// H_·,i laid out as the leaves' values (position p of the padded window, slot c at word 4p+c) for
// each of the npos offsets b of a window in its first leaf (position p = b + q), zero outside the
// window. Table i of offset b is at pad[(4b+i)·st:], st = polyStride(count, npos).
func polyPad(h [][]uint64, count, npos int) []uint64 {
	st := polyStride(count, npos)
	pad := make([]uint64, 4*npos*st)
	for b := range npos {
		for i := range 4 {
			t := pad[(4*b+i)*st : (4*b+i+1)*st]
			for q := range count {
				for c := range 4 {
					t[4*(b+q)+c] = h[c*4+i][q]
				}
			}
		}
	}
	return pad
}

// polyLeaves is the most leaves a window of count positions meets (leaves of npos positions).
func polyLeaves(count, npos int) int { return (count + 2*npos - 2) / npos }

// polyStride is the words per padded table: whole leaves of the widest offset.
func polyStride(count, npos int) int { return 4 * npos * polyLeaves(count, npos) }

// padLeaves makes EvalWindowPolyBatch take the padded-leaves path (polyLeavesPadded) for the
// lookups' shapes; the tests clear it to run the portable one (polyLeaves) too. On an AMD EPYC
// without AVX-512 the padded path with Go inner products took 600–700 ns per element against 815–920
// for the portable one on GeLU's window, 1100–1300 against 1700–2100 on SiLU's
// (BenchmarkEvalWindowPolyBatch).
var padLeaves = true

// polyLeavesPadded finishes EvalWindowPolyBatch for payload 4 and 2- or 3-level leaves (8 or 16
// blocks: 4 or 8 positions of four slots) with whole-leaf inner products (polyDot: AVX-512 where
// the CPU has it): the leaves of all the batch's elements, contiguous in cur, are hashed in one call
// (3-level leaves: one that builds their inputs in registers, leafBlocks16), and the padded tables
// zero the positions outside each window.
func (w *Worker) polyLeavesPadded(k *DPFKeys, i0 int, ws []winState, cur []block, ct []uint64, count int, us, out, pad []uint64) {
	leaf := k.Leaf
	npos := 1 << leaf
	nb := 2 * npos // blocks per leaf
	st := polyStride(count, npos)
	neg := mask64(uint64(k.Party))
	var s [4]uint64
	last := ws[len(ws)-1]
	tot := last.at + int(last.end>>leaf-last.lo>>leaf) + 1
	lb := w.leafBlocks(nb * tot)
	if nb == 16 {
		leafBlocks16(lb, cur[:tot])
	} else {
		leafHashes(lb, cur[:tot], nb)
	}
	for e := range ws {
		base := int(ws[e].lo) & (npos - 1)
		nlv := (base+count-1)>>leaf + 1
		fin := unsafe.Slice((*block)(unsafe.Pointer(&k.fin[(i0+e)*4*npos])), nb)
		at := ws[e].at
		polyDot(lb[nb*at:nb*(at+nlv)], nlv, npos/4, fin, ct[at:at+nlv], pad[4*base*st:], st, &s)
		out[e] = (horner(s[:], us[e]) ^ neg) - neg
	}
}

// polyDot sets s[i] = Σ_words (lb + (fin & −tc))·T_i over n leaves of halves·8 blocks each (leaf u
// at lb[8·halves·u:], control bit tc[u]; fin the halves·8 blocks of final words) against the four
// tables T_i at t[i·st:], whose words follow the leaves' (polyDotAVX's contract), for the tables of
// polyPad (zero for a slot c and a sum i with c + i > 3, which polyDotGo skips).
func polyDot(lb []block, n, halves int, fin []block, tc []uint64, t []uint64, st int, s *[4]uint64) {
	if useDotAVX {
		polyDotAVX(&lb[0], n, halves, &fin[0], &tc[0], &t[0], st, s)
		return
	}
	polyDotGo(lb, n, halves, fin, tc, t, st, s)
}

// polyDotGo is polyDotAVX in Go for the cubic tables polyH makes: word c of a position (payload
// slot c, the share of ρ^c) enters S_i only for c + i ≤ 3, the other tables being zero, so it takes
// 10 products per position where the AVX-512 kernel takes 16.
func polyDotGo(lb []block, n, halves int, fin []block, tc []uint64, t []uint64, st int, s *[4]uint64) {
	nw := 16 * halves // words per leaf
	vals, f := blockVals(lb[:n*8*halves]), blockVals(fin[:8*halves])
	var s0, s1, s2, s3 uint64
	for u := range n {
		m := mask64(tc[u])
		q := u * nw
		v, f := vals[q:q+nw], f[:nw]
		t0, t1, t2, t3 := t[q:q+nw], t[st+q:st+q+nw], t[2*st+q:2*st+q+nw], t[3*st+q:3*st+q+nw]
		for j := 0; j+3 < len(v); j += 4 {
			y0, y1 := v[j]+(f[j]&m), v[j+1]+(f[j+1]&m)
			y2, y3 := v[j+2]+(f[j+2]&m), v[j+3]+(f[j+3]&m)
			s0 += y0*t0[j] + y1*t0[j+1] + y2*t0[j+2] + y3*t0[j+3]
			s1 += y0*t1[j] + y1*t1[j+1] + y2*t1[j+2]
			s2 += y0*t2[j] + y1*t2[j+1]
			s3 += y0 * t3[j]
		}
	}
	*s = [4]uint64{s0, s1, s2, s3}
}
