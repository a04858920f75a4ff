package hss

import (
	"fmt"
	"io"

	"github.com/hssee/hssee/hss/fss"
)

// Truncation and an activation's lookup in one round: the outputs of a linear layer arrive
// untruncated (2·Frac fractional bits) and the activation (GeLU, or SiLU with its product) reads the
// truncation's own opening, where a truncation round then the lookup's round took two.
//
// Trunc opens c = x + r (+ 2^(ℓ−2)) at ℓ bits and returns y = A(c) − R + g(c)·M (see actmul.go),
// with g(c) a multiple of 2^(ℓ−f). If the lookup's mask is R itself, its masked input is
// y + R = A(c) + g(c)·M, which equals the public A(c) modulo 2^(ℓ−f): every index the lookup reads
// (its DPF windows, at most k+m ≤ ℓ − f bits) is public after the truncation's round (the lookup
// gate of lut.go with its mask correlated with the truncation's: ABY2.0-style preprocessing, Patra
// et al., USENIX Security 2021).
//
// The sign term x·s has no DCF. The MSB rule (Boyle et al., Eurocrypt 2021, §4) gives s = 1 ⊕
// msb(I) ⊕ μ ⊕ 1{I mod 2^(m−1) < α mod 2^(m−1)} for the lookup's index I, its DPF's point α and μ =
// msb(α); the comparison is read off that DPF's own tree (fss.EvalLowLessBatch: the prefix parity
// of Grotto, Storrier et al., CCS 2023) as XOR shares, which with the dealer's XOR shares of μ ⊕ ρ,
// ρ a fresh bit, give XOR shares of s ⊕ ρ. The parties open it in the gate's second round, with the
// polynomial term's truncation, one bit per element each, and then s·x = s·A − s·R + g·s·M from
// s = ŝ + (1 − 2ŝ)·ρ and shares of ρ, ρ·R and ρ·M (pendingSign; SiLUMulRaw's product, truncprod.go).
// A DCF for the sign (7 levels, payload 3 at 64 bits) took 644 bytes per element for both parties:
// more than the rest of the activation's material.

// TruncActKey is one party's material for truncAct: the truncation of NT elements (frac Frac, width
// Bits) and the lookup (spec tag Tag, at least one DPF part, the first with a tree level above its
// leaves) on the first N of them, with mask R = r >> Frac. Party 0 holds only Seed (r0, R0, M0 for NT
// elements, ρ0, (ρR)0, (ρM)0 and its Flip bits for N) and the DPF batches; party 1 expands r1 from
// Seed and holds R1, ρ1, (ρR)1 at 64 bits, M1 [NT] and (ρM)1 [N] at 64 − Bits + Frac bits, and Flip,
// its XOR share of μ ⊕ ρ, at 1 bit [N].
type TruncActKey struct {
	Consumable
	Party      uint8
	Frac, Bits uint
	N, NT      int
	Tag        uint64
	Seed       [32]byte
	R, M       []uint64 // party 1 only: [NT]
	Rho, RhoR  []uint64 // party 1 only: [N]
	RhoM, Flip []uint64 // party 1 only: [N]
	DPF        []*fss.DPFKeys
}

func (k *TruncActKey) Kind() string { return "tact" }
func (k *TruncActKey) Len() int     { return k.NT }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *TruncActKey) PartyID() int { return int(k.Party) }

func (k *TruncActKey) msbWidth() uint { return 64 - k.Bits + k.Frac }

func (k *TruncActKey) Size() int {
	s := 3 + 8 + 8 + 32 + 1
	if k.Party == 1 {
		s += PackedLen(k.NT, 64) + PackedLen(k.N, 64) + PackedLen(k.N, 64) + PackedLen(k.NT, k.msbWidth()) +
			PackedLen(k.N, k.msbWidth()) + PackedLen(k.N, 1)
	}
	for _, d := range k.DPF {
		s += 4 + fssHeaderLen + d.Size()
	}
	return s
}

