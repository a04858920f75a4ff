package hss

import (
	"fmt"
	"io"
	"math/bits"
)

// maxPairs returns, per level of the max tree over rows of cols entries, the number of pairs.
func maxPairs(cols int) []int {
	var out []int
	for c := cols; c > 1; c -= c / 2 {
		out = append(out, c/2)
	}
	return out
}

// maxLevels returns, per level of the ragged max trees over rows of lens[r] ≥ 1 entries, the number
// of pairs of all rows together: at level ℓ a row of l entries holds c = ⌈l/2^ℓ⌉ of them and
// contributes ⌊c/2⌋ pairs (an odd last entry is carried to the next level). There are
// ⌈log2 max(lens)⌉ levels; a row of l entries takes part in the first maxDepth(l).
func maxLevels(lens []int) []int {
	var out []int
	for _, l := range lens {
		for lv := range maxDepth(l) {
			c := (l-1)>>lv + 1 // ⌈l/2^lv⌉
			if lv == len(out) {
				out = append(out, 0)
			}
			out[lv] += c / 2
		}
	}
	return out
}

// maxDepth is the depth ⌈log2 l⌉ of the max tree over l ≥ 1 entries: the number of comparisons the
// winner of the row goes through at most.
func maxDepth(l int) int { return bits.Len(uint(l - 1)) }

// UniformLens is rows row lengths of cols each (the lens of the row gates for a rows×cols matrix).
func UniformLens(rows, cols int) []int {
	lens := make([]int, rows)
	for i := range lens {
		lens[i] = cols
	}
	return lens
}

func checkMaxLens(op string, lens []int) (int, error) {
	n, err := sumLens(op, lens)
	if err != nil {
		return 0, err
	}
	for _, l := range lens {
		if l < 1 {
			return 0, fmt.Errorf("hss: %s: row of %d entries", op, l)
		}
	}
	return n, nil
}

// checkMaxRows checks the rows of the online row maxima, lens entries each, against their elements
// x and returns the number of entries.
func checkMaxRows(x []uint64, lens []int) (int, error) {
	n, err := checkMaxLens("max", lens)
	if err == nil && len(x) != n {
		err = fmt.Errorf("hss: max: %d elements for rows of %d in all", len(x), n)
	}
	return n, err
}

func init() { registerSeq("max", "relu") }

// GenMax generates material for Max over rows×cols elements of width bits.
func GenMax(rng io.Reader, rows, cols int, bits uint) (k0, k1 Key, err error) {
	if _, err := checkShape("gen max", rows, cols); err != nil {
		return nil, nil, err
	}
	if err := checkCmpBits(bits); err != nil {
		return nil, nil, fmt.Errorf("hss: gen max: %w", err)
	}
	a, b, err := genMaxRows(rng, UniformLens(rows, cols), reluSpec(bits, true))
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}

// genMaxRows generates material for maxRows on rows of lens entries with comparison spec: one
// "relu" lookup key per level, over the pairs of all rows.
func genMaxRows(rng io.Reader, lens []int, spec *lutSpec) (k0, k1 *seqKey, err error) {
	if _, err := checkMaxLens("gen max", lens); err != nil {
		return nil, nil, err
	}
	var p0, p1 []MarshalKey
	for _, pairs := range maxLevels(lens) {
		a, b, err := genLUT(rng, "relu", pairs, spec)
		if err != nil {
			return nil, nil, wrapGate("gen max", err)
		}
		p0, p1 = append(p0, a), append(p1, b)
	}
	return newSeqKey("max", len(lens), p0...), newSeqKey("max", len(lens), p1...), nil
}

// Max returns shares of the maximum of every row of x [rows × cols], for signed entries with
// |x| < 2^(bits−2) (so that differences fit the comparison width bits).
//
// Construction: a tournament tree, max(a, b) = b + ReLU(a − b), with the one-round exact ReLU of
// this package (a DCF by the MSB rule of Boyle et al., Eurocrypt 2021, whose payload also yields the
// product with the difference); the tree structure is that of SIGMA's softmax (Gupta et al., PETS
// 2024) and CrypTen. Rounds ⌈log2 cols⌉ (depth of the tree: 6 for cols ≤ 64, 7 for 128; this is the
// only gate whose rounds grow with its shape). Online (both parties): 16 bytes per comparison,
// cols−1 comparisons per row, i.e. ≈ 16 bytes per input element. Dealer: two DCF keys on bits−1 bits
// with payload 2 per comparison (≈ 1.5 KB at bits 21). Exact.
func (p *Party) Max(x []uint64, rows, cols int, bits uint) ([]uint64, error) {
	n, err := checkShape("max", rows, cols)
	if err != nil {
		return nil, err
	}
	if len(x) != n {
		return nil, fmt.Errorf("hss: max: %d elements for shape %dx%d", len(x), rows, cols)
	}
	if err := checkCmpBits(bits); err != nil {
		return nil, fmt.Errorf("hss: max: %w", err)
	}
	return p.maxRows(x, UniformLens(rows, cols), reluSpec(bits, true))
}

