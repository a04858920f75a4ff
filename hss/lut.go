package hss

import (
	"fmt"
	"io"

	"github.com/hssee/hssee/hss/fss"
)

// This file holds the masked-input lookup gate ("lut") that every nonlinear gate is built from: its
// key type (lutKey) with its codec, its Gen, its Eval and its cost. The composite key type is in
// seq.go, the cubic tables in poly.go; the gates are in relu.go, act.go, exp.go, octave.go, max.go,
// softmax.go and norm.go.
//
// The lookup gate, for shares of x (fixed point, Frac bits), works as follows (SIGMA, Gupta et al.,
// PETS 2024, §4 "LUT on masked inputs", and Boyle et al., Eurocrypt 2021, for the comparison):
//
//  1. The dealer samples r ∈ Z_2^64 and shares it; the parties open x̂ = x + r (mod 2^K, K bits per
//     element and party; K = 64 when the gate needs x·s below). This is the gate's only round.
//  2. For each part j (a resolution k_j and width M_j), the public index I_j = (x̂ >> k_j) mod 2^M_j
//     satisfies I_j − r_j = ⌊x/2^k_j⌋ + c (mod 2^M_j) with r_j = (r >> k_j) mod 2^M_j and a carry
//     c ∈ {0,1} from the dropped bits: a stochastically rounded, reduced-width index z_j. A DPF key for
//     the point r_j lets the parties compute shares of any public function of z_j (here the
//     coefficients of a piecewise polynomial, below) as Σ_q T(I_j − q)·[q = r_j], evaluating the DPF
//     only on the window of q where T is non-zero (fss.Worker.EvalWindowPolyBatch).
//  3. Optionally (sign term) a DCF on M_0 − 1 bits gives shares of s = 1{z_0 ≥ 0} by the MSB rule
//     msb(z) = msb(I) ⊕ msb(r_0) ⊕ 1{I mod 2^(M−1) < r_0 mod 2^(M−1)} (Boyle et al. 2021, §4 DReLU),
//     with payload (1 − 2·msb(r_0), (1 − 2·msb(r_0))·r) so that also s·r, and hence s·x = s·x̂ − s·r,
//     comes out in the same round without a multiplication.
//
// Tables are built so that each entry is right for every x the index can stand for, x ∈
// [(z−1)·h, (z+1)·h) with h = 2^(k−Frac): the polynomial is fitted over that whole interval.
//
// In the nonlinear gates' doc comments, costs are per element; "online" counts the bytes both parties
// send together, "dealer" the key bytes of both parties together (as Key.Size reports them). f is
// p.Fx.Frac (the tables are built for the Fixed passed to Gen, which must equal the parties' Fx).

// lutPart is one resolution of a lookup: index shift k, index width m, and, for a polynomial part,
// its coefficient tables on the window z ∈ [wlo, wlo+len(tabs[t])); a part without tables only
// carries the sign (step 3).
//
// A polynomial part (deg ≥ 1) holds deg+1 coefficient tables C_0…C_deg of a piecewise polynomial
// g(x) ≈ Σ_j C_j,z·d'^j in the offset d = x − z·2^k (raw units), which the parties know up to the
// mask: with x̂ = x + r, d = (x̂ mod 2^k) − (r mod 2^k) exactly (the carry of the low bits is what
// makes z stochastic); d' = ((x̂ mod 2^k) >> drop) − ((r mod 2^k) >> drop) is d at 2^drop coarser
// resolution (off by less than one unit of it). Its DPF has payload (1, ρ, ρ², …, ρ^deg) with
// ρ = (r mod 2^k) >> drop, so one window evaluation gives shares of every C_j,z·ρ^c, and
// Σ_j C_j,z·(u − ρ)^j with the public u = (x̂ mod 2^k) >> drop is local (fss.EvalWindowPolyBatch;
// SIGMA, Gupta et al., PETS 2024, §4: splines from a DPF; Boyle et al., Eurocrypt 2021, §5 for the
// masked offset). The coefficients carry fb more fractional bits than the output (polyTables); the
// gate truncates them away in a second round.
type lutPart struct {
	k, m uint
	wlo  int64
	tabs [][]uint64
	deg  int  // ≥ 1 for a polynomial part of that degree (tabs C_0…C_deg); 0 for a sign-only part
	drop uint // polynomial parts: low offset bits dropped
}

// poly reports whether the part is polynomial (its tables are coefficients).
func (p *lutPart) poly() bool { return p.deg >= 1 }

