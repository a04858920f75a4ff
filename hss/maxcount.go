package hss

import (
	"fmt"
	"io"
	"math/bits"
	"sort"
	"sync"

	"github.com/hssee/hssee/hss/fss"
)

// The softmax's row maximum in two rounds, by counting: a histogram of the rows' bucketed scores from
// one DPF per score, then one zero test per bucket threshold and row.
//
// Round 1 ("cmax.hist"). Every score x (raw, Frac bits) is opened masked at k+m bits, x̂ = x + r mod
// 2^(k+m); its public index I = x̂ >> k satisfies I − α = z := ⌊x/2^k⌋ + c (mod 2^m), c ∈ {0, 1}
// the carry of the dropped bits, with α = r >> k the point of the score's DPF key (the index of
// the lookup gate, nonlinear.go). The DPF's shares of [α = q] on the window q = I − thi … I − tlo
// are shares of the one-hot vector [z = u] for the buckets u = thi … tlo: the score's histogram
// column, computed locally (Grotto, Storrier et al., CCS 2023: counting and prefix sums over a
// full-domain DPF evaluation; Boyle, Gilboa and Ishai, CCS 2016, for the DPF). Summed over a row
// they give its histogram, and prefix sums from the top bucket down give the counts C(t) = #{entries
// with z ≥ t} of every threshold t, all local.
//
// Round 2 ("cmax.zero"). C(t) ∈ [0, l] for a row of l entries, so it is opened masked at w =
// bit length of the longest row, Ĉ = C + ρ mod 2^w, and a DPF on w bits with point ρ gives shares of
// [C(t) = 0] at Ĉ (a zero test). The row's top bucket is z_max = tlo + Σ_t [C(t) ≥ 1] (the thresholds
// above tlo that some entry reaches), so its shares are local too.
//
// Result m' = (z_max + 1)·2^k: for the row's true maximum x*, z_max > x*/2^k − 1 (its own entry's
// bucket) and z_max ≤ x*/2^k + 1 (every entry's), so x* < m' ≤ x* + 2^(k+1). With k = Frac − 1,
// m' exceeds the maximum by at most 1: softmax is shift-invariant, and the shift only moves the
// inputs of Exp down by less than 1 (the row sum stays above e^-1).
//
// Why: the tournament tree (maxRows) needs ⌈log2 l⌉ rounds per row; counting needs 2 for any l, and
// its material grows with the entries (one DPF on m bits each) plus a fixed number of thresholds per
// row (tlo … thi), not with the tree. The price is compute: every score expands a window of
// thi − tlo + 1 DPF outputs.

// cmaxSpec are the counting max's parameters: bucket shift k (raw bits dropped), index width m,
// bucket range [tlo, thi] that every visible score's index z falls in, and the zero test's leaf.
type cmaxSpec struct {
	k, m     uint
	tlo, thi int64
	leaf     uint // early-terminated levels of the histogram DPF
}

// cmaxLeaf: the window covers half the histogram DPF's domain, so its cost is the leaf conversions
// more than the tree; 4 early-terminated levels (16 outputs from 8 blocks per leaf seed) cost 128
// key bytes per score and party and were ~20% faster than 3 (BenchmarkSoftmaxMax; 6 levels gained
// nothing more).
const cmaxLeaf = 4

// softmaxCmax is the counting max of the softmax at fx: buckets of 2^-1 for visible scores |x| <
// 2^6 − 2^-2 (smRange), so ⌊x/2^-1⌋ ∈ [−128, 127] and z ∈ [−128, 128] on 9 bits.
func softmaxCmax(fx Fixed) cmaxSpec {
	b := int64(1) << (smRange + 1) // 128
	return cmaxSpec{k: fx.Frac - 1, m: smRange + 3, tlo: -b, thi: b, leaf: cmaxLeaf}
}

// window is the number of buckets of the histogram; thresholds the number of zero tests per row.
func (s cmaxSpec) window() int     { return int(s.thi - s.tlo + 1) }
func (s cmaxSpec) thresholds() int { return int(s.thi - s.tlo) }

// zeroBits is the width of the counts of rows of at most maxLen entries.
func zeroBits(maxLen int) uint { return uint(bits.Len(uint(maxLen))) }

// tag identifies the parameters in the keys (kind 0x63 'c'; stage 1 or 2).
func (s cmaxSpec) tag(stage uint64) uint64 {
	return 1<<62 | 0x63<<40 | stage<<32 | uint64(s.k)<<24 | uint64(s.m)<<16 | uint64(s.thi-s.tlo)
}

