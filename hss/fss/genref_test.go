package fss

import (
	"errors"
	"fmt"
	"io"
)

// Reference key generation: one key at a time with single-block hashing (the code GenDCF and
// GenDPFLeaf ran before they were batched), kept to pin the batched versions (gen_test.go).

// genDCFRef is the single-key GenDCF the batched one replaced; it returns both parties' batches of DCF keys, key i for α_i = alphas[i] and β_i =
// betas[i*p:(i+1)*p]. Inputs α_i must be below 2^bits. It follows Boyle et al. (Eurocrypt 2021),
// Fig. 3 (Gen^<) with the PRG of this package.
func genDCFRef(rng io.Reader, bits uint, p int, alphas, betas []uint64) (k0, k1 *DCFKeys, err error) {
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

// genDPFLeafRef is the single-key GenDPFLeaf the batched one replaced: GenDPF with leaf early-terminated levels (leaf ≤ min(bits, MaxLeaf)): shorter trees,
// larger final correction words, and window evaluation that needs about count/2 + 2·count/2^leaf PRG
// blocks per key for P = 1 instead of about 3·count.
func genDPFLeafRef(rng io.Reader, bits, leaf uint, p int, alphas, betas []uint64) (k0, k1 *DPFKeys, err error) {
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
