package fss

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
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
// A batch may also carry its first Top levels expanded (Top > 0): each key then holds the 2^Top
// seeds and control bits of its level-Top nodes instead of the root and the first Top correction
// words (what the party would compute from those, so it learns nothing more), which saves every
// window evaluation the walk through the top of the tree.
//
// Size per key: 16·2^Top + ⌈2^Top/8⌉ (Top > 0; a Seeded batch has 16 bytes for all its keys instead)
// + 16·L + ⌈2·L/8⌉ + 8·2^Leaf·P bytes, L = Bits−Leaf−Top.
type DPFKeys struct {
	Party int
	Bits  uint
	P     int
	N     int
	Leaf  uint // early-terminated levels, 0..min(Bits, MaxLeaf)
	Top   uint // precomputed top levels, 0..min(Bits−Leaf, MaxTop)
	// Seeded (Top > 0; GenDPFTopSeeded, GenDPFTopSeededParty): the level-Top nodes are not stored
	// but expanded from one 16-byte seed for the whole batch (topInput).
	Seeded bool
	// Width, when in [1, 63], is the width the batch's outputs are correct at (SetWidth): its final
	// correction words are reduced mod 2^Width and stored packed, for a consumer that reads the
	// outputs mod 2^Width only. 0: 64.
	Width uint

	seeds []block // N·2^Top level-Top seeds (none when Seeded)
	tops  []uint8 // N·2^Top level-Top control bits (Top > 0; the root's is the party)
	scw   []block // N·L seed corrections of the levels below Top
	tcw   []uint8
	fin   []uint64

	topSeed block        // Seeded: the seed, an AES-128 key
	topRK   *roundKeys   // its expansion, for the batched hash
	topC    cipher.Block // and crypto/aes, for the portable one
}

// MaxTop is the largest number of precomputed top levels a DPF batch may have.
const MaxTop = 6

func (k *DPFKeys) depth() int    { return int(k.Bits - k.Leaf) }
func (k *DPFKeys) levels() int   { return int(k.Bits - k.Leaf - k.Top) }
func (k *DPFKeys) leafVals() int { return k.P << k.Leaf }

// root returns the seed and control bit of key i's level-Top node j.
func (k *DPFKeys) root(i int, j uint64) (block, uint64) {
	if k.Top == 0 {
		return k.seeds[i], uint64(k.Party)
	}
	q := i<<k.Top + int(j&(1<<k.Top-1))
	if k.Seeded {
		b := [1]block{topInput(q)}
		mmoWith(k.topRK, k.topC, b[:], b[:])
		return block{b[0].lo &^ 1, b[0].hi}, b[0].lo & 1
	}
	return k.seeds[q], uint64(k.tops[q])
}

// rootInput is root for the batched level-Top walks: for a Seeded batch it returns the hash input of
// the node (hashRoots then turns a slice of them into nodes), otherwise the node itself.
func (k *DPFKeys) rootInput(i int, j uint64) (block, uint64) {
	if k.Seeded {
		return topInput(i<<k.Top + int(j&(1<<k.Top-1))), 0
	}
	return k.root(i, j)
}

// hashRoots finishes the level-Top nodes that rootInput wrote into cur (a Seeded batch: one batched
// hash; otherwise nothing to do).
func (k *DPFKeys) hashRoots(cur []block, ct []uint64) {
	if !k.Seeded || len(cur) == 0 {
		return
	}
	mmoWith(k.topRK, k.topC, cur, cur)
	ct = ct[:len(cur)]
	for q, b := range cur {
		cur[q], ct[q] = block{b.lo &^ 1, b.hi}, b.lo&1
	}
}

// topHi is the high word of the blocks a Seeded batch hashes into its level-Top nodes.
const topHi = 0x706f742d73737368 // "hsss-top"

// topInput is the block a Seeded batch hashes into node q = i·2^Top + j (key i, node j): the node is
// AES_seed(x) ⊕ x for x = (q, topHi), its seed with the low bit cleared and its control bit the low
// bit. A block cipher under a secret uniform key on distinct inputs: pseudorandom nodes.
func topInput(q int) block { return block{uint64(q), topHi} }

