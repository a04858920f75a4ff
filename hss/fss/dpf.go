package fss

import (
	"errors"
	"fmt"
	"io"
	"unsafe"
)

// MaxWindowBits is the largest DPF input width supported by window evaluation.
const MaxWindowBits = 40

// MaxLeaf is the largest number of early-terminated levels a DPF batch may have.
const MaxLeaf = 6

// DPFKeys is one party's batch of N distributed point function keys on Bits-bit inputs with payloads
// in (Z_2^64)^P: key i shares f_i(x) = β_i·1{x = α_i}. It follows Boyle, Gilboa and Ishai (CCS 2016),
// Fig. 1, with the PRG of this package, and their early termination (§3.2.1): the tree stops Leaf
// levels above the inputs and each leaf seed is converted into the 2^Leaf·P outputs of its 2^Leaf
// inputs at once (Leaf = 0 is the plain construction).
//
// Size per key: 16 + 16·(Bits−Leaf) + ⌈2·(Bits−Leaf)/8⌉ + 8·2^Leaf·P bytes.
type DPFKeys struct {
	Party int
	Bits  uint
	P     int
	N     int
	Leaf  uint // early-terminated levels, 0..min(Bits, MaxLeaf)

	seeds []block
	scw   []block
	tcw   []uint8
	fin   []uint64
}

func (k *DPFKeys) depth() int    { return int(k.Bits - k.Leaf) }
func (k *DPFKeys) leafVals() int { return k.P << k.Leaf }

func newDPFKeys(party int, bits, leaf uint, p, n int) *DPFKeys {
	d := int(bits - leaf)
	return &DPFKeys{Party: party, Bits: bits, P: p, N: n, Leaf: leaf, seeds: make([]block, n),
		scw: make([]block, n*d), tcw: make([]uint8, n*d), fin: make([]uint64, n*(p<<leaf))}
}

// Size returns the serialised size in bytes of the batch (header excluded).
func (k *DPFKeys) Size() int {
	if k == nil {
		return 0
	}
	nb := k.N * k.depth()
	return 16*k.N + 16*nb + (2*nb+7)/8 + 8*k.N*k.leafVals()
}

// DPFKeySize is the per-key size in bytes of a DPF with the given input width and payload length
// (no early termination).
func DPFKeySize(bits uint, p int) int { return DPFLeafKeySize(bits, 0, p) }

// DPFLeafKeySize is the per-key size in bytes of a DPF with leaf early-terminated levels.
func DPFLeafKeySize(bits, leaf uint, p int) int {
	d := int(bits - leaf)
	return 16 + 16*d + (2*d+7)/8 + 8*(p<<leaf)
}

// GenDPF returns both parties' batches of DPF keys, key i for α_i = alphas[i] and β_i =
// betas[i*p:(i+1)*p].
func GenDPF(rng io.Reader, bits uint, p int, alphas, betas []uint64) (k0, k1 *DPFKeys, err error) {
	return GenDPFLeaf(rng, bits, 0, p, alphas, betas)
}

