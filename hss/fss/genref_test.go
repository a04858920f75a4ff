package fss

import (
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
	c0, c1 := make([]uint64, p), make([]uint64, p)
	va := make([]uint64, p)
	v := [2][2][]uint64{{make([]uint64, p), make([]uint64, p)}, {make([]uint64, p), make([]uint64, p)}}
	for i, alpha := range alphas {
		s, t, err := refRoots(rng, "dcf", "threshold", alpha, bits)
		if err != nil {
			return nil, nil, err
		}
		k0.seeds[i], k1.seeds[i] = s[0], s[1]
		beta := betas[i*p : (i+1)*p]
		for j := range va {
			va[j] = 0
		}
		for l := uint(0); l < bits; l++ {
			a := bit(alpha, bits, l)
			cs, ct := refChildren(h, s)
			for b := 0; b < 2; b++ {
				for c := uint64(0); c < 2; c++ {
					h.values(v[b][c], s[b], c)
				}
			}
			keep, lose := a, 1-a
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
			sCW, tcw := refLevel(cs, ct, a, &s, &t)
			k0.scw[w], k1.scw[w] = sCW, sCW
			k0.tcw[w], k1.tcw[w] = tcw, tcw
		}
		neg := refLeaves(h, c0, c1, s, t)
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
		s, t, err := refRoots(rng, "dpf", "point", alpha, bits)
		if err != nil {
			return nil, nil, err
		}
		k0.seeds[i], k1.seeds[i] = s[0], s[1]
		for l := uint(0); l < d; l++ {
			cs, ct := refChildren(h, s)
			w := i*int(d) + int(l)
			sCW, tcw := refLevel(cs, ct, bit(alpha, bits, l), &s, &t)
			k0.scw[w], k1.scw[w] = sCW, sCW
			k0.tcw[w], k1.tcw[w] = tcw, tcw
		}
		neg := refLeaves(h, c0, c1, s, t)
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

// refChildren expands both parties' on-path seeds s into their children's seeds cs[b][c] and control
// bits ct[b][c] (c = 0 the left child).
func refChildren(h *hasher, s [2]block) (cs [2][2]block, ct [2][2]uint64) {
	for b := 0; b < 2; b++ {
		for c := uint64(0); c < 2; c++ {
			cs[b][c], ct[b][c] = h.child(s[b], c)
		}
	}
	return cs, ct
}

// refLeaves hashes both parties' final seeds into c0 and c1 and returns the sign mask of the final
// correction, (−1)^{t1} as x ↦ (x ^ neg) − neg.
func refLeaves(h *hasher, c0, c1 []uint64, s [2]block, t [2]uint64) (neg uint64) {
	h.leaf(c0, s[0])
	h.leaf(c1, s[1])
	return mask64(t[1])
}

// refLevel ends a level of the reference walks: from the children cs, ct of both parties' on-path
// nodes and α's bit a at the level, it returns the level's seed correction and control corrections
// (tL | tR<<1) and moves s and t to the kept children, corrected.
func refLevel(cs [2][2]block, ct [2][2]uint64, a uint64, s *[2]block, t *[2]uint64) (sCW block, tcw uint8) {
	keep, lose := a, 1-a
	sCW = cs[0][lose].xor(cs[1][lose])
	tL := ct[0][0] ^ ct[1][0] ^ a ^ 1
	tR := ct[0][1] ^ ct[1][1] ^ a
	tKeep := tL
	if keep == 1 {
		tKeep = tR
	}
	for b := 0; b < 2; b++ {
		m := mask64(t[b])
		s[b] = block{cs[b][keep].lo ^ (sCW.lo & m), cs[b][keep].hi ^ (sCW.hi & m)}
		t[b] = ct[b][keep] ^ (t[b] & tKeep)
	}
	return sCW, uint8(tL | tR<<1)
}

// refRoots checks that a key's point α (what it is to the gate op) fits bits bits and draws the two
// parties' root seeds, their control bits (the low bits) cleared; t is the roots' control bits (0, 1).
func refRoots(rng io.Reader, op, what string, alpha uint64, bits uint) (s [2]block, t [2]uint64, err error) {
	if bits < 64 && alpha>>bits != 0 {
		return s, t, fmt.Errorf("fss: %s gen: %s does not fit the input width", op, what)
	}
	for b := range s {
		if s[b], err = readBlock(rng); err != nil {
			return s, t, fmt.Errorf("fss: %s gen: %w", op, err)
		}
		s[b].lo &^= 1
	}
	return s, [2]uint64{0, 1}, nil
}