func (k *TruncActKey) shapeOK() bool {
	if len(k.DPF) == 0 || len(k.DPF) > maxLUTParts {
		return false
	}
	if k.Party == 0 {
		return k.R == nil && k.M == nil && k.Rho == nil && k.RhoR == nil && k.RhoM == nil && k.Flip == nil
	}
	return len(k.R) == k.NT && len(k.M) == k.NT && len(k.Rho) == k.N && len(k.RhoR) == k.N && len(k.RhoM) == k.N &&
		len(k.Flip) == k.N
}

func (k *TruncActKey) MarshalBinary() ([]byte, error) {
	if k.Party > 1 || !k.shapeOK() {
		return nil, fmt.Errorf("hss: tact key: marshal: %w", errKey)
	}
	e := Enc{b: make([]byte, 0, k.Size())}
	e.U8(k.Party)
	e.U8(uint8(k.Frac))
	e.U8(uint8(k.Bits))
	e.U32(uint32(k.N))
	e.U32(uint32(k.NT))
	e.U64(k.Tag)
	e.Seed(k.Seed)
	e.U8(uint8(len(k.DPF)))
	if k.Party == 1 {
		e.Packed(k.R, 64)
		e.Packed(k.Rho, 64)
		e.Packed(k.RhoR, 64)
		e.Packed(k.M, k.msbWidth())
		e.Packed(k.RhoM, k.msbWidth())
		e.Packed(k.Flip, 1)
	}
	for _, d := range k.DPF {
		b, err := d.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("hss: tact key: marshal: %w", err)
		}
		e.U32(uint32(len(b)))
		e.b = append(e.b, b...)
	}
	return e.Bytes(), nil
}

func (k *TruncActKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party := d.U8()
	frac, bits := uint(d.U8()), uint(d.U8())
	n, nt := int(d.U32()), int(d.U32())
	tag := d.U64()
	seed := d.Seed()
	ndpf := int(d.U8())
	if d.Err() == nil && (party > 1 || bits < 2 || bits > 64 || frac+2 > bits || nt > MaxKeyLen || n > nt || ndpf < 1 || ndpf > maxLUTParts) {
		d.Fail(fmt.Errorf("party %d, frac %d, width %d, lengths %d/%d, %d parts: %w", party, frac, bits, n, nt, ndpf, errKey))
	}
	out := &TruncActKey{Party: party, Frac: frac, Bits: bits, N: n, NT: nt, Tag: tag, Seed: seed}
	if d.Err() == nil && party == 1 {
		w := out.msbWidth()
		out.R, out.Rho, out.RhoR = d.Packed(nt, 64), d.Packed(n, 64), d.Packed(n, 64)
		out.M, out.RhoM = d.Packed(nt, w), d.Packed(n, w)
		out.Flip = d.Packed(n, 1)
	}
	if d.Err() == nil {
		out.DPF = decodeDPFBatches(d, ndpf, n, int(party))
	}
	if d.Err() == nil && (out.DPF[0].Leaf >= out.DPF[0].Bits || out.DPF[0].Bits < 2) {
		d.Fail(fmt.Errorf("sign lookup without a tree level: %w", errKey))
	}
	if err := d.Finish(); err != nil {
		*k = TruncActKey{}
		return fmt.Errorf("hss: tact key: %w", err)
	}
	k.Party, k.Frac, k.Bits, k.N, k.NT, k.Tag, k.Seed = out.Party, out.Frac, out.Bits, out.N, out.NT, out.Tag, out.Seed
	k.R, k.M, k.Rho, k.RhoR, k.RhoM, k.Flip, k.DPF = out.R, out.M, out.Rho, out.RhoR, out.RhoM, out.Flip, out.DPF
	return nil
}

func init() {
	RegisterKey("tact", func() MarshalKey { return new(TruncActKey) })
	registerSeq("gelur", "tact", "trunc")
	registerSeq("silumulr", "tact", "tprod")
}

// tactWords is the number of words a party expands from its seed: party 0 r0, R0, M0 [nt] and ρ0,
// (ρR)0, (ρM)0 and its Flip bits [n]; party 1 r1 [nt].
func tactWords(party, n, nt int) int {
	if party == 1 {
		return nt
	}
	return 3*nt + 4*n
}

