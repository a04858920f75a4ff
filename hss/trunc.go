package hss

import (
	"fmt"
	"io"
)

// TruncKey is one party's material for Trunc over N elements: shares of a mask r ∈ Z_2^Bits, of
// r >> Frac and of msb(r). Party 0 holds only Seed (r0, (r>>f)0 and msb0 are expanded from it); party 1
// expands r1 from Seed and holds RHi and RMsb explicitly (RMsb reduced mod 2^(64−Bits+Frac), the only
// part that matters).
type TruncKey struct {
	Consumable
	Party      uint8
	Frac, Bits uint
	N          int
	Seed       [32]byte
	RHi, RMsb  []uint64 // party 1 only
}

func (k *TruncKey) Kind() string { return "trunc" }
func (k *TruncKey) Len() int     { return k.N }
func (k *TruncKey) msbWidth() uint {
	return 64 - k.Bits + k.Frac
}

// Size is the length of MarshalBinary's output.
func (k *TruncKey) Size() int {
	s := 3 + 4 + 32
	if k.Party == 1 {
		s += PackedLen(k.N, 64)
		if w := k.msbWidth(); w > 0 {
			s += PackedLen(k.N, w)
		}
	}
	return s
}

// encodeTruncHeader starts the encoding of a truncation key (TruncKey, TruncMulKey) of size bytes:
// party, frac, width, length and seed.
func encodeTruncHeader(size int, party uint8, frac, bits uint, n int, seed [32]byte) Enc {
	e := Enc{b: make([]byte, 0, size)}
	e.U8(party)
	e.U8(uint8(frac))
	e.U8(uint8(bits))
	e.U32(uint32(n))
	e.Seed(seed)
	return e
}

func (k *TruncKey) MarshalBinary() ([]byte, error) {
	e := encodeTruncHeader(k.Size(), k.Party, k.Frac, k.Bits, k.N, k.Seed)
	if k.Party == 1 {
		if len(k.RHi) != k.N || len(k.RMsb) != k.N {
			return nil, fmt.Errorf("hss: trunc key: marshal: %w", errKey)
		}
		e.Packed(k.RHi, 64)
		if w := k.msbWidth(); w > 0 {
			e.Packed(k.RMsb, w)
		}
	}
	return e.Bytes(), nil
}

// decodeTruncHeader reads encodeTruncHeader's fields and checks them (failing d): a party, 2 ≤
// frac+2 ≤ bits ≤ 64 and a length up to MaxKeyLen.
func decodeTruncHeader(d *Dec) (party uint8, frac, bits uint, n int, seed [32]byte) {
	party = d.U8()
	frac, bits = uint(d.U8()), uint(d.U8())
	n = int(d.U32())
	seed = d.Seed()
	if d.Err() == nil {
		if err := checkParty(party); err != nil {
			d.Fail(err)
		} else if bits < 2 || bits > 64 || frac+2 > bits || n > MaxKeyLen {
			d.Fail(fmt.Errorf("frac %d, width %d, length %d: %w", frac, bits, n, errKey))
		}
	}
	return party, frac, bits, n, seed
}

func (k *TruncKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	k.Party, k.Frac, k.Bits, k.N, k.Seed = decodeTruncHeader(d)
	k.RHi, k.RMsb = nil, nil
	if d.Err() == nil && k.Party == 1 {
		k.RHi = d.Packed(k.N, 64)
		if w := k.msbWidth(); w > 0 {
			k.RMsb = d.Packed(k.N, w)
		} else {
			k.RMsb = make([]uint64, k.N)
		}
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: trunc key: %w", err)
	}
	return nil
}

// PartyID returns the party (0 or 1) the key belongs to.
func (k *TruncKey) PartyID() int { return int(k.Party) }

func init() { RegisterKey("trunc", func() MarshalKey { return new(TruncKey) }) }

// GenTrunc generates Trunc material for n elements: truncation by frac bits of inputs opened at width
// bits (0 means 64). The inputs must satisfy |x| < 2^(bits−2) as signed integers; frac ≤ bits−2.
//
// The dealer samples r uniform in Z_2^bits as r = r0 + r1 (each share expanded from its party's
// seed) and shares r >> frac and msb(r) = r >> (bits−1) in Z_2^64; party 0's key is only its seed.
func GenTrunc(rng io.Reader, n int, frac, bits uint) (k0, k1 *TruncKey, err error) {
	k0, k1, _, err = genTruncR(rng, n, frac, bits, false)
	return k0, k1, err
}