// setTopSeed makes k a Seeded batch with seed sd.
func (k *DPFKeys) setTopSeed(sd block) {
	var key [16]byte
	binary.LittleEndian.PutUint64(key[0:8], sd.lo)
	binary.LittleEndian.PutUint64(key[8:16], sd.hi)
	rk := expandKey(key)
	c, err := aes.NewCipher(key[:])
	if err != nil {
		panic("fss: " + err.Error()) // impossible: a 16-byte key is a valid AES-128 key
	}
	k.Seeded, k.topSeed, k.topRK, k.topC, k.seeds, k.tops = true, sd, &rk, c, nil, nil
}

func newDPFKeys(party int, bits, leaf uint, p, n int) *DPFKeys {
	return newDPFKeysTop(party, bits, leaf, 0, p, n)
}

func newDPFKeysTop(party int, bits, leaf, top uint, p, n int) *DPFKeys {
	k := newDPFKeysLower(party, bits, leaf, top, p, n)
	k.seeds = make([]block, n<<top)
	if top > 0 {
		k.tops = make([]uint8, n<<top)
	}
	return k
}

// newDPFKeysLower allocates a batch's correction words only (a Seeded batch stores no nodes).
func newDPFKeysLower(party int, bits, leaf, top uint, p, n int) *DPFKeys {
	d := int(bits - leaf - top)
	return &DPFKeys{Party: party, Bits: bits, P: p, N: n, Leaf: leaf, Top: top,
		scw: make([]block, n*d), tcw: make([]uint8, n*d), fin: make([]uint64, n*(p<<leaf))}
}

// Size returns the serialised size in bytes of the batch (header excluded; a narrow batch's width
// byte included). Only the shape fields (N, Bits, P, Leaf, Top, Seeded, Width) are read.
func (k *DPFKeys) Size() int {
	if k == nil {
		return 0
	}
	nb := k.N * k.levels()
	s := 16*nb + (2*nb+7)/8 + finBytes(k.N*k.leafVals(), k.Width)
	if k.narrow() {
		s++ // the width byte
	}
	switch {
	case k.Seeded:
		s += 16
	case k.Top > 0:
		s += 16*(k.N<<k.Top) + (k.N<<k.Top+7)/8
	default:
		s += 16 * k.N
	}
	return s
}

// narrow reports whether the batch's final correction words are stored at Width bits.
func (k *DPFKeys) narrow() bool { return k.Width > 0 && k.Width < 64 }

// finBytes is the size of n final correction words at width w (0 or ≥ 64: 8 bytes each).
func finBytes(n int, w uint) int {
	if w == 0 || w >= 64 {
		return 8 * n
	}
	return (n*int(w) + 7) / 8
}

// SetWidth makes the batch's outputs correct mod 2^w only (w in [1, 63]; 0 or 64: all 64 bits): its
// final correction words are reduced mod 2^w, so both parties' outputs still differ by the payload
// mod 2^w, and they are stored packed at w bits. Both parties' batches must get the same width.
func (k *DPFKeys) SetWidth(w uint) error {
	nw, err := narrowTo(k.Width, w, k.fin)
	if err != nil {
		return fmt.Errorf("fss: dpf: %w", err)
	}
	k.Width = nw
	return nil
}

// narrowTo reduces the words mod 2^w for a batch now at width cur (0: 64) and returns the new width
// (0 for 64). A batch narrowed once cannot widen again.
func narrowTo(cur, w uint, words ...[]uint64) (uint, error) {
	if w > 64 {
		return 0, fmt.Errorf("width %d above 64", w)
	}
	narrow := cur > 0 && cur < 64
	if narrow && (w == 0 || w == 64 || w > cur) {
		return 0, fmt.Errorf("a batch narrowed to %d bits cannot widen to %d", cur, w)
	}
	if w == 0 || w == 64 {
		return 0, nil
	}
	for _, ws := range words {
		for i := range ws {
			ws[i] &= 1<<w - 1
		}
	}
	return w, nil
}

