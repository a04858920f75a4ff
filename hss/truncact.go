package hss

import (
	"fmt"
	"io"
	"sync"

	"github.com/hssee/hssee/hss/fss"
)

// Truncation and an activation's lookup in one round: the outputs of a linear layer arrive
// untruncated (2·Frac fractional bits) and the activation (GeLU, or SiLU with its product) reads the
// truncation's own opening, where a truncation round then the lookup's round took two.
//
// Trunc opens c = x + r (+ 2^(ℓ−2)) at ℓ bits and returns y = A(c) − R + g(c)·M (see actmul.go),
// with g(c) a multiple of 2^(ℓ−f). If the lookup's mask is R itself, its masked input is
// y + R = A(c) + g(c)·M, which equals the public A(c) modulo 2^(ℓ−f): every index the lookup reads
// (its DPF windows and its DCF sign, at most k+m ≤ ℓ − f bits) is public after the truncation's
// round. Its sign term x·s = s·A − s·r' with r' = R − g·M needs s·R and s·M: the DCF carries the
// payload (1 − 2μ, (1 − 2μ)·R, (1 − 2μ)·M), μ the sign bit of the mask's index, and the dealer
// shares μ, μ·R and μ·M (the lookup gate of lut.go, with its mask correlated with the truncation's:
// ABY2.0-style preprocessing, Patra et al., USENIX Security 2021). That is SiLUMulRaw's sign, which
// its product needs in the second round. GeLURaw's sign needs no DCF: it is opened masked, s ⊕ ρ, in
// the second round (SignDPF keys; see GeLURaw).

// TruncActKey is one party's material for truncAct: the truncation of NT elements (frac Frac, width
// Bits) and the lookup (spec tag Tag) on the first N of them, with mask R = r >> Frac. Party 0 holds
// only Seed (r0, R0, M0 for NT elements, μ0, (μR)0, (μM)0 for N) and the FSS batches; party 1
// expands r1 from Seed and holds R1, μ1, (μR)1 at 64 bits and M1 [NT], (μM)1 [N] at 64 − Bits + Frac
// bits.
//
// A key with SignDPF set has no DCF: the sign comes from the first DPF's tree (truncActSign) as XOR
// shares of s ⊕ ρ for a fresh random bit ρ, opened in the gate's second round. Mu, MuR and MuM then
// share ρ, ρ·R and ρ·M, and Flip (party 1 only, one bit per element; party 0's from Seed) XOR-shares
// μ ⊕ ρ.
type TruncActKey struct {
	Consumable
	Party      uint8
	Frac, Bits uint
	N, NT      int
	Tag        uint64
	Seed       [32]byte
	SignDPF    bool
	R, M       []uint64 // party 1 only: [NT]
	Mu, MuR    []uint64 // party 1 only: [N]
	MuM        []uint64 // party 1 only: [N]
	Flip       []uint64 // party 1 with SignDPF only: [N], bits
	DCF        *fss.DCFKeys
	DPF        []*fss.DPFKeys
}

func (k *TruncActKey) Kind() string { return "tact" }
func (k *TruncActKey) Len() int     { return k.NT }

// PartyID returns the party (0 or 1) the key belongs to.
func (k *TruncActKey) PartyID() int { return int(k.Party) }

func (k *TruncActKey) msbWidth() uint { return 64 - k.Bits + k.Frac }

func (k *TruncActKey) Size() int {
	s := 3 + 8 + 8 + 32 + 1 + 1
	if k.Party == 1 {
		s += PackedLen(k.NT, 64) + PackedLen(2*k.N, 64) + PackedLen(k.NT+k.N, k.msbWidth())
		if k.SignDPF {
			s += PackedLen(k.N, 1)
		}
	}
	if k.DCF != nil {
		s += 4 + fssHeaderLen + k.DCF.Size()
	}
	for _, d := range k.DPF {
		s += 4 + fssHeaderLen + d.Size()
	}
	return s
}

func (k *TruncActKey) shapeOK() bool {
	if k.SignDPF == (k.DCF != nil) || k.SignDPF && len(k.DPF) == 0 {
		return false
	}
	if k.Party == 0 {
		return k.R == nil && k.M == nil && k.Mu == nil && k.MuR == nil && k.MuM == nil && k.Flip == nil
	}
	return len(k.R) == k.NT && len(k.M) == k.NT && len(k.Mu) == k.N && len(k.MuR) == k.N && len(k.MuM) == k.N &&
		len(k.Flip) == k.N == k.SignDPF
}

