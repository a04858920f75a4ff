package fss

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unsafe"
)

// MaxPayload is the largest payload vector length P a key batch may carry.
const MaxPayload = 8

// DCFKeys is one party's batch of N distributed comparison function keys on Bits-bit inputs with
// payloads in (Z_2^64)^P. Key i shares f_i(x) = β_i·1{x < α_i} (x and α_i read as unsigned Bits-bit
// integers). The correction words are identical in both parties' batches; only the root seeds differ.
//
// Size per key: 16 + Bits·(16 + 8P) + ⌈2·Bits/8⌉ + 8P bytes (see Size).
type DCFKeys struct {
	Party int  // 0 or 1
	Bits  uint // input width n, 1..64
	P     int  // payload length, 1..MaxPayload
	N     int  // number of keys
	// Width, when in [1, 63], is the width the batch's outputs are correct at (SetWidth): its value
	// correction words are reduced mod 2^Width and stored packed. 0: 64.
	Width uint

	seeds []block  // N root seeds
	scw   []block  // N*Bits seed correction words
	tcw   []uint8  // N*Bits control-bit corrections: bit 0 left, bit 1 right
	vcw   []uint64 // N*Bits*P value correction words
	fin   []uint64 // N*P final correction words
}

func checkShape(bits uint, p int) error {
	if bits < 1 || bits > 64 {
		return fmt.Errorf("input width %d out of range [1,64]", bits)
	}
	if p < 1 || p > MaxPayload {
		return fmt.Errorf("payload length %d out of range [1,%d]", p, MaxPayload)
	}
	return nil
}

func newDCFKeys(party int, bits uint, p, n int) *DCFKeys {
	return &DCFKeys{Party: party, Bits: bits, P: p, N: n,
		seeds: make([]block, n), scw: make([]block, n*int(bits)), tcw: make([]uint8, n*int(bits)),
		vcw: make([]uint64, n*int(bits)*p), fin: make([]uint64, n*p)}
}

// Size returns the serialised size in bytes of the batch (header excluded), i.e. the dealer's cost
// for this party.
func (k *DCFKeys) Size() int {
	if k == nil {
		return 0
	}
	nb := k.N * int(k.Bits)
	s := 16*k.N + 16*nb + (2*nb+7)/8 + finBytes(nb*k.P, k.Width) + finBytes(k.N*k.P, k.Width)
	if k.narrow() {
		s++ // the width byte
	}
	return s
}

// narrow reports whether the batch's value correction words are stored at Width bits.
func (k *DCFKeys) narrow() bool { return k.Width > 0 && k.Width < 64 }

// SetWidth makes the batch's outputs correct mod 2^w only (w in [1, 63]; 0 or 64: all 64 bits), as
// DPFKeys.SetWidth: its value correction words are reduced mod 2^w and stored packed. A narrowed batch
// cannot widen again. Both parties' batches must get the same width.
func (k *DCFKeys) SetWidth(w uint) error {
	nw, err := narrowTo(k.Width, w, k.vcw, k.fin)
	if err != nil {
		return fmt.Errorf("fss: dcf: %w", err)
	}
	k.Width = nw
	return nil
}

// KeySize is the per-key size in bytes of a DCF with the given input width and payload length.
func KeySize(bits uint, p int) int {
	return 16 + 16*int(bits) + (2*int(bits)+7)/8 + 8*int(bits)*p + 8*p
}

// Gen returns the two keys of a single DCF for f(x) = beta·1{x < alpha} on n-bit inputs.
func Gen(rng io.Reader, n uint, alpha, beta uint64) (k0, k1 *DCFKeys, err error) {
	return GenDCF(rng, n, 1, []uint64{alpha}, []uint64{beta})
}