// payload is the DPF payload length of the part: deg+1 for a polynomial part, else 1.
func (p *lutPart) payload() int {
	if p.poly() {
		return p.deg + 1
	}
	return 1
}

// leaf is the number of early-terminated levels of the part's DPF.
func (p *lutPart) leaf() uint { return min(p.m, polyLeaf) }

// lutSpec describes a lookup gate: its parts (all with the same number of tables), whether it needs the
// sign term x·1{z_0 ≥ 0} and the sign bit itself, and the input width to open when no sign term is
// needed.
type lutSpec struct {
	parts    []lutPart
	signTerm bool // output x·s (needs a 64-bit open, or one at width)
	// width, if set, is the width a sign-term gate opens at: its input (and so x·s) is needed only
	// mod 2^width (untruncated scores, maxSpecRaw); its parts read bits below width.
	width   uint
	signBit bool // output s
	// tag identifies the parameters the tables were built for (frac, widths); keys carry it and a
	// gate refuses material whose tag differs (for example material generated for another Frac).
	tag uint64
	// fb and tbits: a gate with polynomial parts truncates their sum by fb bits at width tbits
	// (truncPoly).
	fb, tbits uint
	// payW, when set, is the width the polynomial parts' DPF outputs are needed at (their sum is read
	// only by its truncation at tbits): the DPF batches are narrowed to it (fss.DPFKeys.SetWidth), their
	// final correction words stored at payW bits. 0: 64 (exp's sums also feed the softmax's reciprocal).
	payW uint
}

// dcfWidth is the width of the sign DCF's outputs: a sign-term gate opened at width reads s and x·s
// mod 2^width only (fss.DCFKeys.SetWidth); 0 for 64.
func (s *lutSpec) dcfWidth() uint {
	if s.signTerm && s.width > 0 && s.width < 64 {
		return s.width
	}
	return 0
}

func (s *lutSpec) openBits() uint {
	if s.signTerm {
		if s.width != 0 {
			return s.width
		}
		return 64
	}
	var k uint
	for _, p := range s.parts {
		k = max(k, p.k+p.m)
	}
	return min(k, 64)
}

// nlookups counts the parts that carry tables (and so a DPF key); they come first in parts.
func (s *lutSpec) nlookups() int {
	c := 0
	for _, p := range s.parts {
		if len(p.tabs) > 0 {
			c++
		}
	}
	return c
}

// lutKey is one party's material for one lookup gate over N elements. The mask r (uniform mod
// 2^rbits, rbits the gate's opened width) is shared additively, and so (sign) are msb(r_0) and
// msb(r_0)·r in Z_2^64. Party 0's shares are uniform and independent of everything else in its key,
// so it holds only its seed and expands r0 ‖ mr0 ‖ mrr0 from it when the gate runs (masks); party 1
// holds the corrections r1 = r − r0 mod 2^rbits, mr1 = msb(r_0) − mr0 and mrr1 = msb(r_0)·r − mrr0.
type lutKey struct {
	Consumable
	kind  string
	party int
	n     int
	tag   uint64
	rbits uint     // width of the mask r (the opened width)
	seed  [32]byte // party 0 only
	r     []uint64 // party 1 only: share of the mask r (mod 2^rbits)
	mr    []uint64 // party 1 only: share of msb(r_0) (sign)
	mrr   []uint64 // party 1 only: share of msb(r_0)·r (sign)
	dcf   *fss.DCFKeys
	dpf   []*fss.DPFKeys
}

func (k *lutKey) Kind() string { return k.kind }
func (k *lutKey) Len() int     { return k.n }

// sign reports whether the key carries the sign term's shares (a DCF batch).
func (k *lutKey) sign() bool { return k.dcf != nil }

// maskWords is the number of words of party 0's stream: r0, and mr0, mrr0 with a sign.
func (k *lutKey) maskWords() int {
	if k.sign() {
		return 3 * k.n
	}
	return k.n
}

// Size is the length of MarshalBinary's output.
func (k *lutKey) Size() int {
	return lutKeySize(k.party, k.n, k.rbits, k.dcf, k.dpf)
}