// maxRows is Max over ragged rows: x holds row r's lens[r] ≥ 1 entries after those of the rows
// before it. Each level compares the pairs (2t, 2t+1) of every row that still has c > 1 entries,
// carrying an odd last one, with one lookup gate (spec, a sign term: max(a, b) = b + s·(a − b)) over
// all rows' pairs: ⌈log2 max(lens)⌉ rounds. With the exact ReLU spec the result is the maximum; with
// a coarse one (maxSpec) it is the entry of the row that its comparisons picked (see SoftmaxHeads).
func (p *Party) maxRows(x []uint64, lens []int, spec *lutSpec) ([]uint64, error) {
	if _, err := checkMaxRows(x, lens); err != nil {
		return nil, err
	}
	q, err := p.sub("max", len(lens))
	if err != nil {
		return nil, err
	}
	cur := append([]uint64(nil), x...)
	cnt := append([]int(nil), lens...) // entries of every row at this level
	// A coarse comparison (k > 0) runs on the centred d' = a − b − 2^(k−1) (see maxSpec); party 0
	// subtracts the public constant.
	half := uint64(1) << spec.parts[0].k >> 1
	center := uint64(0)
	if p.ID == 0 {
		center = half
	}
	for _, pairs := range maxLevels(lens) {
		d := make([]uint64, 0, pairs)
		off := 0
		for _, c := range cnt {
			for t := range c / 2 {
				d = append(d, cur[off+2*t]-cur[off+2*t+1]-center)
			}
			off += c
		}
		rl, err := q.evalLUT("relu", spec, d)
		if err != nil {
			return nil, wrapGate("max", err)
		}
		if half != 0 { // s·(a − b) = s·d' + 2^(k−1)·s
			for i := range rl.xs {
				rl.xs[i] += half * rl.s[i]
			}
		}
		// Compact in place: row r's new entries start where its old ones did in the new layout, so
		// writes never overtake reads (the new offset is at most the old one).
		off, noff, i := 0, 0, 0
		for r, c := range cnt {
			for t := range c / 2 {
				cur[noff+t] = cur[off+2*t+1] + rl.xs[i]
				i++
			}
			if c%2 == 1 {
				cur[noff+c/2] = cur[off+c-1]
			}
			nc := c - c/2
			off, noff, cnt[r] = off+c, noff+nc, nc
		}
		cur = cur[:noff]
	}
	if err := finish("max", q); err != nil {
		return nil, err
	}
	return cur, nil
}

func costMax(rows, cols int, bits uint) Cost {
	pairs := maxPairs(cols)
	for i := range pairs {
		pairs[i] *= rows
	}
	return costMaxLevels(pairs, reluSpec(bits, true))
}

// costMaxLevels is the cost of maxRows (and genMaxRows's keys) with the given pairs per level
// (maxLevels) and comparison spec: one lookup gate per level.
func costMaxLevels(pairs []int, spec *lutSpec) Cost {
	return SumStages(maxStages(pairs, spec))
}

// maxStages is costMaxLevels by stage: one stage per level of the tree.
func maxStages(pairs []int, spec *lutSpec) []Stage {
	parts := make([]part, 0, len(pairs))
	for _, n := range pairs {
		parts = append(parts, part{kind: "relu", c: costLUT(n, spec)})
	}
	return seqStages("relu", parts...)
}

// CostMax is the cost of Max over rows×cols elements of width bits.
func CostMax(rows, cols int, bits uint) (Cost, error) {
	if _, err := checkShape("cost max", rows, cols); err != nil {
		return Cost{}, err
	}
	if err := checkCmpBits(bits); err != nil {
		return Cost{}, fmt.Errorf("hss: cost max: %w", err)
	}
	return costMax(rows, cols, bits), nil
}
