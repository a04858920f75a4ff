package fss

import (
	"errors"
	"fmt"
	"io"
)

// MaxWindowBits is the largest DPF input width supported by window evaluation.
const MaxWindowBits = 40

// DPFKeys is one party's batch of N distributed point function keys on Bits-bit inputs with payloads
// in (Z_2^64)^P: key i shares f_i(x) = β_i·1{x = α_i}. It follows Boyle, Gilboa and Ishai (CCS 2016),
// Fig. 1, with the PRG of this package.
//
// Size per key: 16 + 16·Bits + ⌈2·Bits/8⌉ + 8P bytes.
type DPFKeys struct {
	Party int
	Bits  uint
	P     int
	N     int

	seeds []block
	scw   []block
	tcw   []uint8
	fin   []uint64
}

func newDPFKeys(party int, bits uint, p, n int) *DPFKeys {
	return &DPFKeys{Party: party, Bits: bits, P: p, N: n, seeds: make([]block, n),
		scw: make([]block, n*int(bits)), tcw: make([]uint8, n*int(bits)), fin: make([]uint64, n*p)}
}

// Size returns the serialised size in bytes of the batch (header excluded).
func (k *DPFKeys) Size() int {
	if k == nil {
		return 0
	}
	nb := k.N * int(k.Bits)
	return 16*k.N + 16*nb + (2*nb+7)/8 + 8*k.N*k.P
}

// DPFKeySize is the per-key size in bytes of a DPF with the given input width and payload length.
func DPFKeySize(bits uint, p int) int { return 16 + 16*int(bits) + (2*int(bits)+7)/8 + 8*p }

// GenDPF returns both parties' batches of DPF keys, key i for α_i = alphas[i] and β_i =
// betas[i*p:(i+1)*p].
func GenDPF(rng io.Reader, bits uint, p int, alphas, betas []uint64) (k0, k1 *DPFKeys, err error) {
	if err := checkShape(bits, p); err != nil {
		return nil, nil, fmt.Errorf("fss: dpf gen: %w", err)
	}
	if len(betas) != len(alphas)*p {
		return nil, nil, fmt.Errorf("fss: dpf gen: %d payload values for %d keys of payload %d", len(betas), len(alphas), p)
	}
	n := len(alphas)
	k0, k1 = newDPFKeys(0, bits, p, n), newDPFKeys(1, bits, p, n)
	h := newHasher()
	c0, c1 := make([]uint64, p), make([]uint64, p)
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
		for l := uint(0); l < bits; l++ {
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
			w := i*int(bits) + int(l)
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
			x := betas[i*p+j] - c0[j] + c1[j]
			k0.fin[i*p+j] = (x ^ neg) - neg
		}
		copy(k1.fin[i*p:(i+1)*p], k0.fin[i*p:(i+1)*p])
	}
	return k0, k1, nil
}

// leafOut writes the party's output share for a leaf with seed s and control bit t.
func (k *DPFKeys) leafOut(h *hasher, i int, s block, t uint64, out []uint64) {
	h.leaf(out, s)
	m := mask64(t)
	neg := mask64(uint64(k.Party))
	fin := k.fin[i*k.P : (i+1)*k.P]
	for j := range out {
		y := out[j] + (fin[j] & m)
		out[j] = (y ^ neg) - neg
	}
}

// EvalPoint writes the party's share of f_i(x) into out (len P).
func (w *Worker) EvalPoint(k *DPFKeys, i int, x uint64, out []uint64) {
	x &= maskBits(k.Bits)
	s, t := k.seeds[i], uint64(k.Party)
	for l := uint(0); l < k.Bits; l++ {
		c := bit(x, k.Bits, l)
		wi := i*int(k.Bits) + int(l)
		sc, tc := w.h.child(s, c)
		m := mask64(t)
		cw := k.scw[wi]
		s = block{sc.lo ^ (cw.lo & m), sc.hi ^ (cw.hi & m)}
		t = tc ^ (t & (uint64(k.tcw[wi]>>c) & 1))
	}
	k.leafOut(w.h, i, s, t, out)
}

// EvalWindow writes the party's shares of f_i(lo), f_i(lo+1), ..., f_i(lo+count−1) (inputs taken
// mod 2^Bits) into out[0:count*P]. It expands only the subtrees that meet the window, about
// 2·count + 2·Bits PRG calls. count must be at most 2^Bits and Bits at most MaxWindowBits.
func (w *Worker) EvalWindow(k *DPFKeys, i int, lo uint64, count int, out []uint64) error {
	if k.Bits > MaxWindowBits {
		return fmt.Errorf("fss: dpf window: input width %d above %d", k.Bits, MaxWindowBits)
	}
	size := uint64(1) << k.Bits
	if count < 0 || uint64(count) > size || len(out) < count*k.P {
		return fmt.Errorf("fss: dpf window: bad window of %d values (output room %d)", count, len(out))
	}
	lo &= size - 1
	end := lo + uint64(count)
	r := windowRun{k: k, i: i, w: w, base: lo, size: size, out: out}
	if end <= size {
		r.walk(k.seeds[i], uint64(k.Party), 0, 0, lo, end)
	} else {
		r.walk(k.seeds[i], uint64(k.Party), 0, 0, lo, size)
		r.walk(k.seeds[i], uint64(k.Party), 0, 0, 0, end-size)
	}
	return nil
}

type windowRun struct {
	k          *DPFKeys
	i          int
	w          *Worker
	base, size uint64
	out        []uint64
}

// walk visits the node at depth l whose subtree starts at nodeLo, restricted to leaves in [a, b).
func (r *windowRun) walk(s block, t uint64, l uint, nodeLo, a, b uint64) {
	k := r.k
	if l == k.Bits {
		off := (nodeLo - r.base) & (r.size - 1)
		r.k.leafOut(r.w.h, r.i, s, t, r.out[int(off)*k.P:int(off+1)*k.P])
		return
	}
	half := uint64(1) << (k.Bits - l - 1)
	wi := r.i*int(k.Bits) + int(l)
	cw := k.scw[wi]
	m := mask64(t)
	for c := uint64(0); c < 2; c++ {
		clo := nodeLo + c*half
		if clo >= b || clo+half <= a {
			continue
		}
		sc, tc := r.w.h.child(s, c)
		sc = block{sc.lo ^ (cw.lo & m), sc.hi ^ (cw.hi & m)}
		tc ^= t & (uint64(k.tcw[wi]>>c) & 1)
		r.walk(sc, tc, l+1, clo, a, b)
	}
}
