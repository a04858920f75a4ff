package fss

import "fmt"

// A comparison read off a DPF key, without a DCF.
//
// In the tree of Boyle, Gilboa and Ishai (CCS 2016) the two parties' nodes agree everywhere off the
// path to the point α, and on it their control bits differ: the XOR of the parties' control bits of
// any node is 1 exactly when the node is a prefix of α. Comparisons are sums of such indicators:
// 1{x < α} holds when, at the first bit p where they differ, α_p = 1 and x_p = 0, that is when the
// node (x_0 … x_{p−1}, 1) is on α's path, for exactly one p with x_p = 0. So the XOR of the control
// bits of those siblings of x's path gives XOR shares of 1{x < α}. This is the prefix parity of
// Grotto (Storrier, Vadapalli, Lyons and Henry, CCS 2023), which XORs control bits over intervals of
// a DPF's domain, taken here at the nodes of one path instead of over its leaves.
//
// An early-terminated key (Leaf > 0) has no control bits below its leaves; there the first payload
// component stands in: its shares at the positions of a leaf are arithmetic shares of β[0]·1{q = α},
// and with β[0] odd their low bits are XOR shares of 1{q = α}. A key with Top > 0 has its level-Top
// nodes' control bits stored (or expanded from its seed): the XOR of those of the level-Top nodes
// above x's in order gives 1{α's top bits > x's}.

// EvalLowLessBatch sets out[e] (0 or 1) to the party's XOR share of 1{x mod 2^(Bits−1) < α mod
// 2^(Bits−1)} for x = xs[e] and α the point of key i0+e: the comparison below the most significant
// bit that the sign of x − α by the MSB rule needs (Boyle et al., Eurocrypt 2021, §4), read off the
// key's tree in both halves of the domain (α lies in one of them; the other's nodes cancel). Every
// key's payload must have an odd first component (β[0] = 1 for the lookups' (1, ρ, ρ², …)); the key
// must have at least one level above its leaves (Leaf < Bits), and Bits ≥ 2.
//
// Cost per element: both halves' walks from level Top (2 blocks per level each), up to 2^Top − 2
// level-Top nodes of a Seeded batch, and, in each half's leaf, the blocks holding the first
// components of the positions after x's (up to 2^Leaf − 1).
func (w *Worker) EvalLowLessBatch(k *DPFKeys, i0 int, xs, out []uint64) error {
	n := len(xs)
	if len(out) < n || i0 < 0 || i0+n > k.N {
		return fmt.Errorf("fss: dpf less: batch of %d from key %d out of range", n, i0)
	}
	if k.Bits < 2 || k.Leaf >= k.Bits {
		return fmt.Errorf("fss: dpf less: a %d-bit key with %d early-terminated levels", k.Bits, k.Leaf)
	}
	for b := 0; b < n; b += winBatch {
		e := min(b+winBatch, n)
		w.lowLess(k, i0+b, xs[b:e], out[b:e])
	}
	return nil
}

// lowLess is EvalLowLessBatch on at most winBatch elements.
func (w *Worker) lowLess(k *DPFKeys, i0 int, xs, out []uint64) {
	m := len(xs)
	bits, top, leaf := k.Bits, k.Top, k.Leaf
	low := maskBits(bits - 1)
	// Node 2e+h walks y = (h, x_low) of element e.
	cur, ct := w.level(0, 2*m)
	for e, x := range xs {
		out[e] = 0
		for h := range uint64(2) {
			y := h<<(bits-1) | x&low
			cur[2*e+int(h)], ct[2*e+int(h)] = k.rootInput(i0+e, y>>(bits-top))
		}
	}
	k.hashRoots(cur, ct)
	if top > 0 {
		// The level-Top nodes of half h after x's: α's top bits (below the MSB) are larger. Both
		// halves' are the nodes j0+1 … 2^(Top−1)−1 of each, j0 = x's top bits below the MSB.
		half := uint64(1) << (top - 1)
		if k.Seeded {
			ns, nb := w.level(1, m*int(2*half))
			c := 0
			for e, x := range xs {
				for h := range uint64(2) {
					for j := (x&low)>>(bits-top) + 1; j < half; j++ {
						ns[c], nb[c] = k.rootInput(i0+e, h*half+j)
						c++
					}
				}
			}
			k.hashRoots(ns[:c], nb[:c])
			c = 0
			for e, x := range xs {
				var t uint64
				for range 2 * (half - 1 - (x&low)>>(bits-top)) {
					t ^= nb[c]
					c++
				}
				out[e] ^= t
			}
		} else {
			for e, x := range xs {
				var t uint64
				for h := range uint64(2) {
					base := (i0+e)<<top + int(h*half)
					for j := (x&low)>>(bits-top) + 1; j < half; j++ {
						t ^= uint64(k.tops[base+int(j)])
					}
				}
				out[e] ^= t
			}
		}
	}
	d := k.levels()
	for l := range d {
		p := top + uint(l) // the bit this level reads
		nxt, nt := w.level(1, 4*m)
		childInputs(nxt, cur[:2*m], 0)
		mmoBlocks(nxt, nxt)
		wi := i0*d + l
		for q := range 2 * m {
			e := q >> 1
			cw, tcw := k.scw[wi+e*d], uint64(k.tcw[wi+e*d])
			correctLevel(nxt[2*q:2*q+2], nt[2*q:2*q+2], ct[q:q+1], 0, cw, tcw)
			b := bit(uint64(q&1)<<(bits-1)|xs[e]&low, bits, p)
			if p > 0 && b == 0 {
				out[e] ^= nt[2*q+1] // the right sibling of x's path: α_p = 1 > x_p
			}
			// Keep child b: written in place, the level below reads cur[q].
			nxt[q], nt[q] = nxt[2*q+int(b)], nt[2*q+int(b)]
		}
		// nxt[q] was read at 2q ≥ q before being overwritten (q ≤ 2q): the compaction is safe.
		w.swap()
		cur, ct = nxt[:2*m], nt[:2*m]
	}
	// The leaves: the first payload component of the positions after x's, read mod 2 (only the blocks
	// that hold them are hashed).
	P := k.P
	nl := 1 << leaf
	v := k.leafVals()
	lm := maskBits(leaf)
	lb := w.leafBlocks(2 * m * nl)
	c := 0
	for q, s := range cur[:2*m] {
		for o := int(xs[q>>1]&lm) + 1; o < nl; o++ {
			j := o * P // value index of position o's first component; its block is j/2
			lb[c] = block{s.lo ^ (tweakLeaf + uint64(j&^1)), s.hi}
			c++
		}
	}
	mmoBlocks(lb[:c], lb[:c])
	c = 0
	for q := range 2 * m {
		e := q >> 1
		fin := k.fin[(i0+e)*v:]
		tm := mask64(ct[q])
		var t uint64
		for o := int(xs[e]&lm) + 1; o < nl; o++ {
			j := o * P
			b := lb[c]
			c++
			val := b.lo
			if j&1 == 1 {
				val = b.hi
			}
			t ^= val ^ (fin[j] & tm)
		}
		out[e] ^= t & 1
	}
}