func (k *TruncActKey) MarshalBinary() ([]byte, error) {
	if k.Party > 1 || len(k.DPF) > maxLUTParts || !k.shapeOK() {
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
	var sd uint8
	if k.SignDPF {
		sd = 1
	}
	e.U8(sd)
	if k.Party == 1 {
		e.Packed(k.R, 64)
		e.Packed(k.Mu, 64)
		e.Packed(k.MuR, 64)
		e.Packed(k.M, k.msbWidth())
		e.Packed(k.MuM, k.msbWidth())
		if k.SignDPF {
			e.Packed(k.Flip, 1)
		}
	}
	ms := dpfMarshalers(k.DPF)
	if k.DCF != nil {
		ms = append([]interface{ MarshalBinary() ([]byte, error) }{k.DCF}, ms...)
	}
	for _, m := range ms {
		b, err := m.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("hss: tact key: marshal: %w", err)
		}
		e.U32(uint32(len(b)))
		e.b = append(e.b, b...)
	}
	return e.Bytes(), nil
}

func dpfMarshalers(ds []*fss.DPFKeys) []interface{ MarshalBinary() ([]byte, error) } {
	out := make([]interface{ MarshalBinary() ([]byte, error) }, len(ds))
	for i, d := range ds {
		out[i] = d
	}
	return out
}

func (k *TruncActKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	party := d.U8()
	frac, bits := uint(d.U8()), uint(d.U8())
	n, nt := int(d.U32()), int(d.U32())
	tag := d.U64()
	seed := d.Seed()
	ndpf := int(d.U8())
	sd := d.U8()
	sdpf := sd == 1
	if d.Err() == nil && (sd > 1 || party > 1 || bits < 2 || bits > 64 || frac+2 > bits || nt > MaxKeyLen || n > nt || ndpf > maxLUTParts || sdpf && ndpf == 0) {
		d.Fail(fmt.Errorf("party %d, frac %d, width %d, lengths %d/%d, %d parts: %w", party, frac, bits, n, nt, ndpf, errKey))
	}
	out := &TruncActKey{Party: party, Frac: frac, Bits: bits, N: n, NT: nt, Tag: tag, Seed: seed, SignDPF: sdpf}
	if d.Err() == nil && party == 1 {
		w := out.msbWidth()
		out.R, out.Mu, out.MuR = d.Packed(nt, 64), d.Packed(n, 64), d.Packed(n, 64)
		out.M, out.MuM = d.Packed(nt, w), d.Packed(n, w)
		if sdpf {
			out.Flip = d.Packed(n, 1)
		}
	}
	if d.Err() == nil && !sdpf {
		raw := d.take(int(d.U32()))
		if d.Err() == nil {
			out.DCF = new(fss.DCFKeys)
			if err := out.DCF.UnmarshalBinary(raw); err != nil {
				d.Fail(err)
			} else if out.DCF.N != n || out.DCF.Party != int(party) || out.DCF.P != 3 || out.DCF.Bits < 1 || out.DCF.Bits > 62 {
				d.Fail(fmt.Errorf("comparison keys do not match: %w", errKey))
			}
		}
	}
	if d.Err() == nil {
		out.DPF = decodeDPFBatches(d, ndpf, n, int(party))
	}
	if d.Err() == nil && sdpf && (out.DPF[0].Leaf >= out.DPF[0].Bits || out.DPF[0].Bits < 2) {
		d.Fail(fmt.Errorf("sign lookup without a tree level: %w", errKey))
	}
	if err := d.Finish(); err != nil {
		*k = TruncActKey{}
		return fmt.Errorf("hss: tact key: %w", err)
	}
	k.Party, k.Frac, k.Bits, k.N, k.NT, k.Tag, k.Seed = out.Party, out.Frac, out.Bits, out.N, out.NT, out.Tag, out.Seed
	k.SignDPF, k.Flip = out.SignDPF, out.Flip
	k.R, k.M, k.Mu, k.MuR, k.MuM, k.DCF, k.DPF = out.R, out.M, out.Mu, out.MuR, out.MuM, out.DCF, out.DPF
	return nil
}

func init() {
	RegisterKey("tact", func() MarshalKey { return new(TruncActKey) })
	registerSeq("gelur", "tact", "trunc")
	registerSeq("silumulr", "tact", "truncmul")
}

