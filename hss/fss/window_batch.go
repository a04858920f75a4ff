package fss

// winBatch is the number of elements whose window trees EvalWindowPolyBatch expands together.
const winBatch = 128

// winState is the per-element bookkeeping of a batched window expansion.
type winState struct {
	lo, end uint64 // window in unwrapped coordinates
	at      int    // offset of the element's nodes in the current level
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
	d := k.levels()
	ws := w.winStates(len(los))
	// Level Top: the nodes each window meets (in both copies of the domain when it wraps).
	tot := 0
	st := k.Bits - k.Top
	for e, lo := range los {
		lo &= size - 1
		end := lo + uint64(count) - 1
		ws[e] = winState{lo: lo, end: end, at: tot}
		tot += int(end>>st-lo>>st) + 1
	}
	cur, ct := w.level(0, tot)
	for e := range ws {
		r, na := ws[e].at, ws[e].lo>>st
		for j := range int(ws[e].end>>st-na) + 1 {
			cur[r+j], ct[r+j] = k.rootInput(i0+e, na+uint64(j))
		}
	}
	k.hashRoots(cur, ct)
	// Nodes of the first level below Top.
	tot = 0
	if d > 0 {
		sh := st - 1
		for e := range ws {
			tot += int(ws[e].end>>sh - ws[e].lo>>sh + 1)
		}
	}
	for l := 0; l < d; l++ {
		sh := st - uint(l) - 1
		nxt, nt := w.level(1, tot)
		// Element e's child c is node na+c: the child (na+c)&1 of its parent cur[at+(off+c)>>1].
		p := 0
		for e := range ws {
			st := &ws[e]
			na, nb := st.lo>>sh, st.end>>sh
			n := int(nb - na + 1)
			childInputs(nxt[p:p+n], cur[st.at:], int(na&1))
			p += n
		}
		mmoBlocks(nxt[:p], nxt[:p])
		p, tot = 0, 0
		scw, tcws := k.scw[i0*d+l:], k.tcw[i0*d+l:]
		for e := range ws {
			st := &ws[e]
			na, nb := st.lo>>sh, st.end>>sh
			n := int(nb - na + 1)
			correctLevel(nxt[p:p+n], nt[p:p+n], ct[st.at:], int(na&1), scw[e*d], uint64(tcws[e*d]))
			st.at = p
			p += n
			if sh > 0 {
				tot += int(st.end>>(sh-1) - st.lo>>(sh-1) + 1)
			}
		}
		w.swap()
		cur, ct = nxt, nt
	}
	return ws, cur, ct
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