// GenDPFTop is GenDPFLeaf with the first top levels of every key expanded (top ≤ min(bits−leaf,
// MaxTop)); it reads rng exactly as GenDPFLeaf does, and its keys evaluate to the same shares.
func GenDPFTop(rng io.Reader, bits, leaf, top uint, p int, alphas, betas []uint64) (k0, k1 *DPFKeys, err error) {
	if top > MaxTop || leaf > bits || top > bits-leaf {
		return nil, nil, fmt.Errorf("fss: dpf gen: %d top levels for width %d and %d early-terminated levels", top, bits, leaf)
	}
	k0, k1, err = GenDPFLeaf(rng, bits, leaf, p, alphas, betas)
	if err != nil || top == 0 {
		return k0, k1, err
	}
	return k0.withTop(top), k1.withTop(top), nil
}

// GenDPFTopSeeded is GenDPFTop (1 ≤ top ≤ min(bits−leaf, MaxTop)) with party 0's batch seed-
// compressed: its level-Top nodes are not derived from roots but drawn from one 16-byte seed, which
// is all it holds besides the correction words below Top (16 bytes instead of 16·2^Top + 2^Top/8 per
// key). Party 1's nodes equal party 0's except the one on the path to α_i (node α_i >> (bits−top)),
// whose seed is fresh and whose control bit is the complement of party 0's: the invariant of the
// tree of Boyle, Gilboa and Ishai (CCS 2016) at every level (off the path both keys' nodes agree, on
// it their seeds are independent and their control bits differ), from which the levels below Top are
// generated as GenDPFLeaf generates them. The keys evaluate to shares of the same functions. Each
// party's view is, as with GenDPFTop, pseudorandom level-Top nodes (party 0's from its seed; party
// 1's equal those off the path and fresh on it) and correction words masked by the other party's
// unseen on-path seed. rng is read for the seed, then one 16-byte on-path seed per key.
func GenDPFTopSeeded(rng io.Reader, bits, leaf, top uint, p int, alphas, betas []uint64) (k0, k1 *DPFKeys, err error) {
	if err := checkGenDPF(bits, leaf, p, alphas, betas); err != nil {
		return nil, nil, err
	}
	if top < 1 || top > MaxTop || top > bits-leaf {
		return nil, nil, fmt.Errorf("fss: dpf gen: %d seeded top levels for width %d and %d early-terminated levels", top, bits, leaf)
	}
	n := len(alphas)
	sd, err := readBlock(rng)
	if err != nil {
		return nil, nil, fmt.Errorf("fss: dpf gen: %w", err)
	}
	on, err := readSeedBlocks(rng, n) // key i's on-path seed of party 1
	if err != nil {
		return nil, nil, fmt.Errorf("fss: dpf gen: %w", err)
	}
	k0, k1 = newDPFKeysLower(0, bits, leaf, top, p, n), newDPFKeysTop(1, bits, leaf, top, p, n)
	k0.setTopSeed(sd)
	if n == 0 {
		return k0, k1, nil
	}
	nbk := (k0.leafVals() + 1) / 2
	nt := 1 << top
	ParallelFor(n, func(_ *Worker, lo, hi int) {
		ck := min(hi-lo, genChunk)
		s, t := make([]block, 2*ck), make([]uint64, 2*ck)
		blk := make([]block, 2*ck*max(2, nbk))
		nodes := make([]block, ck<<top)
		for a := lo; a < hi; a += ck {
			m := min(ck, hi-a)
			nd := nodes[:m<<top]
			for q := range nd {
				nd[q] = topInput(a<<top + q)
			}
			mmoWith(k0.topRK, k0.topC, nd, nd)
			for g := range m {
				i := a + g
				at := int(alphas[i] >> (bits - top))
				for j := range nt {
					o := nd[g<<top+j]
					k1.seeds[i<<top+j], k1.tops[i<<top+j] = block{o.lo &^ 1, o.hi}, uint8(o.lo&1)
				}
				o := nd[g<<top+at]
				s[2*g], t[2*g] = block{o.lo &^ 1, o.hi}, o.lo&1
				s[2*g+1], t[2*g+1] = on[i], 1^(o.lo&1)
				k1.seeds[i<<top+at], k1.tops[i<<top+at] = s[2*g+1], uint8(t[2*g+1])
			}
			genLevels(k0, k1, a, s[:2*m], t[:2*m], blk, alphas, betas)
		}
	})
	return k0, k1, nil
}