func maxLens(lens []int) int {
	m := 0
	for _, l := range lens {
		m = max(m, l)
	}
	return m
}

// genMaskedDPF generates a lookup key (lutKey) of n elements with one DPF batch of payload 1 on m
// bits at the points α_i = (r_i >> k) mod 2^m of the masks r_i (uniform mod 2^(k+m)): the shared
// part of both stages of the counting max.
func genMaskedDPF(rng io.Reader, kind string, n int, tag uint64, k, m, leaf uint) (k0, k1 *lutKey, err error) {
	ob := k + m
	k0, k1, r, err := newLUTPair(rng, kind, n, tag, ob)
	if err != nil {
		return nil, nil, err
	}
	b0 := streamScratch(k0.seed, n)
	defer putWords(b0)
	pts, ones := make([]uint64, n), make([]uint64, n)
	for i := range r {
		r[i] &= Mask(ob)
		k1.r[i] = (r[i] - b0[i]) & Mask(ob)
		pts[i], ones[i] = (r[i]>>k)&Mask(m), 1
	}
	d0, d1, err := fss.GenDPFTop(rng, m, leaf, 0, 1, pts, ones)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	k0.dpf, k1.dpf = []*fss.DPFKeys{d0}, []*fss.DPFKeys{d1}
	return k0, k1, nil
}

// checkMaskedDPF checks a key of genMaskedDPF's shape against the gate.
func (p *Party) checkMaskedDPF(k *lutKey, n int, tag uint64, kk, m, leaf uint) error {
	if k.party != p.ID || k.tag != tag || k.n != n || k.rbits != kk+m || k.sign() || len(k.dpf) != 1 || !k.shapeOK() {
		return fmt.Errorf("hss: %s: material does not match the gate", k.kind)
	}
	d := k.dpf[0]
	if d.N != n || d.Bits != m || d.Party != p.ID || d.P != 1 || d.Leaf != leaf || d.Top != 0 {
		return fmt.Errorf("hss: %s: material does not match the gate", k.kind)
	}
	return nil
}

// genCountMax generates material for countMax on rows of lens ≥ 1 entries.
func genCountMax(rng io.Reader, lens []int, s cmaxSpec) (k0, k1 *seqKey, err error) {
	n, err := checkMaxLens("gen max", lens)
	if err != nil {
		return nil, nil, err
	}
	nz, ok := mulLen(len(lens), s.thresholds())
	if !ok || nz > MaxKeyLen {
		return nil, nil, fmt.Errorf("hss: gen max: %d rows out of range", len(lens))
	}
	h0, h1, err := genMaskedDPF(rng, "cmax.hist", n, s.tag(1), s.k, s.m, s.leaf)
	if err != nil {
		return nil, nil, err
	}
	z0, z1, err := genMaskedDPF(rng, "cmax.zero", nz, s.tag(2), 0, zeroBits(maxLens(lens)), 0)
	if err != nil {
		return nil, nil, err
	}
	return newSeqKey("cmax", len(lens), h0, z0), newSeqKey("cmax", len(lens), h1, z1), nil
}

// countMax returns shares of m'_r = (z_max,r + 1)·2^k for every row r of x (row r's lens[r] entries
// after those of the rows before it; signed scores whose index z stays in [tlo, thi]): x*_r < m'_r ≤
// x*_r + 2^(k+1) for the row's maximum x*_r (see the top of this file). Rounds 2.
func (p *Party) countMax(x []uint64, lens []int, s cmaxSpec) ([]uint64, error) {
	if _, err := checkMaxRows(x, lens); err != nil {
		return nil, err
	}
	q, err := p.sub("cmax", len(lens))
	if err != nil {
		return nil, err
	}
	counts, err := q.cmaxCounts(x, lens, s)
	if err != nil {
		return nil, wrapGate("max", err)
	}
	out, err := q.cmaxTop(counts, lens, s)
	putWords(counts)
	if err != nil {
		return nil, wrapGate("max", err)
	}
	if err := finish("max", q); err != nil {
		return nil, err
	}
	return out, nil
}