// tactWords is the number of words a party expands from its seed: party 0 r0, R0, M0, its sign shares
// (μ0, (μR)0, (μM)0 or, with signDPF, those of ρ) and with signDPF its Flip bits; party 1 r1.
func tactWords(party, n, nt int, signDPF bool) int {
	if party == 1 {
		return nt
	}
	if signDPF {
		return 3*nt + 4*n
	}
	return 3*nt + 3*n
}

// genTruncAct generates material for truncAct: nt ≥ n elements truncated by frac at width bits, the
// lookup spec (with a sign term and polynomial parts) on the first n; with signDPF the sign comes
// from the first part's DPF (truncActSign) instead of a DCF.
func genTruncAct(rng io.Reader, n, nt int, frac, bits uint, spec *lutSpec, signDPF bool) (k0, k1 *TruncActKey, err error) {
	if err := checkTruncAct("gen tact", n, nt, frac, bits, spec, signDPF); err != nil {
		return nil, nil, err
	}
	s0, s1, b0, b1, release, err := seedStreams(rng, "gen tact", tactWords(0, n, nt, signDPF), tactWords(1, n, nt, signDPF))
	if err != nil {
		return nil, nil, err
	}
	defer release()
	k0 = &TruncActKey{Party: 0, Frac: frac, Bits: bits, N: n, NT: nt, Tag: spec.tag, Seed: s0, SignDPF: signDPF}
	k1 = &TruncActKey{Party: 1, Frac: frac, Bits: bits, N: n, NT: nt, Tag: spec.tag, Seed: s1, SignDPF: signDPF,
		R: make([]uint64, nt), M: make([]uint64, nt), Mu: make([]uint64, n), MuR: make([]uint64, n), MuM: make([]uint64, n)}
	mw := Mask(k1.msbWidth())
	R, M := make([]uint64, nt), make([]uint64, nt)
	for i := range nt {
		r := (b0[i] + b1[i]) & Mask(bits)
		R[i], M[i] = r>>frac, r>>(bits-1)
		k1.R[i] = R[i] - b0[nt+i]
		k1.M[i] = (M[i] - b0[2*nt+i]) & mw
	}
	R, M = R[:n], M[:n]
	for _, p := range spec.parts {
		if len(p.tabs) == 0 {
			continue
		}
		if p.m > fss.MaxWindowBits || !p.poly() || len(p.tabs) != p.deg+1 {
			return nil, nil, fmt.Errorf("hss: gen tact: malformed lookup part")
		}
		pts := make([]uint64, n)
		np := p.payload()
		betas := make([]uint64, np*n)
		for i := range pts {
			pts[i] = (R[i] >> p.k) & Mask(p.m)
			rho, v := (R[i]&Mask(p.k))>>p.drop, uint64(1)
			for c := range np {
				betas[np*i+c] = v
				v *= rho
			}
		}
		gen := fss.GenDPFTop
		if p.top() > 0 {
			gen = fss.GenDPFTopSeeded
		}
		d0, d1, err := gen(rng, p.m, p.leaf(), p.top(), np, pts, betas)
		if err == nil {
			err = narrowDPF(spec.payW, d0, d1)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("hss: gen tact: %w", err)
		}
		k0.DPF, k1.DPF = append(k0.DPF, d0), append(k1.DPF, d1)
	}
	p := spec.parts[0]
	mu0, mur0, mum0 := b0[3*nt:3*nt+n], b0[3*nt+n:3*nt+2*n], b0[3*nt+2*n:3*nt+3*n]
	if signDPF {
		// A fresh bit ρ per element, the dealer's own: the parties open s ⊕ ρ.
		rho, err := randU64s(rng, n)
		if err != nil {
			return nil, nil, fmt.Errorf("hss: gen tact: %w", err)
		}
		flip0 := b0[3*nt+3*n:]
		k1.Flip = make([]uint64, n)
		for i := range n {
			rb := rho[i] & 1
			mu := (R[i] >> (p.k + p.m - 1)) & 1
			k1.Mu[i] = rb - mu0[i]
			k1.MuR[i] = rb*R[i] - mur0[i]
			k1.MuM[i] = (rb*M[i] - mum0[i]) & mw
			k1.Flip[i] = (mu ^ rb ^ flip0[i]) & 1
		}
		return k0, k1, nil
	}
	alphas, betas := make([]uint64, n), make([]uint64, 3*n)
	for i := range n {
		rj := (R[i] >> p.k) & Mask(p.m)
		mu := rj >> (p.m - 1)
		alphas[i] = rj & Mask(p.m-1)
		betas[3*i], betas[3*i+1], betas[3*i+2] = 1-2*mu, (1-2*mu)*R[i], (1-2*mu)*M[i]
		k1.Mu[i] = mu - mu0[i]
		k1.MuR[i] = mu*R[i] - mur0[i]
		k1.MuM[i] = (mu*M[i] - mum0[i]) & mw
	}
	d0, d1, err := fss.GenDCF(rng, p.m-1, 3, alphas, betas)
	if err != nil {
		return nil, nil, fmt.Errorf("hss: gen tact: %w", err)
	}
	k0.DCF, k1.DCF = d0, d1
	return k0, k1, nil
}