// GenDCF returns both parties' batches of DCF keys, key i for α_i = alphas[i] and β_i =
// betas[i*p:(i+1)*p]. Inputs α_i must be below 2^bits. It follows Boyle et al. (Eurocrypt 2021),
// Fig. 3 (Gen^<) with the PRG of this package. The keys are generated genChunk at a time in
// lockstep, each tree level hashing the children and value blocks of both parties' seeds of all
// of them in one batch (mmoBlocks); rng is read exactly as by a one-key-at-a-time generation (two
// 16-byte root seeds per key, key after key), so the keys equal those of the reference
// construction for the same randomness.
func GenDCF(rng io.Reader, bits uint, p int, alphas, betas []uint64) (k0, k1 *DCFKeys, err error) {
	if err := checkShape(bits, p); err != nil {
		return nil, nil, fmt.Errorf("fss: dcf gen: %w", err)
	}
	if len(betas) != len(alphas)*p {
		return nil, nil, fmt.Errorf("fss: dcf gen: %d payload values for %d keys of payload %d", len(betas), len(alphas), p)
	}
	for _, alpha := range alphas {
		if bits < 64 && alpha>>bits != 0 {
			return nil, nil, errors.New("fss: dcf gen: threshold does not fit the input width")
		}
	}
	n := len(alphas)
	k0, k1 = newDCFKeys(0, bits, p, n), newDCFKeys(1, bits, p, n)
	if n == 0 {
		return k0, k1, nil
	}
	nv := (p + 1) / 2 // value blocks per child
	pc := 1 + nv      // blocks per child: its seed, then its value blocks
	per := 2 * pc     // blocks per seed and level
	seeds, err := readSeeds(rng, n)
	if err != nil {
		return nil, nil, fmt.Errorf("fss: dcf gen: %w", err)
	}
	// The keys are independent once their seeds are drawn: generate ranges of them in parallel.
	ParallelFor(n, func(_ *Worker, lo, hi int) {
		ck := min(hi-lo, genChunk)
		s, t := make([]block, 2*ck), make([]uint64, 2*ck) // seed and bit of party b of key g at 2g+b
		va := make([]uint64, ck*p)
		blk := make([]block, 2*ck*per)
		for a := lo; a < hi; a += ck {
			m := min(ck, hi-a)
			copy(s[:2*m], seeds[2*a:2*(a+m)])
			copySeeds(k0.seeds[a:a+m], k1.seeds[a:a+m], s[:2*m], t[:2*m])
			clear(va[:m*p])
			for l := uint(0); l < bits; l++ {
				for q, sq := range s[:2*m] {
					b := blk[q*per : (q+1)*per]
					for c := uint64(0); c < 2; c++ {
						o := b[int(c)*pc : int(c+1)*pc]
						o[0] = block{sq.lo ^ (tweakL + c), sq.hi}
						for j := 1; j < len(o); j++ {
							o[j] = block{sq.lo ^ (tweakV + 2*uint64(j-1) + c), sq.hi}
						}
					}
				}
				mmoBlocks(blk[:2*m*per], blk[:2*m*per])
				for g := range m {
					i := a + g
					ab := bit(alphas[i], bits, l)
					keep, lose := ab, 1-ab
					b0, b1 := blk[2*g*per:(2*g+1)*per], blk[(2*g+1)*per:(2*g+2)*per]
					c0k, c0l, c1k, c1l := b0[int(keep)*pc], b0[int(lose)*pc], b1[int(keep)*pc], b1[int(lose)*pc]
					neg := mask64(t[2*g+1]) // (−1)^{t1}: x ↦ (x ^ neg) − neg
					w := i*int(bits) + int(l)
					vcw := k0.vcw[w*p : (w+1)*p]
					beta := betas[i*p : (i+1)*p]
					vg := va[g*p : (g+1)*p]
					kv, lv := int(keep)*pc+1, int(lose)*pc+1 // the children's value blocks
					v0k, v0l := blockVals(b0[kv : kv+nv])[:p], blockVals(b0[lv : lv+nv])[:p]
					v1k, v1l := blockVals(b1[kv : kv+nv])[:p], blockVals(b1[lv : lv+nv])[:p]
					vcw, beta = vcw[:p], beta[:p]
					addBeta := -lose // β enters when the losing child is the left one
					for j := range vg {
						x := v1l[j] - v0l[j] - vg[j] + (beta[j] &^ addBeta)
						x = (x ^ neg) - neg
						vcw[j] = x
						vg[j] = vg[j] - v1k[j] + v0k[j] + ((x ^ neg) - neg)
					}
					copy(k1.vcw[w*p:(w+1)*p], vcw)
					sCW, tcw := descend(s, t, g, ab, c0k, c0l, c1k, c1l)
					k0.scw[w], k1.scw[w], k0.tcw[w], k1.tcw[w] = sCW, sCW, tcw, tcw
				}
			}
			lb := leafHashes(blk, s[:2*m], nv)
			for g := range m {
				i := a + g
				v0, v1, neg := leafShares(lb, t, g, nv)
				fin := k0.fin[i*p : (i+1)*p]
				vg := va[g*p : (g+1)*p]
				for j := range fin {
					x := v1[j] - v0[j] - vg[j]
					fin[j] = (x ^ neg) - neg
				}
				copy(k1.fin[i*p:(i+1)*p], fin)
			}
		}
	})
	return k0, k1, nil
}

