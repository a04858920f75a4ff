package fss

import (
	"fmt"
	"unsafe"
)

// winBatch is the number of elements whose window trees EvalWindowLinBatch expands together.
const winBatch = 128

// winState is the per-element bookkeeping of a batched window expansion.
type winState struct {
	lo, end uint64 // window in unwrapped coordinates
	at      int    // offset of the element's nodes in the current level
}

// EvalWindowLinBatch sets out[e] = EvalWindowLin(k, i0+e, los[e], ta, tb, xs[e]) for every e <
// len(los), with the same results, but expands the trees of up to winBatch elements together, level
// by level: one batched hash call per level over all their frontier nodes, then per element the leaf
// blocks of the window positions only and the fused inner products (for 3-level leaves on CPUs with
// AVX-512 F/DQ, whole leaves against tables padded per window offset, linPad and linDotAVX).
func (w *Worker) EvalWindowLinBatch(k *DPFKeys, i0 int, los []uint64, ta, tb, xs, out []uint64) error {
	count := len(ta)
	if err := k.checkWindow(0, count); err != nil {
		return err
	}
	if k.P != 2 || len(tb) != count {
		return fmt.Errorf("fss: dpf window: linear products need payload 2 (not %d) and equal tables", k.P)
	}
	n := len(los)
	if len(xs) < n || len(out) < n || i0 < 0 || i0+n > k.N {
		return fmt.Errorf("fss: dpf window: batch of %d from key %d out of range", n, i0)
	}
	if count == 0 {
		clear(out[:n])
		return nil
	}
	var pad []uint64
	if useLinAVX && k.Leaf == 3 {
		pad = w.linPad(ta, tb)
	}
	for b := 0; b < n; b += winBatch {
		e := min(b+winBatch, n)
		w.linBatch(k, i0+b, los[b:e], ta, tb, xs[b:e], out[b:e], pad)
	}
	return nil
}

func (w *Worker) winStates(n int) []winState {
	if cap(w.ws) < n {
		w.ws = make([]winState, n)
	}
	return w.ws[:n]
}

// expandBatch expands the trees of keys i0, i0+1, … over the windows [los[e], los[e]+count) (count ≥
// 1) together, level by level: one batched hash call per level over all their frontier nodes. It
// returns the elements' states (window in unwrapped coordinates, offset of their leaves) and the
// leaf seeds and control bits (element e's leaves at cur[ws[e].at:]).
func (w *Worker) expandBatch(k *DPFKeys, i0 int, los []uint64, count int) ([]winState, []block, []uint64) {
	size := uint64(1) << k.Bits
	d := k.depth()
	ws := w.winStates(len(los))
	// Level 0: one root per copy of the domain each window meets (two when it wraps).
	tot := 0
	for e, lo := range los {
		lo &= size - 1
		end := lo + uint64(count) - 1
		ws[e] = winState{lo: lo, end: end, at: tot}
		tot += int(end>>k.Bits) + 1
	}
	cur, ct := w.level(0, tot)
	for e := range ws {
		r := ws[e].at
		s := k.seeds[i0+e]
		cur[r], ct[r] = s, uint64(k.Party)
		if ws[e].end >= size {
			cur[r+1], ct[r+1] = s, uint64(k.Party)
		}
	}
	for l := 0; l < d; l++ {
		sh := k.Bits - uint(l) - 1
		tot = 0
		for e := range ws {
			tot += int(ws[e].end>>sh - ws[e].lo>>sh + 1)
		}
		nxt, nt := w.level(1, tot)
		// Element e's child c is node na+c: the child (na+c)&1 of its parent cur[at+(off+c)>>1].
		p := 0
		for e := range ws {
			na, nb := ws[e].lo>>sh, ws[e].end>>sh
			off := int(na & 1)
			par := cur[ws[e].at:]
			dst := nxt[p : p+int(nb-na+1)]
			childInputs(dst, par, off)
			p += len(dst)
		}
		mmoBlocks(nxt, nxt)
		p = 0
		for e := range ws {
			na, nb := ws[e].lo>>sh, ws[e].end>>sh
			off := int(na & 1)
			pt := ct[ws[e].at:]
			wi := (i0+e)*d + l
			cw := k.scw[wi]
			tcw := uint64(k.tcw[wi])
			dst := nxt[p : p+int(nb-na+1)]
			dt := nt[p : p+len(dst)]
			correctLevel(dst, dt, pt, off, cw, tcw)
			ws[e].at = p
			p += len(dst)
		}
		w.swap()
		cur, ct = nxt, nt
	}
	return ws, cur, ct
}