// genTruncAct generates material for truncAct: nt ≥ n elements truncated by frac at width bits, the
// lookup spec (with a sign term and polynomial parts, the first with a tree) on the first n. It also
// returns the masks the keys were made with, for material correlated with them (genTruncProd).
func genTruncAct(rng io.Reader, n, nt int, frac, bits uint, spec *lutSpec) (k0, k1 *TruncActKey, masks *tactMasks, err error) {
	if err := checkTruncAct("gen tact", n, nt, frac, bits, spec); err != nil {
		return nil, nil, nil, err
	}
	s0, s1, b0, b1, release, err := seedStreams(rng, "gen tact", tactWords(0, n, nt), tactWords(1, n, nt))
	if err != nil {
		return nil, nil, nil, err
	}
	defer release()
	k0 = &TruncActKey{Party: 0, Frac: frac, Bits: bits, N: n, NT: nt, Tag: spec.tag, Seed: s0}
	k1 = &TruncActKey{Party: 1, Frac: frac, Bits: bits, N: n, NT: nt, Tag: spec.tag, Seed: s1,
		R: make([]uint64, nt), M: make([]uint64, nt), Rho: make([]uint64, n), RhoR: make([]uint64, n), RhoM: make([]uint64, n),
		Flip: make([]uint64, n)}
	mw := Mask(k1.msbWidth())
	R, M := make([]uint64, nt), make([]uint64, nt)
	for i := range nt {
		r := (b0[i] + b1[i]) & Mask(bits)
		R[i], M[i] = r>>frac, r>>(bits-1)
		k1.R[i] = R[i] - b0[nt+i]
		k1.M[i] = (M[i] - b0[2*nt+i]) & mw
	}
	for _, p := range spec.parts {
		if len(p.tabs) == 0 {
			continue
		}
		if p.m > fss.MaxWindowBits || !p.poly() || len(p.tabs) != p.deg+1 {
			return nil, nil, nil, fmt.Errorf("hss: gen tact: malformed lookup part")
		}
		pts := make([]uint64, n)
		np := p.payload()
		betas := make([]uint64, np*n)
		for i := range pts {
			pts[i] = (R[i] >> p.k) & Mask(p.m)
			rho, v := (R[i]&Mask(p.k))>>p.drop, uint64(1)
			for c := range np {
				betas[np*i+c] = v // first 1: the sign's comparison reads it (fss.EvalLowLessBatch)
				v *= rho
			}
		}
		d0, d1, err := genLookupDPF(rng, &p, spec.payW, pts, betas)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("hss: gen tact: %w", err)
		}
		k0.DPF, k1.DPF = append(k0.DPF, d0), append(k1.DPF, d1)
	}
	// A fresh bit ρ per element, the dealer's own: the parties open s ⊕ ρ.
	rho, err := randU64s(rng, n)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("hss: gen tact: %w", err)
	}
	p := spec.parts[0]
	rho0, rhoR0, rhoM0, flip0 := b0[3*nt:3*nt+n], b0[3*nt+n:3*nt+2*n], b0[3*nt+2*n:3*nt+3*n], b0[3*nt+3*n:]
	for i := range n {
		rb := rho[i] & 1
		mu := (R[i] >> (p.k + p.m - 1)) & 1 // msb of the DPF's point
		k1.Rho[i] = rb - rho0[i]
		k1.RhoR[i] = rb*R[i] - rhoR0[i]
		k1.RhoM[i] = (rb*M[i] - rhoM0[i]) & mw
		k1.Flip[i] = (mu ^ rb ^ flip0[i]) & 1
		rho[i] = rb
	}
	return k0, k1, &tactMasks{R: R, M: M, Rho: rho}, nil
}