// genTruncR is GenTrunc that also returns, when keepR, the masks' high parts R = r >> frac (for a
// gate that reuses R as another mask: countMaxRaw).
func genTruncR(rng io.Reader, n int, frac, bits uint, keepR bool) (k0, k1 *TruncKey, R []uint64, err error) {
	bits = normBits(bits)
	s0, s1, err := truncSeeds(rng, "gen trunc", n, frac, bits)
	if err != nil {
		return nil, nil, nil, err
	}
	b0, r1 := streamScratch(s0, 3*n), streamScratch(s1, n) // r0, (r>>f)0, msb0; r1
	defer putWords(b0)
	defer putWords(r1)
	v0 := [3][]uint64{b0[:n], b0[n : 2*n], b0[2*n:]}
	k0 = &TruncKey{Party: 0, Frac: frac, Bits: bits, N: n, Seed: s0}
	k1 = &TruncKey{Party: 1, Frac: frac, Bits: bits, N: n, Seed: s1, RHi: make([]uint64, n), RMsb: make([]uint64, n)}
	if keepR {
		R = make([]uint64, n)
	}
	mask, mw := Mask(bits), Mask(k1.msbWidth())
	for i := range n {
		r := (v0[0][i] + r1[i]) & mask
		k1.RHi[i] = r>>frac - v0[1][i]
		k1.RMsb[i] = (r>>(bits-1) - v0[2][i]) & mw
		if keepR {
			R[i] = r >> frac
		}
	}
	return k0, k1, R, nil
}

// truncSeeds checks a truncation's shape (n elements, frac bits dropped at width bits) and draws both
// parties' seeds: the start of every generator of truncation masks (GenTrunc, genTruncMul).
func truncSeeds(rng io.Reader, op string, n int, frac, bits uint) (s0, s1 [32]byte, err error) {
	if err := checkLen(op, n); err != nil {
		return s0, s1, err
	}
	if bits < 2 || bits > 64 || frac+2 > bits {
		return s0, s1, fmt.Errorf("hss: %s: frac %d and width %d need 2 ≤ frac+2 ≤ width ≤ 64", op, frac, bits)
	}
	if s0, s1, err = seeds(rng); err != nil {
		return s0, s1, wrapGate(op, err)
	}
	return s0, s1, nil
}

// Trunc returns shares of x / 2^frac for shares x of signed values with |x| < 2^(bits−2) (bits = 0
// means 64), in one round in which each party sends bits bits per element.
//
// Construction (dealer-assisted faithful truncation with an MSB wrap correction, in the line of the
// truncation pairs of ABY3 (Mohassel–Rindal, CCS 2018) made exact for bounded inputs as in Escudero,
// Ghosh, Keller, Rachuri and Scholl, "Improved Primitives for MPC over Mixed Arithmetic-Binary Circuits"
// (CRYPTO 2020), and the "truncation with known MSB" of Cheetah (Huang et al., USENIX Security 2022)):
// shift x' = x + 2^(ℓ−2) ∈ [0, 2^(ℓ−1)) with ℓ = bits, open c = x' + r mod 2^ℓ (uniform, so the view is
// independent of x), and use that over the integers x' = c − r + w·2^ℓ with the wrap bit
// w = msb(r)·(1 − msb(c)) — linear in the shared bit msb(r) because c is public. Then
//
//	⌊x'/2^f⌋ = (c >> f) − (r >> f) + w·2^(ℓ−f) − [c mod 2^f < r mod 2^f],
//
// and the parties compute everything but the last (borrow) term locally, then subtract 2^(ℓ−2−f).
//
// Error bound: the result is ⌊x/2^f⌋ or ⌊x/2^f⌋ + 1, so |Trunc(x) − x/2^f| < 1 unit (of 2^−f after
// rescaling), never a large error; the +1 occurs with probability (x mod 2^f)/2^f, so the rounding is
// stochastic and unbiased. Outside the input range the result is undefined (no error is reported:
// the parties cannot see x).
func (p *Party) Trunc(x []uint64, frac, bits uint) ([]uint64, error) {
	bits = normBits(bits)
	if err := p.check("trunc"); err != nil {
		return nil, err
	}
	k, err := takeKey[*TruncKey](p, "trunc", len(x))
	if err != nil {
		return nil, err
	}
	return p.truncWith(k, x, frac, bits)
}

func (p *Party) truncWith(k *TruncKey, x []uint64, frac, bits uint) ([]uint64, error) {
	return p.truncPub(k, x, frac, bits, nil)
}

// truncPub is truncWith that also writes, when pub is not nil, the public part A(c) = (c >> frac) −
// 2^(bits−2−frac) of every output (y = A − R + g·M; see actmul.go) into pub.
func (p *Party) truncPub(k *TruncKey, x []uint64, frac, bits uint, pub []uint64) ([]uint64, error) {
	u, release, err := p.truncMask(k, x, frac, bits)
	if err != nil {
		return nil, err
	}
	defer release()
	// Open c = u + peer's u mod 2^ℓ and finish each chunk of c while it is in L1.
	recv, err := p.exchangePacked(u, bits)
	if err != nil {
		return nil, wrapGate("trunc", wrapGate("open", err))
	}
	out := p.truncOpen(k, u, recv, frac, bits, pub)
	putBytes(recv)
	return out, nil
}