// checkTruncAct checks truncAct's shape: nt ≥ n elements, the truncation by frac at width bits, and a
// lookup that reads no bit above the truncation's output.
func checkTruncAct(op string, n, nt int, frac, bits uint, spec *lutSpec, signDPF bool) error {
	if n < 0 || nt < n || nt > MaxKeyLen || bits < 2 || bits > 64 || frac+2 > bits || !spec.signTerm {
		return fmt.Errorf("hss: %s: lengths %d/%d, frac %d, width %d out of range", op, n, nt, frac, bits)
	}
	if signDPF && (spec.nlookups() == 0 || !spec.parts[0].poly() || spec.parts[0].leaf() >= spec.parts[0].m) {
		return fmt.Errorf("hss: %s: a sign from the lookup needs a first part with a tree", op)
	}
	for _, p := range spec.parts {
		if p.k+p.m > bits-frac {
			return fmt.Errorf("hss: %s: lookup reads %d bits, above the truncation's %d", op, p.k+p.m, bits-frac)
		}
	}
	return nil
}

// truncAct truncates x (nt elements, |x| < 2^(bits−2)) by frac and runs the lookup spec on the first
// n of the results, in one round: it returns the truncations y and the lookup's outputs (xs = y·s
// and the untruncated polynomial term lin, in a pooled buffer) for y[:n]. With a SignDPF key xs is
// not ready: o.sign holds the party's share of s ⊕ ρ, to open in the next round (pendingSign).
func (p *Party) truncAct(k *TruncActKey, spec *lutSpec, x []uint64, n int) (y []uint64, o *lutOut, err error) {
	nt := len(x)
	frac, bits := k.Frac, k.Bits
	if int(k.Party) != p.ID || k.NT != nt || k.N != n || k.Tag != spec.tag || len(k.DPF) != spec.nlookups() || !k.shapeOK() {
		return nil, nil, fmt.Errorf("hss: tact: material does not match the gate")
	}
	if !k.SignDPF && (k.DCF.N != n || k.DCF.P != 3 || k.DCF.Bits != spec.parts[0].m-1 || k.DCF.Width != 0) {
		return nil, nil, fmt.Errorf("hss: tact: material does not match the gate")
	}
	for j, d := range k.DPF {
		pt := &spec.parts[j]
		if d.N != n || d.Bits != pt.m || d.Party != p.ID || d.P != pt.payload() || d.Leaf != pt.leaf() || d.Top != pt.top() || d.Width != spec.payW {
			return nil, nil, fmt.Errorf("hss: tact: material does not match the gate")
		}
	}
	buf := streamScratch(k.Seed, tactWords(p.ID, n, nt, k.SignDPF))
	keep := false // a pending sign keeps buf until it is finished
	defer func() {
		if !keep {
			putWords(buf)
		}
	}()
	r := buf[:nt]
	R, M, mu, muR, muM, flip := k.R, k.M, k.Mu, k.MuR, k.MuM, k.Flip
	if p.ID == 0 {
		R, M = buf[nt:2*nt], buf[2*nt:3*nt]
		mu, muR, muM = buf[3*nt:3*nt+n], buf[3*nt+n:3*nt+2*n], buf[3*nt+2*n:3*nt+3*n]
		if k.SignDPF {
			flip = buf[3*nt+3*n:]
		}
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
		return nil, nil, wrapGate("tact", err)
	}
	top, wsh := bits-1, bits-frac
	off := uint64(1) << (bits - 2 - frac)
	y = make([]uint64, nt)
	xh, g := getWords(n), getWords(n)
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
		y[i] = own*A - R[i] + gi*M[i]
		if i < n {
			xh[i], g[i] = A, gi
		}
	}
	o = &lutOut{lin: polyTerms(k.DPF, spec, xh)}
	part := spec.parts[0]
	if k.SignDPF {
		sb, err := truncActSign(p.ID, k.DPF[0], &part, xh, flip)
		if err != nil {
			putWords(o.lin)
			return nil, nil, fmt.Errorf("hss: tact: %w", err)
		}
		keep = true
		o.sign = &pendingSign{bits: sb, own: own, a: xh[:n], g: g[:n], r: R[:n], m: M[:n], rho: mu[:n], rhoR: muR[:n], rhoM: muM[:n],
			release: func() { putWords(buf); putWords(xh); putWords(g) }}
		return y, o, nil
	}
	cs, err := evalSignDCF(p.ID, k.DCF, &part, xh)
	if err != nil {
		if o.lin != nil {
			putWords(o.lin)
		}
		return nil, nil, fmt.Errorf("hss: tact: %w", err)
	}
	defer putWords(cs)
	o.xs = make([]uint64, n)
	for i := range n {
		// As evalLUTWith with the mask r' = R − g·M of y = A − r'.
		ur := muR[i] + cs[3*i+1] - g[i]*(muM[i]+cs[3*i+2])
		_, o.xs[i] = signStep(own, signBit(&part, xh[i]), mu[i]+cs[3*i], ur, R[i]-g[i]*M[i], xh[i])
	}
	return y, o, nil
}