// genChunk is the number of keys the batched generators walk in lockstep.
const genChunk = 128

// readSeeds reads n keys' root seed pairs from rng (party 0's, then party 1's, 16 bytes each, key
// after key: the order of a one-key-at-a-time generation), clearing their low bits; key i's pair is
// at 2i, 2i+1.
func readSeeds(rng io.Reader, n int) ([]block, error) { return readSeedBlocks(rng, 2*n) }

// readSeedBlocks reads count 16-byte seeds from rng, clearing their low bits.
func readSeedBlocks(rng io.Reader, count int) ([]block, error) {
	const chunk = 4096 // bytes per read
	s := make([]block, count)
	raw := make([]byte, min(16*count, chunk))
	for q := 0; q < len(s); {
		b := raw[:min(len(raw), 16*(len(s)-q))]
		if _, err := io.ReadFull(rng, b); err != nil {
			return nil, fmt.Errorf("randomness: %w", err)
		}
		for o := 0; o < len(b); o, q = o+16, q+1 {
			s[q] = block{binary.LittleEndian.Uint64(b[o:]) &^ 1, binary.LittleEndian.Uint64(b[o+8:])}
		}
	}
	return s, nil
}

// copySeeds stores the root seed pairs s as the keys' seeds and resets the control bits t.
func copySeeds(d0, d1, s []block, t []uint64) {
	for g := range d0 {
		d0[g], d1[g] = s[2*g], s[2*g+1]
		t[2*g], t[2*g+1] = 0, 1
	}
}

// leafHashes writes the nb leaf-conversion inputs of every seed of s into buf (seed q's at
// [q·nb, (q+1)·nb)), hashes them in place and returns them.
func leafHashes(buf, s []block, nb int) []block {
	lb := buf[:len(s)*nb]
	for q, sq := range s {
		o := lb[q*nb : (q+1)*nb]
		for j := range o {
			o[j] = block{sq.lo ^ (tweakLeaf + 2*uint64(j)), sq.hi}
		}
	}
	mmoBlocks(lb, lb)
	return lb
}