// cmaxCounts is round 1: shares of the counts C_r(thi − j), j < thresholds(), of every row r, row
// after row, in a pooled buffer.
func (p *Party) cmaxCounts(x []uint64, lens []int, s cmaxSpec) ([]uint64, error) {
	n := len(x)
	k, err := takeKey[*lutKey](p, "cmax.hist", n)
	if err != nil {
		return nil, err
	}
	if err := p.checkMaskedDPF(k, n, s.tag(1), s.k, s.m, s.leaf); err != nil {
		return nil, err
	}
	r, _, _, release := k.masks()
	xh := getWords(n)
	defer putWords(xh)
	for i := range x {
		xh[i] = x[i] + r[i]
	}
	release()
	if err := p.openInto(xh, xh, s.k+s.m); err != nil {
		return nil, err
	}
	return p.cmaxHist(k.dpf[0], xh, lens, s)
}

// cmaxHist is round 1's local part: from the public values xh whose bits [k, k+m) are every entry's
// masked index (I = z + α), the shares of the counts C_r(thi − j), j < thresholds(), of every row r,
// row after row, in a pooled buffer.
func (p *Party) cmaxHist(d *fss.DPFKeys, xh []uint64, lens []int, s cmaxSpec) ([]uint64, error) {
	n := len(xh)
	win, nt := s.window(), s.thresholds()
	offs := make([]int, len(lens)+1)
	for i, l := range lens {
		offs[i+1] = offs[i] + l
	}
	// Every chunk of entries sums its windows row by row (EvalWindowSumBatch: v[j] = [α_i = I_i − thi
	// + j] = [z_i = thi − j]) and adds each row's part into hist under the lock.
	hist := make([]uint64, len(lens)*win)
	var (
		mu   sync.Mutex
		ferr error
	)
	fss.ParallelFor(n, func(wk *fss.Worker, lo, hi int) {
		los := getWords(hi - lo)
		defer putWords(los)
		for i := lo; i < hi; i++ {
			los[i-lo] = ((xh[i] >> s.k) - uint64(s.thi)) & Mask(s.m)
		}
		part := make([]uint64, win)
		row := sort.SearchInts(offs, lo+1) - 1 // the row of entry lo
		for i := lo; i < hi; row++ {
			e := min(hi, offs[row+1])
			clear(part)
			err := wk.EvalWindowSumBatch(d, i, los[i-lo:e-lo], win, part)
			mu.Lock()
			if err != nil { // cannot happen (the windows fit the checked key); reported if it does
				ferr = err
			}
			h := hist[row*win : (row+1)*win]
			for j, u := range part {
				h[j] += u
			}
			mu.Unlock()
			i = e
		}
	})
	if ferr != nil {
		return nil, ferr
	}
	// C(thi − j) = Σ_{j' ≤ j} hist[j'].
	counts := getWords(len(lens) * nt)
	for row := range lens {
		h, c := hist[row*win:(row+1)*win], counts[row*nt:(row+1)*nt]
		var acc uint64
		for j := range c {
			acc += h[j]
			c[j] = acc
		}
	}
	return counts, nil
}

// cmaxTop is round 2: the zero tests of the counts and the rows' m' (see countMax).
func (p *Party) cmaxTop(counts []uint64, lens []int, s cmaxSpec) ([]uint64, error) {
	nz := len(counts)
	w := zeroBits(maxLens(lens))
	k, err := takeKey[*lutKey](p, "cmax.zero", nz)
	if err != nil {
		return nil, err
	}
	if err := p.checkMaskedDPF(k, nz, s.tag(2), 0, w, 0); err != nil {
		return nil, err
	}
	r, _, _, release := k.masks()
	ch := getWords(nz)
	defer putWords(ch)
	for i, c := range counts {
		ch[i] = c + r[i]
	}
	release()
	if err := p.openInto(ch, ch, w); err != nil {
		return nil, err
	}
	nt := s.thresholds()
	d := k.dpf[0]
	e := getWords(nz)
	defer putWords(e)
	for i := range ch {
		ch[i] &= Mask(w)
	}
	var (
		mu   sync.Mutex
		ferr error
	)
	fss.ParallelFor(nz, func(wk *fss.Worker, lo, hi int) {
		if err := wk.EvalPointBatch(d, lo, ch[lo:hi], e[lo:hi]); err != nil {
			mu.Lock() // cannot happen (the key was checked); reported if it does
			ferr = err
			mu.Unlock()
		}
	})
	if ferr != nil {
		return nil, ferr
	}
	out := make([]uint64, len(lens))
	for row := range out {
		// z_max = tlo + Σ_t (1 − [C(t) = 0]): party 0 adds the public tlo + nt + 1 (the +1 of m').
		var sum uint64
		for _, v := range e[row*nt : (row+1)*nt] {
			sum -= v
		}
		if p.ID == 0 {
			sum += uint64(s.tlo + int64(nt) + 1)
		}
		out[row] = sum << s.k
	}
	return out, nil
}