// checkTruncAct checks truncAct's shape: nt ≥ n elements, the truncation by frac at width bits, and a
// lookup that reads no bit above the truncation's output and whose first part has a DPF with a tree
// level above its leaves (the sign's comparison reads it).
func checkTruncAct(op string, n, nt int, frac, bits uint, spec *lutSpec) error {
	if n < 0 || nt < n || nt > MaxKeyLen || bits < 2 || bits > 64 || frac+2 > bits || !spec.signTerm {
		return fmt.Errorf("hss: %s: lengths %d/%d, frac %d, width %d out of range", op, n, nt, frac, bits)
	}
	if spec.nlookups() == 0 || !spec.parts[0].poly() || spec.parts[0].leaf() >= spec.parts[0].m {
		return fmt.Errorf("hss: %s: the sign needs a first lookup part with a tree", op)
	}
	for _, p := range spec.parts {
		if p.k+p.m > bits-frac {
			return fmt.Errorf("hss: %s: lookup reads %d bits, above the truncation's %d", op, p.k+p.m, bits-frac)
		}
	}
	return nil
}

// truncAct truncates x (nt elements, |x| < 2^(bits−2)) by frac and runs the lookup spec on the first
// n of the results, in one round. It returns the lookup's outputs: the untruncated polynomial term
// o.lin (in a pooled buffer) and the pending sign term o.sign (the party's share bits of s ⊕ ρ, to
// open in the next round, and every truncation's masked form y = A − R + G·M, which is all its
// consumers read: pendingSign).
func (p *Party) truncAct(k *TruncActKey, spec *lutSpec, x []uint64, n int) (*lutOut, error) {
	nt := len(x)
	frac, bits := k.Frac, k.Bits
	if int(k.Party) != p.ID || k.NT != nt || k.N != n || k.Tag != spec.tag || len(k.DPF) != spec.nlookups() || !k.shapeOK() {
		return nil, fmt.Errorf("hss: tact: material does not match the gate")
	}
	for j, d := range k.DPF {
		pt := &spec.parts[j]
		if d.N != n || d.Bits != pt.m || d.Party != p.ID || d.P != pt.payload() || d.Leaf != pt.leaf() || d.Top != pt.top() || d.Width != spec.payW {
			return nil, fmt.Errorf("hss: tact: material does not match the gate")
		}
	}
	buf := streamScratch(k.Seed, tactWords(p.ID, n, nt))
	keep := false // the pending sign keeps buf until it is finished
	defer func() {
		if !keep {
			putWords(buf)
		}
	}()
	r := buf[:nt]
	R, M, rho, rhoR, rhoM, flip := k.R, k.M, k.Rho, k.RhoR, k.RhoM, k.Flip
	if p.ID == 0 {
		R, M = buf[nt:2*nt], buf[2*nt:3*nt]
		rho, rhoR, rhoM, flip = buf[3*nt:3*nt+n], buf[3*nt+n:3*nt+2*n], buf[3*nt+2*n:3*nt+3*n], buf[3*nt+3*n:]
	}
	var shift uint64
	own := uint64(1 - p.ID)
	if p.ID == 0 {
		shift = 1 << (bits - 2)
	}
	c := make([]uint64, nt)
	for i := range nt {
		c[i] = x[i] + r[i] + shift
	}
	if err := p.openInto(c, c, bits); err != nil {
		return nil, wrapGate("tact", err)
	}
	top, wsh := bits-1, bits-frac
	off := uint64(1) << (bits - 2 - frac)
	xh, g := getWords(nt), getWords(nt) // every input's public parts A and G (the pending sign keeps them)
	defer func() {
		if !keep {
			putWords(xh)
			putWords(g)
		}
	}()
	for i := range nt {
		ci := c[i] & Mask(bits)
		A := ci>>frac - off
		gi := ((ci>>top)&1 ^ 1) << wsh
		xh[i], g[i] = A, gi
	}
	o := &lutOut{lin: polyTerms(k.DPF, spec, xh[:n])}
	part := spec.parts[0]
	sb := truncActSign(p.ID, k.DPF[0], &part, xh[:n], flip)
	keep = true
	o.sign = &pendingSign{bits: sb, own: own, a: xh[:nt], g: g[:nt], r: R[:nt], m: M[:nt], rho: rho[:n], rhoR: rhoR[:n], rhoM: rhoM[:n],
		release: func() { putWords(buf); putWords(xh); putWords(g) }}
	return o, nil
}