// descend ends a level of key pair g's generation (DCF and DPF Gen). From the point's bit ab (the
// side kept) and the hashed children of both parties' on-path nodes (c0k, c1k the kept ones, c0l, c1l
// the lost ones; a child's control bit is its low bit) it returns the level's seed correction sCW and
// control corrections tcw = tL | tR<<1: the lost child's makes both parties' control bits equal
// there, the kept child's makes them differ. It moves the nodes (party b's at 2g+b of s and t) to the
// kept children: a party whose control bit is set applies sCW and the kept side's correction.
func descend(s []block, t []uint64, g int, ab uint64, c0k, c0l, c1k, c1l block) (sCW block, tcw uint8) {
	t0k, t1k := c0k.lo&1, c1k.lo&1
	c0k.lo &^= 1
	c1k.lo &^= 1
	sCW = c0l.xor(c1l)
	tLose := sCW.lo & 1
	sCW.lo &^= 1
	tKeep := t0k ^ t1k ^ 1
	tcw = uint8(tKeep<<ab | tLose<<(1-ab))
	m0, m1 := mask64(t[2*g]), mask64(t[2*g+1])
	s[2*g] = block{c0k.lo ^ (sCW.lo & m0), c0k.hi ^ (sCW.hi & m0)}
	s[2*g+1] = block{c1k.lo ^ (sCW.lo & m1), c1k.hi ^ (sCW.hi & m1)}
	t[2*g] = t0k ^ (t[2*g] & tKeep)
	t[2*g+1] = t1k ^ (t[2*g+1] & tKeep)
	return sCW, tcw
}

// leafShares returns the leaf values of key pair g's final nodes (party b's at 2g+b of t; lb as
// leafHashes returns it for nb blocks a seed) and the sign mask (−1)^{t1} of its final correction,
// as x ↦ (x ^ neg) − neg.
func leafShares(lb []block, t []uint64, g, nb int) (v0, v1 []uint64, neg uint64) {
	return blockVals(lb[2*g*nb : (2*g+1)*nb]), blockVals(lb[(2*g+1)*nb : (2*g+2)*nb]), mask64(t[2*g+1])
}

// blockVals views blocks as their 64-bit values (block j holds values 2j, 2j+1).
func blockVals(b []block) []uint64 { return unsafe.Slice(&b[0].lo, 2*len(b)) }

// evalOne writes party k.Party's share of f_i(x) into out (len P); v is scratch of len P.
func (k *DCFKeys) evalOne(h *hasher, i int, x uint64, out, v []uint64) {
	p := k.P
	bits := k.Bits
	s := k.seeds[i]
	t := uint64(k.Party)
	for j := range out {
		out[j] = 0
	}
	base := i * int(bits)
	for l := uint(0); l < bits; l++ {
		c := bit(x, bits, l)
		w := base + int(l)
		sc, tc := h.child(s, c)
		h.values(v, s, c)
		m := mask64(t)
		vcw := k.vcw[w*p : (w+1)*p]
		for j := 0; j < p; j++ {
			out[j] += v[j] + (vcw[j] & m)
		}
		cw := k.scw[w]
		s = block{sc.lo ^ (cw.lo & m), sc.hi ^ (cw.hi & m)}
		t = tc ^ (t & (uint64(k.tcw[w]>>c) & 1))
	}
	h.leaf(v, s)
	m := mask64(t)
	fin := k.fin[i*p : (i+1)*p]
	neg := mask64(uint64(k.Party))
	for j := 0; j < p; j++ {
		y := out[j] + v[j] + (fin[j] & m)
		out[j] = (y ^ neg) - neg
	}
}

// EvalBatch evaluates key i at xs[i] for every i, writing this party's share of β_i·1{xs[i] < α_i}
// into out[i*P:(i+1)*P]. party must match the batch. Work is spread over GOMAXPROCS goroutines; the
// inner loops do not allocate.
func EvalBatch(party int, k *DCFKeys, xs, out []uint64) error {
	if k == nil {
		return errors.New("fss: dcf eval: nil keys")
	}
	if party != k.Party {
		return fmt.Errorf("fss: dcf eval: keys belong to party %d, not %d", k.Party, party)
	}
	if len(xs) != k.N || len(out) != k.N*k.P {
		return fmt.Errorf("fss: dcf eval: %d inputs and %d outputs for %d keys of payload %d", len(xs), len(out), k.N, k.P)
	}
	ParallelFor(k.N, func(w *Worker, lo, hi int) {
		if k.P == 2 && useVAES && useDotAVX {
			lo = w.evalBatch8(k, lo, hi, xs, out)
			if lo == hi {
				return
			}
		}
		keys := make([]int, min(hi-lo, 1024))
		for a := lo; a < hi; a += len(keys) {
			b := min(a+len(keys), hi)
			for j := range b - a {
				keys[j] = a + j
			}
			w.EvalMulti(k, keys[:b-a], xs[a:b], out[a*k.P:b*k.P])
		}
	})
	return nil
}