// truncActSign returns the party's XOR shares (0 or 1 in a word per element) of s ⊕ ρ for the
// sign s = 1 ⊕ msb(I) ⊕ μ ⊕ 1{I mod 2^(m−1) < α mod 2^(m−1)} of the first part's index I (the MSB
// rule, Boyle et al., Eurocrypt 2021, §4), α = r_j the part's DPF point and μ its MSB: the
// comparison from the DPF's tree (fss.EvalLowLessBatch), flip the party's share of μ ⊕ ρ.
func truncActSign(id int, d *fss.DPFKeys, part *lutPart, xh, flip []uint64) ([]uint64, error) {
	n := len(xh)
	in, out := getWords(n), make([]uint64, n)
	defer putWords(in)
	for i := range in {
		in[i] = (xh[i] >> part.k) & Mask(part.m)
	}
	var ferr error
	var mu sync.Mutex
	fss.ParallelFor(n, func(w *fss.Worker, lo, hi int) {
		if err := w.EvalLowLessBatch(d, lo, in[lo:hi], out[lo:hi]); err != nil {
			mu.Lock()
			ferr = err
			mu.Unlock()
		}
	})
	if ferr != nil {
		return nil, ferr
	}
	own := uint64(1 - id)
	for i := range out {
		out[i] ^= (flip[i] ^ own&signBit(part, xh[i])) & 1
	}
	return out, nil
}

// pendingSign is a truncAct's sign term y·s waiting for s ⊕ ρ to be opened: the party's share bits of
// it, the public parts a = A and g of y = A − R + g·M, and the party's shares of R, M, ρ, ρ·R and ρ·M
// (release hands their pooled buffers back once finished).
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
		b := sr[i] & 1
		f := 1 - 2*b
		s := ps.own*b + f*ps.rho[i]
		sR := b*ps.r[i] + f*ps.rhoR[i]
		sM := b*ps.m[i] + f*ps.rhoM[i]
		xs[i] = s*ps.a[i] - sR + ps.g[i]*sM
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
func costTruncAct(n, nt int, frac, bits uint, spec *lutSpec, signDPF bool) Cost {
	k0 := &TruncActKey{Party: 0, Frac: frac, Bits: bits, N: n, NT: nt, SignDPF: signDPF}
	if !signDPF {
		k0.DCF = &fss.DCFKeys{Bits: spec.parts[0].m - 1, P: 3, N: n}
	}
	k1 := &TruncActKey{Party: 1, Frac: frac, Bits: bits, N: n, NT: nt, DCF: k0.DCF, SignDPF: signDPF}
	for _, p := range spec.parts {
		if len(p.tabs) == 0 {
			continue
		}
		k0.DPF = append(k0.DPF, &fss.DPFKeys{Bits: p.m, Leaf: p.leaf(), Top: p.top(), P: p.payload(), N: n, Seeded: p.top() > 0, Width: spec.payW})
		k1.DPF = append(k1.DPF, &fss.DPFKeys{Bits: p.m, Leaf: p.leaf(), Top: p.top(), P: p.payload(), N: n, Width: spec.payW})
	}
	return open(nt, bits).Add(keyCost(k0.Size(), k1.Size()))
}

