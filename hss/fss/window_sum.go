package fss

import (
	"fmt"
	"unsafe"
)

// Batched window sums and point evaluations of DPF batches with payload 1, on the batched tree walk
// of expandBatch: the counting max of package hss evaluates one window per score and sums the
// windows of a row (its histogram), then evaluates one key per count at one point (its zero tests).

// EvalWindowSumBatch adds to acc[j] the party's share of Σ_e f_{i0+e}(los[e]+j) for every j <
// count (inputs mod 2^Bits): the sum of the windows of keys i0 … i0+len(los)−1, each at its own
// start. It needs P = 1, count ≤ 2^Bits and len(acc) ≥ count. The result equals the sum of the
// EvalWindow outputs.
func (w *Worker) EvalWindowSumBatch(k *DPFKeys, i0 int, los []uint64, count int, acc []uint64) error {
	if err := k.checkBatch(i0, len(los)); err != nil {
		return err
	}
	if len(los) > 0 {
		if err := k.checkWindow(los[0], count); err != nil {
			return err
		}
	}
	if len(acc) < count {
		return fmt.Errorf("fss: dpf window sum: %d values into room for %d", count, len(acc))
	}
	if count == 0 {
		return nil
	}
	v := k.leafVals()
	nbk := (v + 1) / 2
	sub := k.Party == 1 // party 1's shares are negated (see EvalWindow)
	for b := 0; b < len(los); b += winBatch {
		e1 := min(b+winBatch, len(los))
		ws, cur, ct := w.expandBatch(k, i0+b, los[b:e1], count)
		vals, nls := w.hashLeaves(k, ws, cur, nbk)
		p := 0 // leaves of the elements before e
		for e := range ws {
			lo, end := ws[e].lo, ws[e].end
			fin := k.fin[(i0+b+e)*v : (i0+b+e+1)*v]
			q := 0
			for u := range nls[e] {
				o1, o2 := leafSpan(lo, end, k.Leaf, u)
				m := mask64(ct[ws[e].at+u])
				src := vals[(p+u)*2*nbk+int(o1) : (p+u)*2*nbk+int(o2)]
				f := fin[o1:o2]
				dst := acc[q : q+len(src)]
				if sub {
					for j, x := range src {
						dst[j] -= x + (f[j] & m)
					}
				} else {
					for j, x := range src {
						dst[j] += x + (f[j] & m)
					}
				}
				q += len(src)
			}
			p += nls[e]
		}
	}
	return nil
}

// EvalPointBatch sets out[e] to the party's share of f_{i0+e}(xs[e]) (inputs mod 2^Bits) for every
// e < len(xs), for P = 1: EvalPoint over a batch, with one hash call per level for all keys.
func (w *Worker) EvalPointBatch(k *DPFKeys, i0 int, xs, out []uint64) error {
	if err := k.checkBatch(i0, len(xs)); err != nil {
		return err
	}
	if len(out) < len(xs) {
		return fmt.Errorf("fss: dpf points: %d values into room for %d", len(xs), len(out))
	}
	v := k.leafVals()
	lmask := maskBits(k.Leaf)
	nbk := (v + 1) / 2
	neg := mask64(uint64(k.Party))
	for b := 0; b < len(xs); b += winBatch {
		e1 := min(b+winBatch, len(xs))
		ws, cur, ct := w.expandBatch(k, i0+b, xs[b:e1], 1)
		vals, _ := w.hashLeaves(k, ws, cur, nbk)
		for e := range ws {
			o := ws[e].lo & lmask
			m := mask64(ct[ws[e].at])
			y := vals[e*2*nbk+int(o)] + (k.fin[(i0+b+e)*v+int(o)] & m)
			out[b+e] = (y ^ neg) - neg
		}
	}
	return nil
}

// checkBatch checks that keys i0 … i0+n−1 exist and have payload 1.
func (k *DPFKeys) checkBatch(i0, n int) error {
	if k.P != 1 {
		return fmt.Errorf("fss: dpf batch: payload %d, want 1", k.P)
	}
	if i0 < 0 || n < 0 || i0+n > k.N {
		return fmt.Errorf("fss: dpf batch: %d keys from key %d out of range", n, i0)
	}
	return nil
}

// hashLeaves converts the leaf seeds of a batched expansion (element e's at cur[ws[e].at:]) into
// their values, all in one hash call: leaf u of element e (counting the leaves of the elements
// before it) holds vals[u·2·nbk:]. It also returns every element's number of leaves.
func (w *Worker) hashLeaves(k *DPFKeys, ws []winState, cur []block, nbk int) ([]uint64, []int) {
	if cap(w.nls) < len(ws) {
		w.nls = make([]int, len(ws))
	}
	nls := w.nls[:len(ws)]
	tot := 0
	for e := range ws {
		nls[e] = int(ws[e].end>>k.Leaf-ws[e].lo>>k.Leaf) + 1
		tot += nls[e]
	}
	lb := w.leafBlocks(tot * nbk)
	p := 0
	for e := range ws {
		for _, s := range cur[ws[e].at : ws[e].at+nls[e]] {
			for bb := range nbk {
				lb[p] = block{s.lo ^ (tweakLeaf + 2*uint64(bb)), s.hi}
				p++
			}
		}
	}
	mmoBlocks(lb, lb)
	return unsafe.Slice(&lb[0].lo, 2*len(lb)), nls
}