// truncActSign returns the party's XOR shares (0 or 1 in a word per element) of s ⊕ ρ for the
// sign s = 1 ⊕ msb(I) ⊕ μ ⊕ 1{I mod 2^(m−1) < α mod 2^(m−1)} of the first part's index I (the MSB
// rule, Boyle et al., Eurocrypt 2021, §4), α = r_j the part's DPF point and μ its MSB: the
// comparison from the DPF's tree (fss.EvalLowLessBatch), flip the party's share of μ ⊕ ρ.
func truncActSign(id int, d *fss.DPFKeys, part *lutPart, xh, flip []uint64) []uint64 {
	n := len(xh)
	in, out := getWords(n), make([]uint64, n)
	defer putWords(in)
	for i := range in {
		in[i] = (xh[i] >> part.k) & Mask(part.m)
	}
	fss.ParallelFor(n, func(w *fss.Worker, lo, hi int) {
		// Cannot fail: the batch's length and tree (Leaf < Bits, checked by the decoder and the
		// generator) were checked against the gate.
		_ = w.EvalLowLessBatch(d, lo, in[lo:hi], out[lo:hi])
	})
	own := uint64(1 - id)
	for i := range out {
		out[i] ^= (flip[i] ^ own&signBit(part, xh[i])) & 1
	}
	return out
}

// pendingSign is a truncAct's sign term y·s waiting for s ⊕ ρ to be opened: the party's share bits of
// it, the public parts a = A and g of y = A − R + g·M and the party's shares of R and M (for all the
// truncated inputs, the lookup's first), and its shares of ρ, ρ·R and ρ·M (release hands their
// pooled buffers back once finished).
type pendingSign struct {
	bits            []uint64
	own             uint64
	a, g, r, m      []uint64
	rho, rhoR, rhoM []uint64
	release         func()
}

// finish returns the party's shares of y·s from the opened bits sr = s ⊕ ρ and releases the state:
// s = sr + (1 − 2·sr)·ρ, so s·y = s·A − s·R + g·s·M with s·R = sr·R + (1 − 2·sr)·ρR and likewise
// for M.
func (ps *pendingSign) finish(sr []uint64) []uint64 {
	xs := make([]uint64, len(ps.bits))
	for i := range xs {
		// The sign rule with the masked bit's complement: signStep with pb = ŝ and the masks'
		// shares taken through y's mask r' = R − g·M.
		g := ps.g[i]
		_, xs[i] = signStep(ps.own, sr[i]&1, ps.rho[i], ps.rhoR[i]-g*ps.rhoM[i], ps.r[i]-g*ps.m[i], ps.a[i])
	}
	ps.done()
	return xs
}

// done releases the state's buffers (once).
func (ps *pendingSign) done() {
	if ps.release != nil {
		ps.release()
		ps.release = nil
	}
}

// costTruncAct is the cost of truncAct (and genTruncAct's keys).
func costTruncAct(n, nt int, frac, bits uint, spec *lutSpec) Cost {
	k0 := &TruncActKey{Party: 0, Frac: frac, Bits: bits, N: n, NT: nt}
	k1 := &TruncActKey{Party: 1, Frac: frac, Bits: bits, N: n, NT: nt}
	for _, p := range spec.parts {
		if len(p.tabs) == 0 {
			continue
		}
		d0, d1 := lookupDPFShapes(&p, spec.payW, n)
		k0.DPF, k1.DPF = append(k0.DPF, d0), append(k1.DPF, d1)
	}
	return open(nt, bits).Add(keyCost(k0.Size(), k1.Size()))
}

// GenGeLURaw generates material for GeLURaw on n elements (truncation by frac at width bits).
func GenGeLURaw(rng io.Reader, n int, fx Fixed, frac, bits uint) (k0, k1 Key, err error) {
	if err := checkRawFrac("gen gelur", fx, frac); err != nil {
		return nil, nil, err
	}
	return genStaged(rng, "gelur", n, fx, actTable(geluSpec), func(s *lutSpec) (MarshalKey, MarshalKey, error) {
		k0, k1, _, err := genTruncAct(rng, n, n, frac, bits, s)
		return k0, k1, err
	}, GenTrunc)
}

