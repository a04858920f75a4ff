package fss

import (
	"errors"
	"fmt"
	"io"
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
	return 16*k.N + 16*nb + (2*nb+7)/8 + 8*nb*k.P + 8*k.N*k.P
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
// Fig. 3 (Gen^<) with the PRG of this package.
func GenDCF(rng io.Reader, bits uint, p int, alphas, betas []uint64) (k0, k1 *DCFKeys, err error) {
	if err := checkShape(bits, p); err != nil {
		return nil, nil, fmt.Errorf("fss: dcf gen: %w", err)
	}
	if len(betas) != len(alphas)*p {
		return nil, nil, fmt.Errorf("fss: dcf gen: %d payload values for %d keys of payload %d", len(betas), len(alphas), p)
	}
	n := len(alphas)
	k0, k1 = newDCFKeys(0, bits, p, n), newDCFKeys(1, bits, p, n)
	h := newHasher()
	va := make([]uint64, p)
	v := [2][2][]uint64{{make([]uint64, p), make([]uint64, p)}, {make([]uint64, p), make([]uint64, p)}}
	c0, c1 := make([]uint64, p), make([]uint64, p)
	for i, alpha := range alphas {
		if bits < 64 && alpha>>bits != 0 {
			return nil, nil, errors.New("fss: dcf gen: threshold does not fit the input width")
		}
		s := [2]block{}
		for b := 0; b < 2; b++ {
			if s[b], err = readBlock(rng); err != nil {
				return nil, nil, fmt.Errorf("fss: dcf gen: %w", err)
			}
			s[b].lo &^= 1
		}
		k0.seeds[i], k1.seeds[i] = s[0], s[1]
		t := [2]uint64{0, 1}
		beta := betas[i*p : (i+1)*p]
		for j := range va {
			va[j] = 0
		}
		for l := uint(0); l < bits; l++ {
			a := bit(alpha, bits, l)
			var cs [2][2]block
			var ct [2][2]uint64
			for b := 0; b < 2; b++ {
				for c := uint64(0); c < 2; c++ {
					cs[b][c], ct[b][c] = h.child(s[b], c)
					h.values(v[b][c], s[b], c)
				}
			}
			keep, lose := a, 1-a
			sCW := cs[0][lose].xor(cs[1][lose])
			neg := mask64(t[1]) // (−1)^{t1}: x ↦ (x ^ neg) − neg
			w := i*int(bits) + int(l)
			vcw := k0.vcw[w*p : (w+1)*p]
			for j := 0; j < p; j++ {
				x := v[1][lose][j] - v[0][lose][j] - va[j]
				if lose == 0 {
					x += beta[j]
				}
				x = (x ^ neg) - neg
				vcw[j] = x
				va[j] = va[j] - v[1][keep][j] + v[0][keep][j] + ((x ^ neg) - neg)
			}
			copy(k1.vcw[w*p:(w+1)*p], vcw)
			tL := ct[0][0] ^ ct[1][0] ^ a ^ 1
			tR := ct[0][1] ^ ct[1][1] ^ a
			k0.scw[w], k1.scw[w] = sCW, sCW
			k0.tcw[w] = uint8(tL | tR<<1)
			k1.tcw[w] = k0.tcw[w]
			tKeep := tL
			if keep == 1 {
				tKeep = tR
			}
			for b := 0; b < 2; b++ {
				m := mask64(t[b])
				s[b] = block{cs[b][keep].lo ^ (sCW.lo & m), cs[b][keep].hi ^ (sCW.hi & m)}
				t[b] = ct[b][keep] ^ (t[b] & tKeep)
			}
		}
		h.leaf(c0, s[0])
		h.leaf(c1, s[1])
		neg := mask64(t[1])
		for j := 0; j < p; j++ {
			x := c1[j] - c0[j] - va[j]
			k0.fin[i*p+j] = (x ^ neg) - neg
		}
		copy(k1.fin[i*p:(i+1)*p], k0.fin[i*p:(i+1)*p])
	}
	return k0, k1, nil
}

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