// lutKeySize is the encoded size of a lookup key of n elements with the given FSS batches (only
// their sizes are read).
func lutKeySize(party, n int, rbits uint, dcf *fss.DCFKeys, dpf []*fss.DPFKeys) int {
	s := lutHeaderLen
	if party == 0 {
		s += 32
	} else {
		s += PackedLen(n, rbits)
		if dcf != nil {
			s += 16 * n
		}
	}
	if dcf != nil {
		s += 4 + fssHeaderLen + dcf.Size()
	}
	for _, d := range dpf {
		s += 4 + fssHeaderLen + d.Size()
	}
	return s
}

// masks returns the party's shares of r, msb(r_0) and msb(r_0)·r (nil without a sign) for the key's
// n elements: party 0 expands them from its seed into a pooled buffer, which release hands back.
func (k *lutKey) masks() (r, mr, mrr []uint64, release func()) {
	if k.party == 1 {
		return k.r, k.mr, k.mrr, func() {}
	}
	n := k.n
	buf := streamScratch(k.seed, k.maskWords())
	r = buf[:n:n]
	if k.sign() {
		mr, mrr = buf[n:2*n:2*n], buf[2*n:3*n:3*n]
	}
	return r, mr, mrr, func() { putWords(buf) }
}

// shapeOK reports whether the key's own parts agree with its length (party 1's explicit shares).
func (k *lutKey) shapeOK() bool {
	if k.party == 0 {
		return k.r == nil && k.mr == nil && k.mrr == nil
	}
	want := 0
	if k.sign() {
		want = k.n
	}
	return len(k.r) == k.n && len(k.mr) == want && len(k.mrr) == want
}

const (
	lutHeaderLen = 1 + 4 + 8 + 1 + 1 + 1 // party, n, tag, has DCF, number of DPF batches, mask width
	fssHeaderLen = 11                    // header fss.DCFKeys/DPFKeys.MarshalBinary prepends
	maxLUTParts  = 4
)

// MarshalBinary encodes the key (see Size for its length): the header, then party 0's seed or party
// 1's shares (r at the mask width, msb(r_0) and msb(r_0)·r at 64 bits with a sign), then the FSS
// batches, each with a four-byte length.
func (k *lutKey) MarshalBinary() ([]byte, error) {
	if k.party != 0 && k.party != 1 || k.n < 0 || k.n > MaxKeyLen || k.rbits < 1 || k.rbits > 64 ||
		!k.shapeOK() || len(k.dpf) > maxLUTParts {
		return nil, fmt.Errorf("hss: %s key: marshal: %w", k.kind, errKey)
	}
	e := Enc{b: make([]byte, 0, k.Size())}
	e.U8(uint8(k.party))
	e.U32(uint32(k.n))
	e.U64(k.tag)
	hasDCF := uint8(0)
	if k.sign() {
		hasDCF = 1
	}
	e.U8(hasDCF)
	e.U8(uint8(len(k.dpf)))
	e.U8(uint8(k.rbits))
	if k.party == 0 {
		e.Seed(k.seed)
	} else {
		e.Packed(k.r, k.rbits)
		if k.sign() {
			e.Packed(k.mr, 64)
			e.Packed(k.mrr, 64)
		}
	}
	if k.dcf != nil {
		b, err := k.dcf.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("hss: %s key: marshal: %w", k.kind, err)
		}
		e.U32(uint32(len(b)))
		e.b = append(e.b, b...)
	}
	for _, d := range k.dpf {
		b, err := d.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("hss: %s key: marshal: %w", k.kind, err)
		}
		e.U32(uint32(len(b)))
		e.b = append(e.b, b...)
	}
	return e.Bytes(), nil
}

// UnmarshalBinary decodes a key written by MarshalBinary, checking that its parts are consistent.
func (k *lutKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party := int(d.U8())
	n := int(d.U32())
	tag := d.U64()
	hasDCF := d.U8()
	ndpf := int(d.U8())
	rbits := uint(d.U8())
	if d.Err() == nil && (party > 1 || n > MaxKeyLen || hasDCF > 1 || ndpf > maxLUTParts || rbits < 1 || rbits > 64) {
		d.Fail(fmt.Errorf("party %d, length %d, parts %d/%d, mask width %d: %w", party, n, hasDCF, ndpf, rbits, errKey))
	}
	var seed [32]byte
	var r, mr, mrr []uint64
	if party == 0 {
		seed = d.Seed()
	} else {
		r = d.Packed(n, rbits)
		if hasDCF == 1 {
			mr, mrr = d.Packed(n, 64), d.Packed(n, 64)
		}
	}
	var dcf *fss.DCFKeys
	if hasDCF == 1 {
		raw := d.take(int(d.U32()))
		if d.Err() == nil {
			dcf = new(fss.DCFKeys)
			if err := dcf.UnmarshalBinary(raw); err != nil {
				d.Fail(err)
			} else if dcf.N != n || dcf.Party != party || dcf.P != 2 || dcf.Bits < 1 || dcf.Bits > 62 {
				d.Fail(fmt.Errorf("comparison keys do not match: %w", errKey))
			}
		}
	}
	dpf := decodeDPFBatches(d, ndpf, n, party)
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: %s key: %w", k.kind, err)
	}
	k.party, k.n, k.tag, k.rbits, k.seed, k.r, k.mr, k.mrr, k.dcf, k.dpf = party, n, tag, rbits, seed, r, mr, mrr, dcf, dpf
	return nil
}