// GenGeLURaw generates material for GeLURaw on n elements (truncation by frac at width bits).
func GenGeLURaw(rng io.Reader, n int, fx Fixed, frac, bits uint) (k0, k1 Key, err error) {
	if err := checkRawFrac("gen gelur", fx, frac); err != nil {
		return nil, nil, err
	}
	return genRaw(rng, "gelur", n, n, fx, frac, bits, geluSpec, true, GenTrunc)
}

// checkRawFrac checks the truncation of a raw-input gate: by at least Frac (its input has
// Frac + frac fractional bits, its output Frac).
func checkRawFrac(op string, fx Fixed, frac uint) error {
	if frac < fx.Frac || frac > 62 {
		return fmt.Errorf("hss: %s: truncation by %d bits out of range [%d, 62]", op, frac, fx.Frac)
	}
	return nil
}

// genRaw generates the material of the raw-input gate kind on n elements: the fused truncation (nt
// elements, by frac at width bits) and lookup of the activation spec (its sign from the lookup's DPF
// when signDPF), then trunc's keys for the lookup's truncation.
func genRaw[T MarshalKey](rng io.Reader, kind string, n, nt int, fx Fixed, frac, bits uint, spec func(Fixed) (*actSpecs, error), signDPF bool, trunc func(io.Reader, int, uint, uint) (T, T, error)) (Key, Key, error) {
	return genStaged(rng, kind, n, fx, actTable(spec), func(s *lutSpec) (MarshalKey, MarshalKey, error) {
		return genTruncAct(rng, n, nt, frac, bits, s, signDPF)
	}, trunc)
}

// GeLURaw returns shares of GeLU(x/2^frac) (Frac fractional bits) for shares x of an untruncated
// linear output (Frac + frac fractional bits, frac ≥ Frac: 2·Frac for a linear layer of a truncated
// input, more for one of a norm's untruncated output, NormRaw; |x| < 2^(bits−2)): the truncation
// and GeLU's lookup in one round, then the lookup's truncation: 2 rounds where Trunc and GeLU take
// 3. Error: GeLU's plus the truncation's unit.
//
// Its sign s has no DCF: the comparison the MSB rule needs is read off the lookup's own DPF
// (fss.EvalLowLessBatch, Grotto's prefix parity) as XOR shares, and the parties open s ⊕ ρ for a
// fresh dealer bit ρ with the second round's truncation (one bit more per element and party), then
// s·y = s·A − s·R + g·s·M from shares of ρ, ρ·R and ρ·M (pendingSign). Against the DCF (7 levels,
// payload 3 at 64 bits: 322 bytes per element and party) the keys are 2.5 times smaller: ≈ 630
// bytes per element for both parties at Frac 14, of which the DPF is ≈ 585.
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
	if k.Frac != frac || k.Bits != bits || !k.SignDPF {
		return nil, fmt.Errorf("hss: gelur: material does not match the gate")
	}
	_, o, err := q.truncAct(k, s.tab, x, len(x))
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
	if err := checkTruncAct("cost gelur", n, n, frac, bits, s.tab, true); err != nil {
		return nil, err
	}
	return seqStages("gelur", part{kind: "tact", c: costTruncAct(n, n, frac, bits, s.tab, true), label: "trunc+lut"},
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
	return genRaw(rng, "silumulr", n, nt, fx, frac, bits, siluSpec, false, genTruncMul)
}

// SiLUMulRaw returns shares of SiLU(g/2^frac)·(u/2^frac) (2·Frac fractional bits, untruncated, as
// SiLUMul) for shares g and u of untruncated linear outputs (Frac + frac fractional bits, frac ≥
// Frac as for GeLURaw, |·| < 2^(bits−2)): SwiGLU from its projections in 2 rounds (both
// truncations and SiLU's lookup, then SiLU's truncation with the product), where their truncation
// and SiLUMul take 3.
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
	y, o, err := q.truncAct(k, s.tab, gu, n)
	if err != nil {
		return nil, wrapGate("silumulr", err)
	}
	return q.siluTimes("silumulr", o, y[n:], s.tab)
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
	if err := checkTruncAct("cost silumulr", n, nt, frac, bits, s.tab, false); err != nil {
		return nil, err
	}
	return seqStages("silumulr", part{kind: "tact", c: costTruncAct(n, nt, frac, bits, s.tab, false), label: "trunc+lut"},
		part{kind: "truncmul", c: costTruncMul(n, s.tab.fb, s.tab.tbits)}), nil
}