// checkRawFrac checks the truncation of a raw-input gate: by at least Frac (its input has
// Frac + frac fractional bits, its output Frac).
func checkRawFrac(op string, fx Fixed, frac uint) error {
	if frac < fx.Frac || frac > 62 {
		return fmt.Errorf("hss: %s: truncation by %d bits out of range [%d, 62]", op, frac, fx.Frac)
	}
	return nil
}

// GeLURaw returns shares of GeLU(x/2^frac) (Frac fractional bits) for shares x of an untruncated
// linear output (Frac + frac fractional bits, frac ≥ Frac: 2·Frac for a linear layer of a truncated
// input, more for one of a norm's untruncated output, NormRaw; |x| < 2^(bits−2)): the truncation
// and GeLU's lookup in one round, then the lookup's truncation: 2 rounds where Trunc and GeLU take
// 3. Error: GeLU's plus the truncation's unit.
//
// Its sign s has no DCF (see the top of this file): s ⊕ ρ is opened with the second round's
// truncation, one bit more per element and party. Material at Frac 14 and width 48: 468 bytes per
// element for both parties (1276 with a sign DCF and 3-level leaves); online 24.5 bytes.
func (p *Party) GeLURaw(x []uint64, frac, bits uint) ([]uint64, error) {
	if err := checkRawFrac("gelur", p.Fx, frac); err != nil {
		return nil, err
	}
	s, err := geluSpec(p.Fx)
	if err != nil {
		return nil, fmt.Errorf("hss: gelur: %w", err)
	}
	q, err := p.sub("gelur", len(x))
	if err != nil {
		return nil, err
	}
	k, err := takeKey[*TruncActKey](q, "tact", len(x))
	if err != nil {
		return nil, wrapGate("gelur", err)
	}
	if k.Frac != frac || k.Bits != bits {
		return nil, fmt.Errorf("hss: gelur: material does not match the gate")
	}
	o, err := q.truncAct(k, s.tab, x, len(x))
	if err != nil {
		return nil, wrapGate("gelur", err)
	}
	defer o.sign.done()
	// Round 2: the polynomial term's truncation and the sign's opening s ⊕ ρ.
	t, sr, err := q.truncBits(o.lin, s.tab.fb, s.tab.tbits, o.sign.bits)
	putWords(o.lin)
	o.lin = nil
	if err != nil {
		return nil, wrapGate("gelur", err)
	}
	if err := finish("gelur", q); err != nil {
		return nil, err
	}
	xs := o.sign.finish(sr)
	for i := range t {
		t[i] += xs[i]
	}
	return t, nil
}

// CostGeLURawStages is the cost of GeLURaw (and GenGeLURaw's keys) on n elements by stage.
func CostGeLURawStages(n int, fx Fixed, frac, bits uint) ([]Stage, error) {
	if err := checkLen("cost gelur", n); err != nil {
		return nil, err
	}
	if err := checkRawFrac("cost gelur", fx, frac); err != nil {
		return nil, err
	}
	s, err := geluSpec(fx)
	if err != nil {
		return nil, fmt.Errorf("hss: cost gelur: %w", err)
	}
	if err := checkTruncAct("cost gelur", n, n, frac, bits, s.tab); err != nil {
		return nil, err
	}
	return seqStages("gelur", part{kind: "tact", c: costTruncAct(n, n, frac, bits, s.tab), label: "trunc+lut"},
		part{kind: "trunc", c: costTrunc(n, s.tab.fb, s.tab.tbits).Add(Cost{Online: 2 * int64(PackedLen(n, 1))})}), nil
}

// GenSiLUMulRaw generates material for SiLUMulRaw on n elements (truncations by frac at width bits).
func GenSiLUMulRaw(rng io.Reader, n int, fx Fixed, frac, bits uint) (k0, k1 Key, err error) {
	nt, ok := mulLen(2, n)
	if !ok {
		return nil, nil, fmt.Errorf("hss: gen silumulr: length %d out of range", n)
	}
	if err := checkRawFrac("gen silumulr", fx, frac); err != nil {
		return nil, nil, err
	}
	s, err := siluSpec(fx)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen silumulr: %w", err)
	}
	a0, a1, m, err := genTruncAct(rng, n, nt, frac, bits, s.tab)
	if err != nil {
		return nil, nil, err
	}
	t0, t1, err := genTruncProd(rng, n, s.tab.fb, s.tab.tbits, frac, bits, m)
	if err != nil {
		return nil, nil, err
	}
	return newSeqKey("silumulr", n, a0, t0), newSeqKey("silumulr", n, a1, t1), nil
}