// evalBatch8 evaluates keys [lo, lo+8·g) at their points with dcfEval8 (eight paths in lockstep in
// ZMM registers), g = ⌊(hi−lo)/8⌋, and returns where it stopped. The control-bit corrections of each
// group of eight are interleaved first (byte g of word l: key g's level l), a chunk at a time.
func (w *Worker) evalBatch8(k *DCFKeys, lo, hi int, xs, out []uint64) int {
	bits := int(k.Bits)
	const chunk = 64 // groups per call
	for lo+8 <= hi {
		g := min((hi-lo)/8, chunk)
		t8 := w.scratch(g * bits)
		for q := range g {
			for l := range bits {
				var v uint64
				for j := range 8 {
					v |= uint64(k.tcw[(lo+8*q+j)*bits+l]) << (8 * j)
				}
				t8[q*bits+l] = v
			}
		}
		fin := (*block)(unsafe.Pointer(&k.fin[2*lo]))
		dcfEval8(&fixedRoundKeys, &k.seeds[lo], &k.scw[lo*bits], (*block)(unsafe.Pointer(&k.vcw[2*lo*bits])), 16*bits, g, bits,
			&t8[0], &xs[lo], fin, uint64(k.Party), &out[2*lo])
		lo += 8 * g
	}
	return lo
}

// EvalPoints evaluates key i of the batch at every point xs[j], writing this party's share of
// β_i·1{xs[j] < α_i} into out[j*P:(j+1)*P] (the interval-containment pattern: one key, several public
// points). For payload 2 on CPUs with AVX-512 VAES the points go eight at a time through dcfEval8
// with the key replicated across the lanes (stride 0); otherwise through EvalMulti. It gives the same
// shares as Eval.
func (w *Worker) EvalPoints(k *DCFKeys, i int, xs []uint64, out []uint64) {
	n := len(xs)
	if !(k.P == 2 && useVAES && useDotAVX) || n == 0 {
		keys := w.keyIdx(n)
		for j := range keys {
			keys[j] = i
		}
		w.EvalMulti(k, keys, xs, out)
		return
	}
	bits := int(k.Bits)
	g := (n + 7) / 8
	if cap(w.pts) < 8*g+g*bits+32 {
		w.pts = make([]uint64, 8*g+g*bits+32)
	}
	buf := w.pts[:8*g+g*bits+32]
	pts, t8, rep := buf[:8*g], buf[8*g:8*g+g*bits], buf[8*g+g*bits:]
	copy(pts, xs)
	clear(pts[n:])
	for l := range bits {
		v := uint64(k.tcw[i*bits+l]) * 0x0101010101010101
		for q := range g {
			t8[q*bits+l] = v
		}
	}
	// Eight copies of the seed and of the final correction word (block layout, lo then hi).
	s, f := k.seeds[i], k.fin[2*i:2*i+2]
	for j := range 8 {
		rep[2*j], rep[2*j+1] = s.lo, s.hi
		rep[16+2*j], rep[16+2*j+1] = f[0], f[1]
	}
	res := w.scratch(16 * g)
	seeds := (*block)(unsafe.Pointer(&rep[0]))
	fin := (*block)(unsafe.Pointer(&rep[16]))
	scw := &k.scw[i*bits]
	vcw := (*block)(unsafe.Pointer(&k.vcw[2*i*bits]))
	for q := range g {
		// One group per call: the seeds and final words are re-read from rep for every group.
		dcfEval8(&fixedRoundKeys, seeds, scw, vcw, 0, 1, bits, &t8[q*bits], &pts[8*q], fin, uint64(k.Party), &res[16*q])
	}
	copy(out[:2*n], res)
}