// costCountMax is the cost of countMax (and genCountMax's keys) by stage: the histogram (one
// opening at k+m bits and a DPF per entry) and the zero tests (one opening at w bits and a DPF per
// row and threshold).
func costCountMax(lens []int, s cmaxSpec) []Stage {
	n, _ := sumLens("cost max", lens)
	nz := len(lens) * s.thresholds()
	w := zeroBits(maxLens(lens))
	hist := costMaskedDPF(n, s.k+s.m, s.m, s.leaf)
	zero := costMaskedDPF(nz, w, w, 0)
	return seqStages("cmax", part{kind: "cmax.hist", label: "hist", c: hist}, part{kind: "cmax.zero", label: "zero", c: zero})
}

// costMaskedDPF is the cost of one genMaskedDPF key pair of n elements and its opening at ob bits.
func costMaskedDPF(n int, ob, m, leaf uint) Cost {
	d := []*fss.DPFKeys{{Bits: m, Leaf: leaf, P: 1, N: n}}
	return open(n, ob).Add(keyCost(lutKeySize(0, n, ob, nil, d), lutKeySize(1, n, ob, nil, d)))
}

func init() {
	registerLUT("cmax.hist")
	registerLUT("cmax.zero")
	registerSeq("cmax", "cmax.hist", "cmax.zero")
}

// ---- the counting max on untruncated scores -------------------------------------------------------

// A decode step's scores arrive untruncated from the cache product (CacheMatMulRaw, 2·Frac fractional
// bits, correct mod 2^bits). Their truncation opens c = x + r and gives y = A(c) − R + g(c)·M (see
// actmul.go), so with R as the histogram DPF's mask the masked index (y + R) >> k = A(c) >> k
// (mod 2^m, k + m ≤ bits − Frac) is public once the truncation's round is done: the truncation and
// the histogram share one round (countMaxRaw), as truncAct shares a truncation with a lookup.

// DPFBatchKey is one party's batch of DPF keys with a parameter tag: a lookup whose mask comes from
// another key of the same gate (countMaxRaw's histogram, masked by its truncation's R).
type DPFBatchKey struct {
	Consumable
	Party uint8
	Tag   uint64
	D     *fss.DPFKeys
}

func (k *DPFBatchKey) Kind() string { return "dpf" }
func (k *DPFBatchKey) Len() int {
	if k.D == nil {
		return 0
	}
	return k.D.N
}

// PartyID returns the party (0 or 1) the key belongs to.
func (k *DPFBatchKey) PartyID() int { return int(k.Party) }

func (k *DPFBatchKey) Size() int { return 1 + 8 + 4 + fssHeaderLen + k.D.Size() }

func (k *DPFBatchKey) MarshalBinary() ([]byte, error) {
	if k.Party > 1 || k.D == nil || k.D.Party != int(k.Party) {
		return nil, fmt.Errorf("hss: dpf key: marshal: %w", errKey)
	}
	b, err := k.D.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("hss: dpf key: marshal: %w", err)
	}
	e := Enc{b: make([]byte, 0, k.Size())}
	e.U8(k.Party)
	e.U64(k.Tag)
	e.U32(uint32(len(b)))
	e.b = append(e.b, b...)
	return e.Bytes(), nil
}

func (k *DPFBatchKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party := d.U8()
	tag := d.U64()
	if d.Err() == nil && party > 1 {
		d.Fail(fmt.Errorf("party %d: %w", party, errKey))
	}
	var ds []*fss.DPFKeys
	if d.Err() == nil {
		raw := d.take(int(d.U32()))
		if d.Err() == nil {
			dk := new(fss.DPFKeys)
			if err := dk.UnmarshalBinary(raw); err != nil {
				d.Fail(err)
			} else if dk.Party != int(party) || dk.N > MaxKeyLen || dk.Bits > fss.MaxWindowBits {
				d.Fail(fmt.Errorf("lookup keys do not match: %w", errKey))
			} else {
				ds = append(ds, dk)
			}
		}
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: dpf key: %w", err)
	}
	k.Party, k.Tag, k.D = party, tag, ds[0]
	return nil
}

func init() {
	RegisterKey("dpf", func() MarshalKey { return new(DPFBatchKey) })
	registerSeq("cmaxr", "trunc", "dpf", "cmax.zero")
}

