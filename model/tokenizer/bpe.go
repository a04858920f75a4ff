package tokenizer

// pairFunc reports whether the adjacent symbols (a, b) can merge, the priority
// of that merge (lower merges first) and the id of the merged symbol.
type pairFunc func(a, b int32) (prio float64, merged int32, ok bool)

// candidate is a possible merge of the symbol at pos with its right
// neighbour. The ids are recorded so stale candidates can be recognised after
// either symbol has changed.
type candidate struct {
	prio    float64
	pos     int32
	leftID  int32
	rightID int32
	merged  int32
}

// candidateHeap is a binary min-heap of candidates ordered by (prio, pos),
// typed to avoid container/heap's interface boxing on every push.
type candidateHeap []candidate

func (h candidateHeap) less(i, j int) bool {
	if h[i].prio != h[j].prio {
		return h[i].prio < h[j].prio
	}
	return h[i].pos < h[j].pos
}

func (h *candidateHeap) push(c candidate) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *candidateHeap) pop() candidate {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// mergeSymbols repeatedly merges the adjacent pair with the lowest priority
// (ties: leftmost) until no pair can merge, and returns the final ids.
//
// This is the merge loop of BPE (Sennrich et al. 2016) as Hugging Face
// tokenizers runs it (lowest merge rank first) and of llama2.c (highest
// vocabulary score first, first occurrence on ties): at every step it
// performs the same merge a full rescan would, but finds it in O(log n)
// through a heap of candidates over a linked list of live symbols.
func mergeSymbols(ids []int32, pair pairFunc) []int32 {
	n := len(ids)
	if n < 2 {
		return ids
	}
	next := make([]int32, n) // index of the next live symbol, or -1
	prev := make([]int32, n) // index of the previous live symbol, or -1
	sym := make([]int32, n)  // current id of each live symbol; -1 when dead
	copy(sym, ids)
	for i := range n {
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
	}
	next[n-1] = -1

	h := make(candidateHeap, 0, n)
	push := func(l, r int32) {
		if p, m, ok := pair(sym[l], sym[r]); ok {
			h.push(candidate{prio: p, pos: l, leftID: sym[l], rightID: sym[r], merged: m})
		}
	}
	for i := range n - 1 {
		push(int32(i), int32(i+1))
	}
	for len(h) > 0 {
		c := h.pop()
		l := c.pos
		r := next[l]
		if sym[l] != c.leftID || r < 0 || sym[r] != c.rightID {
			continue // stale: one of the symbols merged since this was queued
		}
		sym[l] = c.merged
		sym[r] = -1
		nr := next[r]
		next[l] = nr
		if nr >= 0 {
			prev[nr] = l
		}
		if pl := prev[l]; pl >= 0 {
			push(pl, l)
		}
		if nr >= 0 {
			push(l, nr)
		}
	}
	out := ids[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, sym[i])
	}
	return out
}