// GenDPFTopSeededParty is GenDPFTopSeeded with the seed-compressed batch given to party seeded (0 or
// 1). For party 1 the batches are generated for −β with party 0's seeded and then trade places: the
// construction is symmetric but for the sign of party 1's outputs (f = y_0 − y_1 before party 1's
// negation), so the traded batches share β. A dealer that gives party 1 every other correction can
// give party 0 the explicit level-Top nodes, balancing the two parties' material.
func GenDPFTopSeededParty(rng io.Reader, seeded int, bits, leaf, top uint, p int, alphas, betas []uint64) (k0, k1 *DPFKeys, err error) {
	switch seeded {
	case 0:
		return GenDPFTopSeeded(rng, bits, leaf, top, p, alphas, betas)
	case 1:
	default:
		return nil, nil, fmt.Errorf("fss: dpf gen: seeded party %d", seeded)
	}
	neg := make([]uint64, len(betas))
	for i, b := range betas {
		neg[i] = -b
	}
	a, b, err := GenDPFTopSeeded(rng, bits, leaf, top, p, alphas, neg)
	if err != nil {
		return nil, nil, err
	}
	a.Party, b.Party = 1, 0
	return b, a, nil
}

// withTop returns the batch with its first top levels expanded (k has Top = 0).
func (k *DPFKeys) withTop(top uint) *DPFKeys {
	d, nt := k.depth(), k.depth()-int(top)
	out := &DPFKeys{Party: k.Party, Bits: k.Bits, P: k.P, N: k.N, Leaf: k.Leaf, Top: top,
		seeds: make([]block, k.N<<top), tops: make([]uint8, k.N<<top), scw: make([]block, k.N*nt),
		tcw: make([]uint8, k.N*nt), fin: k.fin} // k is discarded: its final words are shared
	ParallelFor(k.N, func(_ *Worker, lo, hi int) {
		cur, ct := make([]block, 1<<top), make([]uint64, 1<<top)
		nxt, nx := make([]block, 1<<top), make([]uint64, 1<<top)
		for i := lo; i < hi; i++ {
			cur[0], ct[0] = k.seeds[i], uint64(k.Party)
			for l := range int(top) {
				n := 1 << l
				for j := range n {
					nxt[2*j] = block{cur[j].lo ^ tweakL, cur[j].hi}
					nxt[2*j+1] = block{cur[j].lo ^ tweakR, cur[j].hi}
				}
				mmoBlocks(nxt[:2*n], nxt[:2*n])
				cw, tcw := k.scw[i*d+l], uint64(k.tcw[i*d+l])
				for c, o := range nxt[:2*n] {
					tp := ct[c>>1]
					m := mask64(tp)
					nxt[c] = block{(o.lo &^ 1) ^ (cw.lo & m), o.hi ^ (cw.hi & m)}
					nx[c] = (o.lo & 1) ^ (tp & (tcw >> uint(c&1)) & 1)
				}
				cur, nxt, ct, nx = nxt, cur, nx, ct
			}
			for j := range 1 << top {
				out.seeds[i<<top+j], out.tops[i<<top+j] = cur[j], uint8(ct[j])
			}
			copy(out.scw[i*nt:(i+1)*nt], k.scw[i*d+int(top):(i+1)*d])
			copy(out.tcw[i*nt:(i+1)*nt], k.tcw[i*d+int(top):(i+1)*d])
		}
	})
	return out
}

// DPFKeySize is the per-key size in bytes of a DPF with the given input width and payload length
// (no early termination).
func DPFKeySize(bits uint, p int) int { return DPFLeafKeySize(bits, 0, p) }