// genCountMaxRaw generates material for countMaxRaw: the scores' truncation (frac at width bits), the
// histogram DPF masked by its R, and the zero tests.
func genCountMaxRaw(rng io.Reader, lens []int, s cmaxSpec, frac, bits uint) (k0, k1 *seqKey, err error) {
	n, err := checkMaxLens("gen max", lens)
	if err != nil {
		return nil, nil, err
	}
	nz, ok := mulLen(len(lens), s.thresholds())
	if !ok || nz > MaxKeyLen || s.k+s.m > bits-frac {
		return nil, nil, fmt.Errorf("hss: gen max: %d rows, or index bits %d above %d, out of range", len(lens), s.k+s.m, bits-frac)
	}
	t0, t1, R, err := genTruncR(rng, n, frac, bits, true)
	if err != nil {
		return nil, nil, wrapGate("gen max", err)
	}
	pts, ones := make([]uint64, n), make([]uint64, n)
	for i, v := range R {
		pts[i], ones[i] = (v>>s.k)&Mask(s.m), 1
	}
	d0, d1, err := fss.GenDPFTop(rng, s.m, s.leaf, 0, 1, pts, ones)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen max: %w", err)
	}
	z0, z1, err := genMaskedDPF(rng, "cmax.zero", nz, s.tag(2), 0, zeroBits(maxLens(lens)), 0)
	if err != nil {
		return nil, nil, err
	}
	h0, h1 := &DPFBatchKey{Party: 0, Tag: s.tag(3), D: d0}, &DPFBatchKey{Party: 1, Tag: s.tag(3), D: d1}
	return newSeqKey("cmaxr", len(lens), t0, h0, z0), newSeqKey("cmaxr", len(lens), t1, h1, z1), nil
}

// countMaxRaw is countMax on untruncated scores x (2·Frac fractional bits, |x| < 2^(bits−2)): it
// returns the rows' m' (as countMax) and the truncated scores, in 2 rounds (the truncation with the
// histogram, then the zero tests).
func (p *Party) countMaxRaw(x []uint64, lens []int, s cmaxSpec, frac, bits uint) (m, y []uint64, err error) {
	n, err := checkMaxRows(x, lens)
	if err != nil {
		return nil, nil, err
	}
	q, err := p.sub("cmaxr", len(lens))
	if err != nil {
		return nil, nil, err
	}
	tk, err := takeKey[*TruncKey](q, "trunc", n)
	if err != nil {
		return nil, nil, wrapGate("max", err)
	}
	dk, err := takeKey[*DPFBatchKey](q, "dpf", n)
	if err != nil {
		return nil, nil, wrapGate("max", err)
	}
	if d := dk.D; int(dk.Party) != p.ID || dk.Tag != s.tag(3) || d.N != n || d.Bits != s.m || d.P != 1 || d.Leaf != s.leaf || d.Top != 0 {
		return nil, nil, fmt.Errorf("hss: max: material does not match the gate")
	}
	pub := getWords(n)
	defer putWords(pub)
	if y, err = q.truncPub(tk, x, frac, bits, pub); err != nil {
		return nil, nil, wrapGate("max", err)
	}
	counts, err := q.cmaxHist(dk.D, pub, lens, s)
	if err != nil {
		return nil, nil, wrapGate("max", err)
	}
	m, err = q.cmaxTop(counts, lens, s)
	putWords(counts)
	if err != nil {
		return nil, nil, wrapGate("max", err)
	}
	if err := finish("max", q); err != nil {
		return nil, nil, err
	}
	return m, y, nil
}

// costCountMaxRaw is the cost of countMaxRaw (and genCountMaxRaw's keys) by stage: the truncation
// with the histogram, then the zero tests.
func costCountMaxRaw(lens []int, s cmaxSpec, frac, bits uint) []Stage {
	n, _ := sumLens("cost max", lens)
	nz := len(lens) * s.thresholds()
	w := zeroBits(maxLens(lens))
	d := &fss.DPFKeys{Bits: s.m, Leaf: s.leaf, P: 1, N: n}
	hk := &DPFBatchKey{D: d}
	return seqStages("cmaxr", part{kind: "trunc", label: "trunc", c: costTrunc(n, frac, bits)}, part{kind: "dpf", label: "hist", c: keyCost(hk.Size(), hk.Size())},
		part{kind: "cmax.zero", label: "zero", c: costMaskedDPF(nz, w, w, 0)})
}