// decodeDPFBatches reads ndpf length-prefixed DPF batches of n keys of party's (the lookup part of
// lutKey's and TruncActKey's codecs); failures are recorded in d.
func decodeDPFBatches(d *Dec, ndpf, n, party int) []*fss.DPFKeys {
	var dpf []*fss.DPFKeys
	for range ndpf {
		raw := d.take(int(d.U32()))
		if d.Err() != nil {
			break
		}
		p := new(fss.DPFKeys)
		if err := p.UnmarshalBinary(raw); err != nil {
			d.Fail(err)
			break
		}
		if p.N != n || p.Party != party || p.P < 1 || p.P > fss.MaxPayload || p.Bits > fss.MaxWindowBits {
			d.Fail(fmt.Errorf("lookup keys do not match: %w", errKey))
			break
		}
		dpf = append(dpf, p)
	}
	return dpf
}

// PartyID returns the party (0 or 1) the key belongs to.
func (k *lutKey) PartyID() int { return k.party }

func registerLUT(kind string) {
	RegisterKey(kind, func() MarshalKey { return &lutKey{kind: kind} })
}

func randU64s(rng io.Reader, n int) ([]uint64, error) {
	var seed [32]byte
	if _, err := io.ReadFull(rng, seed[:]); err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	NewPRG(seed).Uint64s(out)
	return out, nil
}

// top is the number of precomputed top levels of the part's DPF (fss.DPFKeys.Top): polynomial
// parts have short windows, so most of their tree walk would be the top of the tree, one or two
// nodes per level and element; 3 levels cost 64 more key bytes per element and party.
func (p *lutPart) top() uint {
	if !p.poly() {
		return 0
	}
	return min(polyTop, p.m-p.leaf())
}

const polyTop = 3

// lookupSeeded is the party whose lookup DPF batches hold their level-Top nodes as one seed
// (fss.GenDPFTopSeededParty); the other party stores them, 16·2^polyTop + 2^polyTop/8 bytes per
// element. Party 1 holds every other correction (party 0's shares come from seeds), so the nodes
// go to party 0 and the two parties' material comes closer: gpt2-124m@128 1.26 / 2.62 GiB → 1.98 /
// 1.90 GiB (party 0 / party 1), the same in total. A deployment streams each party its own share
// over its own link, so the larger share bounds a cold prefill.
const lookupSeeded = 1

// genLookupDPF generates the DPF batches of a polynomial lookup part on n points with the payloads
// betas (narrowed to payW), the level-Top nodes seeded for lookupSeeded.
func genLookupDPF(rng io.Reader, p *lutPart, payW uint, pts, betas []uint64) (d0, d1 *fss.DPFKeys, err error) {
	if p.top() > 0 {
		d0, d1, err = fss.GenDPFTopSeededParty(rng, lookupSeeded, p.m, p.leaf(), p.top(), p.payload(), pts, betas)
	} else {
		d0, d1, err = fss.GenDPFTop(rng, p.m, p.leaf(), 0, p.payload(), pts, betas)
	}
	if err == nil {
		err = narrowDPF(payW, d0, d1)
	}
	return d0, d1, err
}

// lookupDPFShapes returns shape-only batches (for Size) of a polynomial lookup part's DPFs on n
// points, as genLookupDPF makes them.
func lookupDPFShapes(p *lutPart, payW uint, n int) (d0, d1 *fss.DPFKeys) {
	d0 = &fss.DPFKeys{Bits: p.m, Leaf: p.leaf(), Top: p.top(), P: p.payload(), N: n, Width: payW}
	d1 = &fss.DPFKeys{Bits: p.m, Leaf: p.leaf(), Top: p.top(), P: p.payload(), N: n, Width: payW}
	if p.top() > 0 {
		d0.Seeded, d1.Seeded = lookupSeeded == 0, lookupSeeded == 1
	}
	return d0, d1
}