// DPFLeafKeySize is the per-key size in bytes of a DPF with leaf early-terminated levels (full-width
// final words; see Size for a narrow batch).
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
// blocks per key for P = 1 instead of about 3·count. Like GenDCF it generates genChunk keys in
// lockstep with one batched hash per level, reading rng as a one-key-at-a-time generation does.
func GenDPFLeaf(rng io.Reader, bits, leaf uint, p int, alphas, betas []uint64) (k0, k1 *DPFKeys, err error) {
	if err := checkGenDPF(bits, leaf, p, alphas, betas); err != nil {
		return nil, nil, err
	}
	n := len(alphas)
	k0, k1 = newDPFKeys(0, bits, leaf, p, n), newDPFKeys(1, bits, leaf, p, n)
	if n == 0 {
		return k0, k1, nil
	}
	nbk := (k0.leafVals() + 1) / 2
	seeds, err := readSeeds(rng, n)
	if err != nil {
		return nil, nil, fmt.Errorf("fss: dpf gen: %w", err)
	}
	// The keys are independent once their seeds are drawn: generate ranges of them in parallel.
	ParallelFor(n, func(_ *Worker, lo, hi int) {
		ck := min(hi-lo, genChunk)
		s, t := make([]block, 2*ck), make([]uint64, 2*ck)
		blk := make([]block, 2*ck*max(2, nbk))
		for a := lo; a < hi; a += ck {
			m := min(ck, hi-a)
			copy(s[:2*m], seeds[2*a:2*(a+m)])
			copySeeds(k0.seeds[a:a+m], k1.seeds[a:a+m], s[:2*m], t[:2*m])
			genLevels(k0, k1, a, s[:2*m], t[:2*m], blk, alphas, betas)
		}
	})
	return k0, k1, nil
}

// checkGenDPF checks the arguments of the DPF generators.
func checkGenDPF(bits, leaf uint, p int, alphas, betas []uint64) error {
	if err := checkShape(bits, p); err != nil {
		return fmt.Errorf("fss: dpf gen: %w", err)
	}
	if leaf > bits || leaf > MaxLeaf {
		return fmt.Errorf("fss: dpf gen: %d early-terminated levels for width %d", leaf, bits)
	}
	if len(betas) != len(alphas)*p {
		return fmt.Errorf("fss: dpf gen: %d payload values for %d keys of payload %d", len(betas), len(alphas), p)
	}
	for _, alpha := range alphas {
		if bits < 64 && alpha>>bits != 0 {
			return errors.New("fss: dpf gen: point does not fit the input width")
		}
	}
	return nil
}

// genLevels finishes the generation of keys a, a+1, …, a+len(s)/2−1 of the batches k0 and k1 from
// level Top down: s and t hold the keys' on-path nodes at level Top (party b's seed and control bit of
// key a+g at 2g+b; at Top 0 the roots), and genLevels writes the correction words of the levels below
// Top and the final words, hashing the nodes of all the keys of a level in one batch (blk: scratch
// of at least 2·len(s)·max(2, ⌈2^Leaf·P/2⌉) blocks).
func genLevels(k0, k1 *DPFKeys, a int, s []block, t []uint64, blk []block, alphas, betas []uint64) {
	m := len(s) / 2
	bits, leaf, p := k0.Bits, k0.Leaf, k0.P
	from, d, nl := k0.Top, uint(k0.depth()), k0.levels()
	v := k0.leafVals()
	nbk := (v + 1) / 2
	for l := from; l < d; l++ {
		b := blk[:4*m]
		for q, sq := range s[:2*m] {
			b[2*q] = block{sq.lo ^ tweakL, sq.hi}
			b[2*q+1] = block{sq.lo ^ tweakR, sq.hi}
		}
		mmoBlocks(b, b)
		for g := range m {
			i := a + g
			ab := bit(alphas[i], bits, l)
			keep, lose := ab, 1-ab
			c := b[4*g : 4*g+4] // party 0 left, right; party 1 left, right
			sCW, tcw := descend(s, t, g, ab, c[keep], c[lose], c[2+keep], c[2+lose])
			w := i*nl + int(l-from)
			k0.scw[w], k1.scw[w], k0.tcw[w], k1.tcw[w] = sCW, sCW, tcw, tcw
		}
	}
	lb := leafHashes(blk, s[:2*m], nbk)
	for g := range m {
		i := a + g
		c0, c1, neg := leafShares(lb, t, g, nbk)
		low := int(alphas[i] & maskBits(leaf))
		fin := k0.fin[i*v : (i+1)*v]
		beta := betas[i*p : (i+1)*p]
		for j := range fin {
			x := c1[j] - c0[j]
			if j/p == low {
				x += beta[j%p]
			}
			fin[j] = (x ^ neg) - neg
		}
		copy(k1.fin[i*v:(i+1)*v], fin)
	}
}