func (w *Worker) keyIdx(n int) []int {
	if cap(w.keys) < n {
		w.keys = make([]int, n)
	}
	return w.keys[:n]
}

// Eval evaluates key i of the batch at x into out (len P) using the worker's scratch space.
func (w *Worker) Eval(k *DCFKeys, i int, x uint64, out []uint64) {
	k.evalOne(w.h, i, x&maskBits(k.Bits), out, w.scratch(k.P))
}

func maskBits(bits uint) uint64 {
	if bits >= 64 {
		return ^uint64(0)
	}
	return 1<<bits - 1
}

// dcfGroup is the number of DCF paths EvalMulti walks in lockstep (one batch of hashed blocks per
// level for all of them).
const dcfGroup = 32

// EvalMulti evaluates key keys[j] of the batch at xs[j] for every j, writing this party's share of
// β·1{x < α} into out[j*P:(j+1)*P]. The paths are walked in lockstep, dcfGroup at a time, so each
// tree level costs one call of the batched hash (mmoBlocks) for the whole group instead of
// 1 + ⌈P/2⌉ single-block AES calls per path. Keys may repeat (one key at several points, as in
// interval containment). It gives the same shares as Eval.
func (w *Worker) EvalMulti(k *DCFKeys, keys []int, xs []uint64, out []uint64) {
	if k.P == 2 {
		w.evalMulti2(k, keys, xs, out)
		return
	}
	p := k.P
	bits := k.Bits
	nv := (p + 1) / 2 // value blocks per level and per path
	per := 1 + nv
	var s [dcfGroup]block
	var t [dcfGroup]uint64
	var xg [dcfGroup]uint64
	if cap(w.lb) < dcfGroup*per {
		w.lb = make([]block, dcfGroup*per)
	}
	blk := w.lb[:dcfGroup*per]
	neg := mask64(uint64(k.Party))
	for g0 := 0; g0 < len(keys); g0 += dcfGroup {
		g1 := min(g0+dcfGroup, len(keys))
		ng := g1 - g0
		for g := range ng {
			s[g], t[g] = k.seeds[keys[g0+g]], uint64(k.Party)
			xg[g] = xs[g0+g] & maskBits(bits)
			o := out[(g0+g)*p : (g0+g+1)*p]
			for j := range o {
				o[j] = 0
			}
		}
		for l := uint(0); l < bits; l++ {
			for g := range ng {
				c := bit(xg[g], bits, l)
				b := blk[g*per : (g+1)*per]
				b[0] = block{s[g].lo ^ (tweakL + c), s[g].hi}
				for j := range nv {
					b[1+j] = block{s[g].lo ^ (tweakV + 2*uint64(j) + c), s[g].hi}
				}
			}
			mmoBlocks(blk[:ng*per], blk[:ng*per])
			for g := range ng {
				c := bit(xg[g], bits, l)
				wi := keys[g0+g]*int(bits) + int(l)
				b := blk[g*per : (g+1)*per]
				m := mask64(t[g])
				vcw := k.vcw[wi*p : (wi+1)*p]
				o := out[(g0+g)*p : (g0+g+1)*p]
				for j := range o {
					vb := b[1+j/2]
					v := vb.lo
					if j&1 == 1 {
						v = vb.hi
					}
					o[j] += v + (vcw[j] & m)
				}
				sc := b[0]
				tc := sc.lo & 1
				sc.lo &^= 1
				cw := k.scw[wi]
				s[g] = block{sc.lo ^ (cw.lo & m), sc.hi ^ (cw.hi & m)}
				t[g] = tc ^ (t[g] & (uint64(k.tcw[wi]>>c) & 1))
			}
		}
		for g := range ng {
			b := blk[g*nv : (g+1)*nv]
			for j := range nv {
				b[j] = block{s[g].lo ^ (tweakLeaf + 2*uint64(j)), s[g].hi}
			}
		}
		mmoBlocks(blk[:ng*nv], blk[:ng*nv])
		for g := range ng {
			i := keys[g0+g]
			m := mask64(t[g])
			fin := k.fin[i*p : (i+1)*p]
			o := out[(g0+g)*p : (g0+g+1)*p]
			for j := range o {
				vb := blk[g*nv+j/2]
				v := vb.lo
				if j&1 == 1 {
					v = vb.hi
				}
				y := o[j] + v + (fin[j] & m)
				o[j] = (y ^ neg) - neg
			}
		}
	}
}