func (w *Worker) linBatch(k *DPFKeys, i0 int, los, ta, tb, xs, out, pad []uint64) {
	count := len(ta)
	ws, cur, ct := w.expandBatch(k, i0, los, count)
	// Leaves: per element, the blocks of the window positions only (P = 2: position j of a leaf is
	// its block j), in window order, then the fused inner products.
	nl := 1 << k.Leaf
	lmask := nl - 1
	if pad != nil {
		w.linLeavesAVX(k, i0, ws, cur, ct, count, xs, out, pad)
		return
	}
	lb := w.leafBlocks(count)
	for e := range ws {
		seeds := cur[ws[e].at:]
		tc := ct[ws[e].at:]
		base := int(ws[e].lo) & lmask
		stop := base + count
		for u, pos, q := 0, base, 0; pos < stop; u++ {
			hi := min((u+1)*nl, stop)
			s := seeds[u]
			dst := lb[q : q+hi-pos]
			if len(dst) == 8 && pos == u*nl {
				d8 := (*[8]block)(dst)
				d8[0] = block{s.lo ^ (tweakLeaf + 0), s.hi}
				d8[1] = block{s.lo ^ (tweakLeaf + 2), s.hi}
				d8[2] = block{s.lo ^ (tweakLeaf + 4), s.hi}
				d8[3] = block{s.lo ^ (tweakLeaf + 6), s.hi}
				d8[4] = block{s.lo ^ (tweakLeaf + 8), s.hi}
				d8[5] = block{s.lo ^ (tweakLeaf + 10), s.hi}
				d8[6] = block{s.lo ^ (tweakLeaf + 12), s.hi}
				d8[7] = block{s.lo ^ (tweakLeaf + 14), s.hi}
			} else {
				tw := tweakLeaf + 2*uint64(pos-u*nl)
				for j := range dst {
					dst[j] = block{s.lo ^ tw, s.hi}
					tw += 2
				}
			}
			q += len(dst)
			pos = hi
		}
		mmoBlocks(lb, lb)
		fin := unsafe.Slice((*block)(unsafe.Pointer(&k.fin[(i0+e)*2*nl])), nl)
		ac, bc, cc := linDot(lb, fin, tc, ta, tb, base, nl)
		acc := ac + xs[e]*bc - cc
		neg := mask64(uint64(k.Party))
		out[e] = (acc ^ neg) - neg
	}
}

// childInputs writes the hash inputs of a level's children: child c is child (off+c)&1 of parent
// (off+c)>>1.
func childInputs(dst, par []block, off int) {
	for c := range dst {
		q := off + c
		ps := par[q>>1]
		dst[c] = block{ps.lo ^ uint64(q&1), ps.hi}
	}
}

// correctLevel turns the hashed children dst into seeds and control bits dt (parents' bits pt) with
// the level's correction words. Children come in pairs (left, right) of one parent, except perhaps
// the first (a right child, off = 1) and the last (a left child).
func correctLevel(dst []block, dt, pt []uint64, off int, cw block, tcw uint64) {
	dt = dt[:len(dst)]
	tl, tr := tcw&1, (tcw>>1)&1
	c, p := 0, 0
	if off == 1 && len(dst) > 0 {
		tp := pt[0]
		m := mask64(tp)
		o := dst[0]
		dst[0] = block{(o.lo &^ 1) ^ (cw.lo & m), o.hi ^ (cw.hi & m)}
		dt[0] = (o.lo & 1) ^ (tp & tr)
		c, p = 1, 1
	}
	for ; c+1 < len(dst); c, p = c+2, p+1 {
		tp := pt[p]
		m := mask64(tp)
		cl, ch := cw.lo&m, cw.hi&m
		o0, o1 := dst[c], dst[c+1]
		dst[c] = block{(o0.lo &^ 1) ^ cl, o0.hi ^ ch}
		dst[c+1] = block{(o1.lo &^ 1) ^ cl, o1.hi ^ ch}
		dt[c] = (o0.lo & 1) ^ (tp & tl)
		dt[c+1] = (o1.lo & 1) ^ (tp & tr)
	}
	if c < len(dst) {
		tp := pt[p]
		m := mask64(tp)
		o := dst[c]
		dst[c] = block{(o.lo &^ 1) ^ (cw.lo & m), o.hi ^ (cw.hi & m)}
		dt[c] = (o.lo & 1) ^ (tp & tl)
	}
}