// polyLeaf is the number of early-terminated levels of a polynomial part's DPF: with payload 4 each
// leaf seed yields 4 positions from 8 blocks, whole leaves for fss's padded inner products. Each
// level fewer doubles the leaves' final words (16 more per element and party, at the payload's
// width) and saves one correction word (16.25 bytes): 2 levels rather than 3 save 82 bytes per
// element and party for GeLU (49-bit words), 112 for exp (64-bit), and the walk was no slower on
// this host (BenchmarkEvalWindowPolyBatch: 605–700 vs 658–700 ns per element on GeLU's window).
const polyLeaf = 2

// genLUT generates lookup material for n elements.
func genLUT(rng io.Reader, kind string, n int, spec *lutSpec) (k0, k1 *lutKey, err error) {
	if n < 0 || n > MaxKeyLen {
		return nil, nil, fmt.Errorf("hss: gen %s: length %d out of range", kind, n)
	}
	ob := spec.openBits()
	sign := spec.signTerm || spec.signBit
	// Party 0's shares come from its seed (r0 ‖ mr0 ‖ mrr0, as masks expands them); the mask r is
	// drawn independently, so r1 = r − r0 is uniform too.
	k0, k1, r, err := newLUTPair(rng, kind, n, spec.tag, ob)
	if err != nil {
		return nil, nil, err
	}
	s0 := k0.seed
	nw := n
	if sign {
		nw = 3 * n
	}
	b0 := streamScratch(s0, nw)
	defer putWords(b0)
	r0 := b0[:n]
	for i := range r {
		r[i] &= Mask(ob)
		k1.r[i] = (r[i] - r0[i]) & Mask(ob)
	}
	for _, p := range spec.parts {
		if len(p.tabs) == 0 {
			continue
		}
		if p.m > fss.MaxWindowBits || !p.poly() || len(p.tabs) != p.deg+1 {
			return nil, nil, fmt.Errorf("hss: gen %s: malformed lookup part", kind)
		}
		pts := make([]uint64, n)
		for i := range pts {
			pts[i] = (r[i] >> p.k) & Mask(p.m)
		}
		np := p.payload()
		betas := make([]uint64, np*n)
		for i := range pts {
			rho, v := (r[i]&Mask(p.k))>>p.drop, uint64(1)
			for c := range np {
				betas[np*i+c] = v
				v *= rho
			}
		}
		d0, d1, err := genLookupDPF(rng, &p, spec.payW, pts, betas)
		if err != nil {
			return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
		}
		k0.dpf, k1.dpf = append(k0.dpf, d0), append(k1.dpf, d1)
	}
	if sign {
		p := spec.parts[0]
		alphas, betas := make([]uint64, n), make([]uint64, 2*n)
		mr, mrr := make([]uint64, n), make([]uint64, n)
		for i := range r {
			rj := (r[i] >> p.k) & Mask(p.m)
			m := rj >> (p.m - 1)
			alphas[i] = rj & Mask(p.m-1)
			betas[2*i], betas[2*i+1] = 1-2*m, (1-2*m)*r[i]
			mr[i], mrr[i] = m, m*r[i]
		}
		d0, d1, err := fss.GenDCF(rng, p.m-1, 2, alphas, betas)
		if w := spec.dcfWidth(); err == nil && w > 0 { // s and x·s are read mod 2^width
			if err = d0.SetWidth(w); err == nil {
				err = d1.SetWidth(w)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
		}
		k0.dcf, k1.dcf = d0, d1
		mr0, mrr0 := b0[n:2*n], b0[2*n:3*n]
		k1.mr, k1.mrr = make([]uint64, n), make([]uint64, n)
		for i := range mr {
			k1.mr[i], k1.mrr[i] = mr[i]-mr0[i], mrr[i]-mrr0[i]
		}
	}
	return k0, k1, nil
}

// newLUTPair starts a lookup key pair of n elements: party 0's seed, the mask r (uniform, drawn
// independently of the seed; the caller reduces it to the opened width ob) and both keys' headers.
func newLUTPair(rng io.Reader, kind string, n int, tag uint64, ob uint) (k0, k1 *lutKey, r []uint64, err error) {
	s0, err := ReadSeed(rng)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	if r, err = randU64s(rng, n); err != nil {
		return nil, nil, nil, fmt.Errorf("hss: gen %s: %w", kind, err)
	}
	k0 = &lutKey{kind: kind, party: 0, n: n, tag: tag, rbits: ob, seed: s0}
	k1 = &lutKey{kind: kind, party: 1, n: n, tag: tag, rbits: ob, r: make([]uint64, n)}
	return k0, k1, r, nil
}

// lutOut holds a lookup's outputs: xs (shares of x·s), s (shares of s), lin (shares of
// Σ_j C_j,z·d'^j over the polynomial parts).
type lutOut struct {
	xs, s, lin []uint64
	sign       *pendingSign // truncAct: x·s once s ⊕ ρ is open
}

// evalLUT runs the lookup gate (one round) on shares x.
func (p *Party) evalLUT(kind string, spec *lutSpec, x []uint64) (*lutOut, error) {
	k, err := takeChecked[*lutKey](p, kind, len(x))
	if err != nil {
		return nil, err
	}
	return p.evalLUTWith(k, spec, x)
}

func (p *Party) evalLUTWith(k *lutKey, spec *lutSpec, x []uint64) (*lutOut, error) {
	kind := k.kind
	n := len(x)
	ob := spec.openBits()
	if k.party != p.ID || k.tag != spec.tag || len(k.dpf) != spec.nlookups() || k.n != n || k.rbits != ob ||
		!k.shapeOK() || ((spec.signTerm || spec.signBit) != k.sign()) {
		return nil, fmt.Errorf("hss: %s: material does not match the gate", kind)
	}
	for j, d := range k.dpf {
		pt := &spec.parts[j]
		if d.N != n || d.Bits != pt.m || d.Party != p.ID || d.Bits > fss.MaxWindowBits || d.P != pt.payload() ||
			d.Leaf != pt.leaf() || d.Top != pt.top() || d.Width != spec.payW {
			return nil, fmt.Errorf("hss: %s: material does not match the gate", kind)
		}
	}
	r, mr, mrr, release := k.masks()
	defer release()
	// x̂ lives in a pooled buffer: nothing returned aliases it.
	xh := getWords(n)
	defer putWords(xh)
	r = r[:n]
	for i := range x {
		xh[i] = x[i] + r[i]
	}
	if err := p.openInto(xh, xh, ob); err != nil {
		return nil, fmt.Errorf("hss: %s: %w", kind, err)
	}
	out := &lutOut{lin: polyTerms(k.dpf, spec, xh)} // lin: the caller's, to hand back (putWords) once truncated
	if k.dcf != nil {
		part := spec.parts[0]
		if k.dcf.N != n || k.dcf.Bits != part.m-1 || k.dcf.P != 2 || k.dcf.Width != spec.dcfWidth() {
			return nil, fmt.Errorf("hss: %s: material does not match the gate", kind)
		}
		c, err := evalSignDCF(p.ID, k.dcf, &part, xh)
		if err != nil {
			return nil, fmt.Errorf("hss: %s: %w", kind, err)
		}
		defer putWords(c)
		out.s = make([]uint64, n)
		if spec.signTerm {
			out.xs = make([]uint64, n)
		}
		own := uint64(1 - p.ID) // party 0 adds public terms
		for i := range n {
			s, sx := signStep(own, signBit(&part, xh[i]), mr[i]+c[2*i], mrr[i]+c[2*i+1], r[i], xh[i])
			out.s[i] = s
			if spec.signTerm {
				out.xs[i] = sx
			}
		}
	}
	return out, nil
}

// polyTerms returns the sum of the polynomial parts' terms (evalPoly of the DPF keys dpf, one per
// part from the first) at the opened x̂ in a pooled buffer, or nil when there are none.
func polyTerms(dpf []*fss.DPFKeys, spec *lutSpec, xh []uint64) []uint64 {
	if len(dpf) == 0 {
		return nil
	}
	lin := getWords(len(xh))
	clear(lin)
	for j, part := range spec.parts[:len(dpf)] {
		evalPoly(dpf[j], &part, xh, lin)
	}
	return lin
}

// narrowDPF narrows both parties' DPF batches to width w (0: none; see lutSpec.payW).
func narrowDPF(w uint, d0, d1 *fss.DPFKeys) error {
	if w == 0 {
		return nil
	}
	if err := d0.SetWidth(w); err != nil {
		return err
	}
	return d1.SetWidth(w)
}

// evalSignDCF evaluates the sign DCF d of the lookup's first part on the opened x̂ (its input: the
// part's m−1 bits above k) and returns its outputs, d.P per element, in a pooled buffer.
func evalSignDCF(id int, d *fss.DCFKeys, part *lutPart, xh []uint64) ([]uint64, error) {
	in, c := getWords(len(xh)), getWords(d.P*len(xh))
	defer putWords(in)
	for i := range in {
		in[i] = (xh[i] >> part.k) & Mask(part.m-1)
	}
	if err := fss.EvalBatch(id, d, in, c); err != nil {
		putWords(c)
		return nil, err
	}
	return c, nil
}

// signBit is pb = 1 ⊕ msb(I) of the first part's m-bit input I at bit k of the opened x̂.
func signBit(part *lutPart, xh uint64) uint64 { return 1 ^ ((xh >> (part.k + part.m - 1)) & 1) }

// signStep is the sign rule of Boyle et al. (Eurocrypt 2021, §4) for one element: from pb = 1 ⊕
// msb(I), the party's shares u of the sign mask and ur of its product with the mask r (r the party's
// share of the mask of x̂, own = 1 for party 0) it returns the party's shares of the sign s and of s·x.
func signStep(own, pb, u, ur, r, xh uint64) (s, sx uint64) {
	f := 1 - 2*pb
	s = own*pb + f*u
	return s, s*xh - (pb*r + f*ur)
}

// truncPoly returns the truncation of a lookup's polynomial term (by the spec's fb bits, at its
// width: one round) and hands the term's buffer back to the pool.
func (p *Party) truncPoly(o *lutOut, s *lutSpec) ([]uint64, error) {
	t, err := p.Trunc(o.lin, s.fb, s.tbits)
	putWords(o.lin)
	o.lin = nil
	return t, err
}

// evalPoly adds to lin the shares of Σ_j C_j,z·d'^j of the polynomial part for every element.
func evalPoly(d *fss.DPFKeys, part *lutPart, xh, lin []uint64) {
	w := len(part.tabs[0])
	whi := part.wlo + int64(w)
	// Window position q holds [z = whi−1−q]: read the tables backwards.
	rev := make([][]uint64, len(part.tabs))
	for j, tab := range part.tabs {
		rev[j] = make([]uint64, w)
		for q := range w {
			rev[j][q] = tab[w-1-q]
		}
	}
	fss.ParallelFor(len(lin), func(wk *fss.Worker, lo, hi int) {
		buf := getWords(3 * (hi - lo))
		defer putWords(buf)
		los, us, v := buf[:hi-lo], buf[hi-lo:2*(hi-lo)], buf[2*(hi-lo):]
		for i := lo; i < hi; i++ {
			idx := (xh[i] >> part.k) & Mask(part.m)
			los[i-lo], us[i-lo] = idx-uint64(whi-1), (xh[i]&Mask(part.k))>>part.drop
		}
		// Cannot fail: widths, payload and window sizes were checked against the key.
		_ = wk.EvalWindowPolyBatch(d, lo, los, rev, us, v)
		for i := lo; i < hi; i++ {
			lin[i] += v[i-lo]
		}
	})
}

// costLUT is the cost of one lookup gate (genLUT / evalLUTWith) on n elements: one opening at the
// spec's width; per party the header, party 0's seed or party 1's mask shares (and sign shares), a
// DCF batch when the spec has a sign, and a DPF batch per table part, each with a four-byte length
// and the fss header (lutKeySize on shape-only batches).
func costLUT(n int, spec *lutSpec) Cost {
	var dcf *fss.DCFKeys
	if spec.signTerm || spec.signBit {
		dcf = &fss.DCFKeys{Bits: spec.parts[0].m - 1, P: 2, N: n, Width: spec.dcfWidth()}
	}
	var dpf0, dpf1 []*fss.DPFKeys
	for _, p := range spec.parts {
		if len(p.tabs) == 0 {
			continue
		}
		d0, d1 := lookupDPFShapes(&p, spec.payW, n)
		dpf0, dpf1 = append(dpf0, d0), append(dpf1, d1)
	}
	ob := spec.openBits()
	return open(n, ob).Add(keyCost(lutKeySize(0, n, ob, dcf, dpf0), lutKeySize(1, n, ob, dcf, dpf1)))
}