// GenDPFLeaf is GenDPF with leaf early-terminated levels (leaf ≤ min(bits, MaxLeaf)): shorter trees,
// larger final correction words, and window evaluation that needs about count/2 + 2·count/2^leaf PRG
// blocks per key for P = 1 instead of about 3·count.
func GenDPFLeaf(rng io.Reader, bits, leaf uint, p int, alphas, betas []uint64) (k0, k1 *DPFKeys, err error) {
	if err := checkShape(bits, p); err != nil {
		return nil, nil, fmt.Errorf("fss: dpf gen: %w", err)
	}
	if leaf > bits || leaf > MaxLeaf {
		return nil, nil, fmt.Errorf("fss: dpf gen: %d early-terminated levels for width %d", leaf, bits)
	}
	if len(betas) != len(alphas)*p {
		return nil, nil, fmt.Errorf("fss: dpf gen: %d payload values for %d keys of payload %d", len(betas), len(alphas), p)
	}
	n := len(alphas)
	k0, k1 = newDPFKeys(0, bits, leaf, p, n), newDPFKeys(1, bits, leaf, p, n)
	d := uint(k0.depth())
	v := k0.leafVals()
	h := newHasher()
	c0, c1 := make([]uint64, v), make([]uint64, v)
	for i, alpha := range alphas {
		if bits < 64 && alpha>>bits != 0 {
			return nil, nil, errors.New("fss: dpf gen: point does not fit the input width")
		}
		s := [2]block{}
		for b := 0; b < 2; b++ {
			if s[b], err = readBlock(rng); err != nil {
				return nil, nil, fmt.Errorf("fss: dpf gen: %w", err)
			}
			s[b].lo &^= 1
		}
		k0.seeds[i], k1.seeds[i] = s[0], s[1]
		t := [2]uint64{0, 1}
		for l := uint(0); l < d; l++ {
			a := bit(alpha, bits, l)
			var cs [2][2]block
			var ct [2][2]uint64
			for b := 0; b < 2; b++ {
				for c := uint64(0); c < 2; c++ {
					cs[b][c], ct[b][c] = h.child(s[b], c)
				}
			}
			keep, lose := a, 1-a
			sCW := cs[0][lose].xor(cs[1][lose])
			tL := ct[0][0] ^ ct[1][0] ^ a ^ 1
			tR := ct[0][1] ^ ct[1][1] ^ a
			w := i*int(d) + int(l)
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
		low := int(alpha & maskBits(leaf))
		fin := k0.fin[i*v : (i+1)*v]
		for j := range fin {
			x := c1[j] - c0[j]
			if j/p == low {
				x += betas[i*p+j%p]
			}
			fin[j] = (x ^ neg) - neg
		}
		copy(k1.fin[i*v:(i+1)*v], fin)
	}
	return k0, k1, nil
}

// EvalPoint writes the party's share of f_i(x) into out (len P).
func (w *Worker) EvalPoint(k *DPFKeys, i int, x uint64, out []uint64) {
	x &= maskBits(k.Bits)
	d := k.depth()
	s, t := k.seeds[i], uint64(k.Party)
	for l := 0; l < d; l++ {
		c := bit(x, k.Bits, uint(l))
		wi := i*d + l
		sc, tc := w.h.child(s, c)
		m := mask64(t)
		cw := k.scw[wi]
		s = block{sc.lo ^ (cw.lo & m), sc.hi ^ (cw.hi & m)}
		t = tc ^ (t & (uint64(k.tcw[wi]>>c) & 1))
	}
	v := k.leafVals()
	vals := w.scratch(v)
	w.h.leaf(vals, s)
	off := int(x&maskBits(k.Leaf)) * k.P
	m := mask64(t)
	neg := mask64(uint64(k.Party))
	fin := k.fin[i*v+off : i*v+off+k.P]
	for j := range out[:k.P] {
		y := vals[off+j] + (fin[j] & m)
		out[j] = (y ^ neg) - neg
	}
}

// EvalWindow writes the party's shares of f_i(lo), f_i(lo+1), ..., f_i(lo+count−1) (inputs taken
// mod 2^Bits) into out[0:count*P]. It expands the tree level by level, only the nodes whose subtree
// meets the window, hashing each level's children in one batch (mmoBlocks): about
// 2·count/2^Leaf + 2·(Bits−Leaf) blocks for the tree and ⌈P·2^Leaf/2⌉ per leaf. count must be at
// most 2^Bits and Bits at most MaxWindowBits. It does not allocate once the worker's buffers have
// grown to the window size.
func (w *Worker) EvalWindow(k *DPFKeys, i int, lo uint64, count int, out []uint64) error {
	if err := k.checkWindow(lo, count); err != nil {
		return err
	}
	if len(out) < count*k.P {
		return fmt.Errorf("fss: dpf window: bad window of %d values (output room %d)", count, len(out))
	}
	if count == 0 {
		return nil
	}
	lo, end, vals, ct, nbk := w.expandWindow(k, i, lo, count)
	v := k.leafVals()
	fin := k.fin[i*v : (i+1)*v]
	neg := mask64(uint64(k.Party))
	lmask := maskBits(k.Leaf)
	q := 0 // output position
	for u := range ct {
		// This leaf covers inputs [leafLo, leafLo+2^Leaf) (unwrapped); the window takes offsets [o1, o2).
		leafLo := (lo>>k.Leaf + uint64(u)) << k.Leaf
		o1 := uint64(0)
		if u == 0 {
			o1 = lo & lmask
		}
		o2 := min(lmask+1, end-leafLo+1)
		m := mask64(ct[u])
		src := vals[u*2*nbk+int(o1)*k.P : u*2*nbk+int(o2)*k.P]
		f := fin[int(o1)*k.P : int(o2)*k.P]
		dst := out[q*k.P : q*k.P+len(src)]
		for j, x := range src {
			y := x + (f[j] & m)
			dst[j] = (y ^ neg) - neg
		}
		q += int(o2 - o1)
	}
	return nil
}

// EvalWindowDot returns the party's share of Σ_q tab[q]·f_i(lo+q) over the window of len(tab)
// inputs starting at lo (mod 2^Bits), for P = 1: the window evaluation of EvalWindow fused with a
// public inner product, without writing the shares out.
func (w *Worker) EvalWindowDot(k *DPFKeys, i int, lo uint64, tab []uint64) (uint64, error) {
	count := len(tab)
	if err := k.checkWindow(lo, count); err != nil {
		return 0, err
	}
	if k.P != 1 {
		return 0, fmt.Errorf("fss: dpf window: inner product needs payload 1, not %d", k.P)
	}
	if count == 0 {
		return 0, nil
	}
	lo, end, vals, ct, nbk := w.expandWindow(k, i, lo, count)
	v := k.leafVals()
	fin := k.fin[i*v : (i+1)*v]
	lmask := maskBits(k.Leaf)
	q := 0
	var acc uint64
	for u := range ct {
		leafLo := (lo>>k.Leaf + uint64(u)) << k.Leaf
		o1 := uint64(0)
		if u == 0 {
			o1 = lo & lmask
		}
		o2 := min(lmask+1, end-leafLo+1)
		src := vals[u*2*nbk+int(o1) : u*2*nbk+int(o2)]
		f := fin[int(o1):int(o2)]
		tb := tab[q : q+len(src)]
		f = f[:len(tb)]
		var a, c uint64
		for j, x := range src {
			a += tb[j] * x
			c += tb[j] * f[j]
		}
		acc += a + (c & mask64(ct[u]))
		q += len(src)
	}
	neg := mask64(uint64(k.Party))
	return (acc ^ neg) - neg, nil
}

// EvalWindowLin returns, for P = 2, the party's share of Σ_q ta[q]·f_i(lo+q)_0 +
// tb[q]·(x·f_i(lo+q)_0 − f_i(lo+q)_1) over the window of len(ta) = len(tb) inputs starting at lo
// (subscripts: payload slots; x public): the window evaluation fused with the inner products of a
// piecewise-linear lookup A_z + B_z·(x − ρ) with payload (1, ρ).
func (w *Worker) EvalWindowLin(k *DPFKeys, i int, lo uint64, ta, tb []uint64, x uint64) (uint64, error) {
	count := len(ta)
	if err := k.checkWindow(lo, count); err != nil {
		return 0, err
	}
	if k.P != 2 || len(tb) != count {
		return 0, fmt.Errorf("fss: dpf window: linear products need payload 2 (not %d) and equal tables", k.P)
	}
	if count == 0 {
		return 0, nil
	}
	lo, end, vals, ct, nbk := w.expandWindow(k, i, lo, count)
	v := k.leafVals()
	fin := k.fin[i*v : (i+1)*v]
	lmask := maskBits(k.Leaf)
	q := 0
	var acc uint64
	for u := range ct {
		leafLo := (lo>>k.Leaf + uint64(u)) << k.Leaf
		o1 := uint64(0)
		if u == 0 {
			o1 = lo & lmask
		}
		o2 := min(lmask+1, end-leafLo+1)
		nq := int(o2 - o1)
		src := vals[u*2*nbk+2*int(o1) : u*2*nbk+2*int(o2)]
		f := fin[2*int(o1) : 2*int(o2)]
		xa, xb := ta[q:q+nq], tb[q:q+nq]
		xb, src, f = xb[:len(xa)], src[:2*len(xa)], f[:2*len(xa)]
		m := mask64(ct[u])
		for j := range xa {
			e := src[2*j] + (f[2*j] & m)
			er := src[2*j+1] + (f[2*j+1] & m)
			acc += xa[j]*e + xb[j]*(x*e-er)
		}
		q += nq
	}
	neg := mask64(uint64(k.Party))
	return (acc ^ neg) - neg, nil
}

func (k *DPFKeys) checkWindow(lo uint64, count int) error {
	if k.Bits > MaxWindowBits {
		return fmt.Errorf("fss: dpf window: input width %d above %d", k.Bits, MaxWindowBits)
	}
	if count < 0 || uint64(count) > uint64(1)<<k.Bits {
		return fmt.Errorf("fss: dpf window: bad window of %d values", count)
	}
	return nil
}

// expandWindow expands key i over the window [lo, lo+count) (count ≥ 1) and returns the window in
// unwrapped coordinates [lo, end], the leaf values (leaf u of the window at vals[u·2·nbk:]), and the
// leaves' control bits.
func (w *Worker) expandWindow(k *DPFKeys, i int, lo uint64, count int) (uint64, uint64, []uint64, []uint64, int) {
	size := uint64(1) << k.Bits
	lo &= size - 1
	end := lo + uint64(count) - 1 // unwrapped: node ranges below are contiguous in these coordinates
	d := k.depth()
	// Level 0: one root per copy of the domain the window meets (two when it wraps).
	n := int(end>>k.Bits) + 1
	cur, ct := w.level(0, n)
	for j := range cur {
		cur[j], ct[j] = k.seeds[i], uint64(k.Party)
	}
	for l := 0; l < d; l++ {
		sh := k.Bits - uint(l) - 1
		na, nb := lo>>sh, end>>sh
		pa := lo >> (sh + 1)
		nn := int(nb - na + 1)
		nxt, nt := w.level(1, nn)
		for c := range nxt {
			u := na + uint64(c)
			ps := cur[(u>>1)-pa]
			nxt[c] = block{ps.lo ^ (tweakL + u&1), ps.hi}
		}
		mmoBlocks(nxt, nxt)
		wi := i*d + l
		cw := k.scw[wi]
		tcw := uint64(k.tcw[wi])
		for c := range nxt {
			u := na + uint64(c)
			tp := ct[(u>>1)-pa]
			m := mask64(tp)
			o := nxt[c]
			t := o.lo & 1
			o.lo &^= 1
			nxt[c] = block{o.lo ^ (cw.lo & m), o.hi ^ (cw.hi & m)}
			nt[c] = t ^ (tp & (tcw >> (u & 1)) & 1)
		}
		w.swap()
		cur, ct = nxt, nt
	}
	// Leaves: each of the len(cur) leaf seeds gives 2^Leaf·P values from nbk hashed blocks.
	nbk := (k.leafVals() + 1) / 2
	lb := w.leafBlocks(len(cur) * nbk)
	for u, s := range cur {
		dst := lb[u*nbk : (u+1)*nbk]
		for b := range dst {
			dst[b] = block{s.lo ^ (tweakLeaf + 2*uint64(b)), s.hi}
		}
	}
	mmoBlocks(lb, lb)
	return lo, end, unsafe.Slice(&lb[0].lo, 2*len(lb)), ct, nbk // block is {lo, hi}: values 2b, 2b+1
}