// truncBits is Trunc that also opens, in the same round, the XOR of the parties' bits b (one per
// element, 0 or 1; each party sends one bit per element more, riding on the truncation's message):
// it returns the shares of x / 2^frac and the opened bits.
func (p *Party) truncBits(x []uint64, frac, bits uint, b []uint64) ([]uint64, []uint64, error) {
	q, r := p.riding(0, func() ([]byte, error) { return PackBits(nil, b, 1), nil })
	y, err := q.Trunc(x, frac, bits)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPacked(r.got, len(b), 1); err != nil {
		return nil, nil, fmt.Errorf("hss: trunc: peer message: %w", err)
	}
	ob := make([]uint64, len(b))
	unpackInto(ob, r.got, 1)
	for i := range ob {
		ob[i] ^= b[i] & 1
	}
	return y, ob, nil
}

// truncMask checks a truncation's material and returns the party's masked inputs u = x + r (+
// 2^(ℓ−2) for party 0), to be opened at width bits (truncOpen finishes), and the release of their
// buffer.
func (p *Party) truncMask(k *TruncKey, x []uint64, frac, bits uint) (u []uint64, release func(), err error) {
	if k.Frac != frac || k.Bits != bits || int(k.Party) != p.ID {
		return nil, nil, fmt.Errorf("hss: trunc: key is for party %d, frac %d, width %d; call is party %d, frac %d, width %d",
			k.Party, k.Frac, k.Bits, p.ID, frac, bits)
	}
	n := len(x)
	if p.ID == 1 && (len(k.RHi) != n || len(k.RMsb) != n) {
		return nil, nil, fmt.Errorf("hss: trunc: malformed key")
	}
	// Party 0 expands r0, (r>>f)0 and msb0 from its seed, party 1 r1 (the same draws as expand).
	nr := n
	if p.ID == 0 {
		nr = 3 * n
	}
	buf := streamScratch(k.Seed, nr)
	var shift uint64
	if p.ID == 0 {
		shift = 1 << (bits - 2)
	}
	u = buf[:n] // reuse r: u = x + r (+ 2^(ℓ−2))
	for i := range u {
		u[i] += x[i] + shift
	}
	return u, func() { putWords(buf) }, nil
}

// truncOpen finishes a truncation from the party's masked inputs u (truncMask) and the peer's,
// recv (packed at width bits): it returns the shares of x / 2^frac and, when pub is not nil, writes
// the public parts A(c) into pub.
func (p *Party) truncOpen(k *TruncKey, u []uint64, recv []byte, frac, bits uint, pub []uint64) []uint64 {
	n := len(u)
	rhi, rmsb := k.RHi, k.RMsb
	if p.ID == 0 {
		// Party 0's (r>>f)0 and msb0 follow r0 (= u's buffer) in its seed's stream.
		all := u[:3*n]
		rhi, rmsb = all[n:2*n], all[2*n:]
	}
	out := make([]uint64, n)
	rhi, rmsb = rhi[:n], rmsb[:n]
	mask, top, wsh := Mask(bits), bits-1, bits-frac
	var off uint64 // party 0 subtracts 2^(ℓ−2−f), the shift, after truncation
	if p.ID == 0 {
		off = 1 << (bits - 2 - frac)
	}
	var t [unpackAddChunk]uint64
	for c0 := 0; c0 < n; c0 += unpackAddChunk {
		c1 := min(c0+unpackAddChunk, n)
		cs := t[:c1-c0]
		unpackInto(cs, recv[c0*int(bits)/8:], bits)
		o, uu, hi, ms := out[c0:c1], u[c0:c1], rhi[c0:c1], rmsb[c0:c1]
		if pub != nil {
			for i, v := range cs {
				pub[c0+i] = ((v+uu[i])&mask)>>frac - (uint64(1) << (bits - 2 - frac))
			}
		}
		if p.ID == 0 {
			for i, v := range cs {
				ci := (v + uu[i]) & mask
				notMSB := (ci>>top)&1 ^ 1
				o[i] = ci>>frac - off - hi[i] + notMSB*(ms[i]<<wsh)
			}
		} else {
			for i, v := range cs {
				ci := (v + uu[i]) & mask
				notMSB := (ci>>top)&1 ^ 1
				o[i] = notMSB*(ms[i]<<wsh) - hi[i]
			}
		}
	}
	return out
}

// CostTrunc is the cost of Trunc (and of GenTrunc's keys) on n elements.
func CostTrunc(n int, frac, bits uint) (Cost, error) {
	bits = normBits(bits)
	if err := checkLen("cost trunc", n); err != nil {
		return Cost{}, err
	}
	if bits < 2 || bits > 64 || frac+2 > bits {
		return Cost{}, fmt.Errorf("hss: cost trunc: frac %d and width %d need 2 ≤ frac+2 ≤ width ≤ 64", frac, bits)
	}
	return costTrunc(n, frac, bits), nil
}

func costTrunc(n int, frac, bits uint) Cost {
	k0 := &TruncKey{Party: 0, Frac: frac, Bits: bits, N: n}
	k1 := &TruncKey{Party: 1, Frac: frac, Bits: bits, N: n}
	return open(n, bits).Add(keyCost(k0.Size(), k1.Size()))
}