// SiLUMulRaw returns shares of SiLU(g/2^frac)·(u/2^frac) (2·Frac fractional bits, untruncated, as
// SiLUMul) for shares g and u of untruncated linear outputs (Frac + frac fractional bits, frac ≥
// Frac as for GeLURaw, |·| < 2^(bits−2)): SwiGLU from its projections in 2 rounds (both
// truncations and SiLU's lookup, then SiLU's truncation with the opening of s ⊕ ρ, the product
// local: truncProd), where their truncation and SiLUMul take 3. Material at Frac 14 and width 48:
// 543 bytes per element for both parties (1309 with a sign DCF, a Beaver product and 3-level
// leaves, 1146 with 2-level ones); online 36.5 bytes (68.25 with the product's openings).
func (p *Party) SiLUMulRaw(g, u []uint64, frac, bits uint) ([]uint64, error) {
	n := len(g)
	if len(u) != n {
		return nil, fmt.Errorf("hss: silumulr: operands have %d and %d elements", n, len(u))
	}
	if err := checkRawFrac("silumulr", p.Fx, frac); err != nil {
		return nil, err
	}
	s, err := siluSpec(p.Fx)
	if err != nil {
		return nil, fmt.Errorf("hss: silumulr: %w", err)
	}
	q, err := p.sub("silumulr", n)
	if err != nil {
		return nil, err
	}
	k, err := takeKey[*TruncActKey](q, "tact", 2*n)
	if err != nil {
		return nil, wrapGate("silumulr", err)
	}
	if k.Frac != frac || k.Bits != bits {
		return nil, fmt.Errorf("hss: silumulr: material does not match the gate")
	}
	gu := make([]uint64, 0, 2*n)
	gu = append(append(gu, g...), u...)
	o, err := q.truncAct(k, s.tab, gu, n)
	if err != nil {
		return nil, wrapGate("silumulr", err)
	}
	defer o.sign.done()
	defer putWords(o.lin)
	kp, err := takeKey[*TruncProdKey](q, "tprod", n)
	if err != nil {
		return nil, wrapGate("silumulr", err)
	}
	if kp.Frac != s.tab.fb || kp.Bits != s.tab.tbits || kp.UFrac != frac || kp.UBits != bits {
		return nil, fmt.Errorf("hss: silumulr: material does not match the gate")
	}
	z, err := q.truncProd(kp, o.lin, o.sign)
	if err != nil {
		return nil, wrapGate("silumulr", err)
	}
	if err := finish("silumulr", q); err != nil {
		return nil, err
	}
	return z, nil
}

// CostSiLUMulRawStages is the cost of SiLUMulRaw (and GenSiLUMulRaw's keys) on n elements by stage.
func CostSiLUMulRawStages(n int, fx Fixed, frac, bits uint) ([]Stage, error) {
	if err := checkLen("cost silumulr", n); err != nil {
		return nil, err
	}
	if err := checkRawFrac("cost silumulr", fx, frac); err != nil {
		return nil, err
	}
	nt, ok := mulLen(2, n)
	if !ok {
		return nil, fmt.Errorf("hss: cost silumulr: length %d out of range", n)
	}
	s, err := siluSpec(fx)
	if err != nil {
		return nil, fmt.Errorf("hss: cost silumulr: %w", err)
	}
	if err := checkTruncAct("cost silumulr", n, nt, frac, bits, s.tab); err != nil {
		return nil, err
	}
	return seqStages("silumulr", part{kind: "tact", c: costTruncAct(n, nt, frac, bits, s.tab), label: "trunc+lut"},
		part{kind: "tprod", c: costTruncProd(n, s.tab.fb, s.tab.tbits, frac, bits)}), nil
}