// EvalPoint writes the party's share of f_i(x) into out (len P).
func (w *Worker) EvalPoint(k *DPFKeys, i int, x uint64, out []uint64) {
	x &= maskBits(k.Bits)
	d := k.levels()
	s, t := k.root(i, x>>(k.Bits-k.Top))
	for l := 0; l < d; l++ {
		c := bit(x, k.Bits, k.Top+uint(l))
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
	q := 0 // output position
	for u := range ct {
		// The window takes offsets [o1, o2) of this leaf.
		o1, o2 := leafSpan(lo, end, k.Leaf, u)
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

// leafSpan returns the offsets [o1, o2) that the window [lo, end] (unwrapped) takes of its u-th leaf
// of 2^leaf inputs, the leaf covering [leafLo, leafLo+2^leaf).
func leafSpan(lo, end uint64, leaf uint, u int) (o1, o2 uint64) {
	lmask := maskBits(leaf)
	leafLo := (lo>>leaf + uint64(u)) << leaf
	if u == 0 {
		o1 = lo & lmask
	}
	return o1, min(lmask+1, end-leafLo+1)
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
	var acc uint64
	if k.Leaf > 0 {
		// Leaf u's 2^Leaf values are at vals[u·2^Leaf:], so the window's values are contiguous from
		// base: one pass per leaf, one product per position.
		nl := 1 << k.Leaf
		base := int(lo & lmask)
		pos, stop, q := base, base+count, 0
		for u, t := range ct {
			hi := min((u+1)*nl, stop)
			src := vals[pos:hi]
			f := fin[pos-u*nl : hi-u*nl]
			tb := tab[q : q+len(src)]
			f = f[:len(src)]
			m := mask64(t)
			var a uint64
			if len(src) == 16 { // a whole leaf of the lookups' 4-level trees: no bounds checks
				s16, f16, t16 := (*[16]uint64)(src), (*[16]uint64)(f), (*[16]uint64)(tb)
				var a1 uint64
				for j := 0; j < 16; j += 2 {
					a += t16[j] * (s16[j] + (f16[j] & m))
					a1 += t16[j+1] * (s16[j+1] + (f16[j+1] & m))
				}
				a += a1
			} else {
				for j, x := range src {
					a += tb[j] * (x + (f[j] & m))
				}
			}
			acc += a
			q += len(src)
			pos = hi
		}
	} else {
		q := 0
		for u := range ct {
			o1, o2 := leafSpan(lo, end, k.Leaf, u)
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
	d := k.levels()
	// Level Top: its nodes the window meets, in both copies of the domain when it wraps.
	na0 := lo >> (k.Bits - k.Top)
	n := int(end>>(k.Bits-k.Top)-na0) + 1
	cur, ct := w.level(0, n)
	for j := range cur {
		cur[j], ct[j] = k.rootInput(i, na0+uint64(j))
	}
	k.hashRoots(cur, ct)
	for l := 0; l < d; l++ {
		sh := k.Bits - k.Top - uint(l) - 1
		na, nb := lo>>sh, end>>sh
		nn := int(nb - na + 1)
		nxt, nt := w.level(1, nn)
		// Child c of the level is node na+c: the child (na+c)&1 (tweakL + side) of cur[(off+c)>>1].
		off := int(na & 1)
		for c := range nxt {
			q := off + c
			ps := cur[q>>1]
			nxt[c] = block{ps.lo ^ uint64(q&1), ps.hi}
		}
		mmoBlocks(nxt, nxt)
		wi := i*d + l
		cw := k.scw[wi]
		tcw := uint64(k.tcw[wi])
		nt = nt[:len(nxt)]
		for c, o := range nxt {
			q := off + c
			tp := ct[q>>1]
			m := mask64(tp)
			t := o.lo & 1
			nxt[c] = block{(o.lo &^ 1) ^ (cw.lo & m), o.hi ^ (cw.hi & m)}
			nt[c] = t ^ (tp & (tcw >> uint(q&1)) & 1)
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