// linDot returns A = Σ ta·e, B = Σ tb·e and C = Σ tb·er over the window's leaf blocks lb (window
// position q at lb[q], leaf offset base+q), e and er the corrected slot 0 and 1 values; the window
// share is then A + x·B − C = Σ ta·e + tb·(x·e − er) (mod 2^64).
func linDot(lb, fin []block, tc, ta, tb []uint64, base, nl int) (ac, bc, cc uint64) {
	stop := base + len(ta)
	for u, pos, q := 0, base, 0; pos < stop; u++ {
		hi := min((u+1)*nl, stop)
		src := lb[q : q+hi-pos]
		f := fin[pos-u*nl : hi-u*nl]
		xa := ta[q : q+len(src)]
		xb := tb[q : q+len(src)]
		f = f[:len(src)]
		m := mask64(tc[u])
		if len(src) == 8 {
			s8, f8, a8, b8 := (*[8]block)(src), (*[8]block)(f), (*[8]uint64)(xa), (*[8]uint64)(xb)
			// Unrolled: a whole leaf of the linear lookups' 3-level trees.
			e0, r0 := s8[0].lo+(f8[0].lo&m), s8[0].hi+(f8[0].hi&m)
			ac += a8[0] * e0
			bc += b8[0] * e0
			cc += b8[0] * r0
			e1, r1 := s8[1].lo+(f8[1].lo&m), s8[1].hi+(f8[1].hi&m)
			ac += a8[1] * e1
			bc += b8[1] * e1
			cc += b8[1] * r1
			e2, r2 := s8[2].lo+(f8[2].lo&m), s8[2].hi+(f8[2].hi&m)
			ac += a8[2] * e2
			bc += b8[2] * e2
			cc += b8[2] * r2
			e3, r3 := s8[3].lo+(f8[3].lo&m), s8[3].hi+(f8[3].hi&m)
			ac += a8[3] * e3
			bc += b8[3] * e3
			cc += b8[3] * r3
			e4, r4 := s8[4].lo+(f8[4].lo&m), s8[4].hi+(f8[4].hi&m)
			ac += a8[4] * e4
			bc += b8[4] * e4
			cc += b8[4] * r4
			e5, r5 := s8[5].lo+(f8[5].lo&m), s8[5].hi+(f8[5].hi&m)
			ac += a8[5] * e5
			bc += b8[5] * e5
			cc += b8[5] * r5
			e6, r6 := s8[6].lo+(f8[6].lo&m), s8[6].hi+(f8[6].hi&m)
			ac += a8[6] * e6
			bc += b8[6] * e6
			cc += b8[6] * r6
			e7, r7 := s8[7].lo+(f8[7].lo&m), s8[7].hi+(f8[7].hi&m)
			ac += a8[7] * e7
			bc += b8[7] * e7
			cc += b8[7] * r7
		} else {
			for j, sv := range src {
				fv := f[j]
				e := sv.lo + (fv.lo & m)
				r := sv.hi + (fv.hi & m)
				ac += xa[j] * e
				bc += xb[j] * e
				cc += xb[j] * r
			}
		}
		q += len(src)
		pos = hi
	}
	return ac, bc, cc
}

// linPad returns, for the AVX-512 inner products of 3-level leaves, the tables padded to whole leaves
// for each of the eight offsets b of a window in its first leaf: for offset b, the pair of position
// p (leaf-aligned, window position p−b) is at p·2 in the offset's p-table (ta, 0) and q-table
// (tb, −tb), zero outside the window. Offset b's tables are at pad[b·2·st:] and pad[(b·2+1)·st:].
func (w *Worker) linPad(ta, tb []uint64) []uint64 {
	count := len(ta)
	st := 2 * 8 * ((count + 14) / 8) // words per table: whole leaves of the widest offset
	if cap(w.pad) < 16*st {
		w.pad = make([]uint64, 16*st)
	}
	pad := w.pad[:16*st]
	clear(pad)
	for b := range 8 {
		pt, qt := pad[2*b*st:(2*b+1)*st], pad[(2*b+1)*st:(2*b+2)*st]
		for q := range count {
			pt[2*(b+q)] = ta[q]
			qt[2*(b+q)], qt[2*(b+q)+1] = tb[q], -tb[q]
		}
	}
	return pad
}

// linLeavesAVX finishes linBatch for 3-level leaves with the AVX-512 inner products: whole leaves
// are hashed and the padded tables zero the positions outside the window.
func (w *Worker) linLeavesAVX(k *DPFKeys, i0 int, ws []winState, cur []block, ct []uint64, count int, xs, out, pad []uint64) {
	st := len(pad) / 16
	lb := w.leafBlocks(8 * ((count + 14) / 8))
	neg := mask64(uint64(k.Party))
	for e := range ws {
		seeds := cur[ws[e].at:]
		base := int(ws[e].lo) & 7
		nlv := (base+count-1)>>3 + 1
		seeds = seeds[:nlv]
		for u, s := range seeds {
			d8 := (*[8]block)(lb[8*u : 8*u+8])
			d8[0] = block{s.lo ^ (tweakLeaf + 0), s.hi}
			d8[1] = block{s.lo ^ (tweakLeaf + 2), s.hi}
			d8[2] = block{s.lo ^ (tweakLeaf + 4), s.hi}
			d8[3] = block{s.lo ^ (tweakLeaf + 6), s.hi}
			d8[4] = block{s.lo ^ (tweakLeaf + 8), s.hi}
			d8[5] = block{s.lo ^ (tweakLeaf + 10), s.hi}
			d8[6] = block{s.lo ^ (tweakLeaf + 12), s.hi}
			d8[7] = block{s.lo ^ (tweakLeaf + 14), s.hi}
		}
		mmoBlocks(lb[:8*nlv], lb[:8*nlv])
		fin := (*block)(unsafe.Pointer(&k.fin[(i0+e)*16]))
		tc := ct[ws[e].at : ws[e].at+nlv]
		acc := linDotAVX(&lb[0], nlv, fin, &tc[0], &pad[2*base*st], &pad[(2*base+1)*st], xs[e])
		out[e] = (acc ^ neg) - neg
	}
}