// evalMulti2 is EvalMulti for payload 2 (one value block per level and path: the gates' DCFs),
// with the two output slots accumulated in registers-friendly arrays.
func (w *Worker) evalMulti2(k *DCFKeys, keys []int, xs []uint64, out []uint64) {
	if len(keys) == 0 {
		return
	}
	bits := k.Bits
	var s [dcfGroup]block
	var t, xg, a0, a1 [dcfGroup]uint64
	var base [dcfGroup]int
	if cap(w.lb) < 2*dcfGroup {
		w.lb = make([]block, 2*dcfGroup)
	}
	blk := w.lb[:2*dcfGroup]
	neg := mask64(uint64(k.Party))
	xmask := maskBits(bits)
	vcw := unsafe.Slice((*block)(unsafe.Pointer(&k.vcw[0])), len(k.vcw)/2) // level w's pair at vcw[w]
	fin := unsafe.Slice((*block)(unsafe.Pointer(&k.fin[0])), len(k.fin)/2)
	for g0 := 0; g0 < len(keys); g0 += dcfGroup {
		ng := min(len(keys)-g0, dcfGroup)
		kg := keys[g0 : g0+ng]
		for g, key := range kg {
			s[g], t[g] = k.seeds[key], uint64(k.Party)
			xg[g] = (xs[g0+g] & xmask) << (64 - bits) // the next input bit is the top one
			a0[g], a1[g] = 0, 0
			base[g] = key * int(bits)
		}
		b := blk[:2*ng]
		for l := range int(bits) {
			for g := range ng {
				c := xg[g] >> 63
				b[2*g] = block{s[g].lo ^ (tweakL + c), s[g].hi}
				b[2*g+1] = block{s[g].lo ^ (tweakV + c), s[g].hi}
			}
			mmoBlocks(b, b)
			for g := range ng {
				c := xg[g] >> 63
				xg[g] <<= 1
				wi := base[g] + l
				m := mask64(t[g])
				cv := vcw[wi]
				v := b[2*g+1]
				a0[g] += v.lo + (cv.lo & m)
				a1[g] += v.hi + (cv.hi & m)
				sc := b[2*g]
				cw := k.scw[wi]
				s[g] = block{(sc.lo &^ 1) ^ (cw.lo & m), sc.hi ^ (cw.hi & m)}
				t[g] = (sc.lo & 1) ^ (t[g] & (uint64(k.tcw[wi]>>c) & 1))
			}
		}
		lb := b[:ng]
		for g := range lb {
			lb[g] = block{s[g].lo ^ tweakLeaf, s[g].hi}
		}
		mmoBlocks(lb, lb)
		for g, key := range kg {
			m := mask64(t[g])
			f := fin[key]
			y0 := a0[g] + lb[g].lo + (f.lo & m)
			y1 := a1[g] + lb[g].hi + (f.hi & m)
			out[2*(g0+g)] = (y0 ^ neg) - neg
			out[2*(g0+g)+1] = (y1 ^ neg) - neg
		}
	}
}
