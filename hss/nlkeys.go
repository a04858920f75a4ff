package hss

import (
	"fmt"

	"github.com/hssee/hssee/hss/fss"
)

// Serialisation of the nonlinear gates' material: lookup keys (lutKey) and composite keys (seqKey),
// and the registration of their kinds with RegisterKey so that dealer bundles can carry them.

const (
	lutHeaderLen = 1 + 4 + 8 + 1 + 1 + 1 // party, n, tag, has DCF, number of DPF batches, mask width
	fssHeaderLen = 11                    // header fss.DCFKeys/DPFKeys.MarshalBinary prepends
	maxLUTParts  = 4
	maxSeqParts  = 64
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
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: %s key: %w", k.kind, err)
	}
	k.party, k.n, k.tag, k.rbits, k.seed, k.r, k.mr, k.mrr, k.dcf, k.dpf = party, n, tag, rbits, seed, r, mr, mrr, dcf, dpf
	return nil
}

// PartyID returns the party (0 or 1) the key belongs to.
func (k *lutKey) PartyID() int { return k.party }

// newSeqKey builds a composite key; every part must be a registered kind allowed for kind.
func newSeqKey(kind string, n int, parts ...MarshalKey) *seqKey {
	return &seqKey{kind: kind, n: n, parts: parts}
}

// seqAllowed lists, for every composite kind, the kinds its parts may have (this also bounds the
// nesting depth when decoding).
var seqAllowed = map[string]map[string]bool{}

// MarshalBinary encodes the composite key: its length and its parts, each with its kind.
func (k *seqKey) MarshalBinary() ([]byte, error) {
	if len(k.parts) > maxSeqParts {
		return nil, fmt.Errorf("hss: %s key: marshal: %w", k.kind, errKey)
	}
	e := Enc{b: make([]byte, 0, k.Size())} // one allocation, no regrowth
	e.U32(uint32(k.n))
	e.U8(uint8(len(k.parts)))
	for _, p := range k.parts {
		b, err := p.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("hss: %s key: marshal: %w", k.kind, err)
		}
		e.U8(uint8(len(p.Kind())))
		e.b = append(e.b, p.Kind()...)
		e.U32(uint32(len(b)))
		e.b = append(e.b, b...)
	}
	return e.Bytes(), nil
}

// Size is the length of MarshalBinary's output.
func (k *seqKey) Size() int {
	s := 5
	for _, p := range k.parts {
		s += 1 + len(p.Kind()) + 4 + p.Size()
	}
	return s
}

// UnmarshalBinary decodes a composite key; parts of kinds not allowed for this kind are rejected.
func (k *seqKey) UnmarshalBinary(b []byte) error {
	d := NewDec(b)
	n := int(d.U32())
	np := int(d.U8())
	if d.Err() == nil && (n > MaxKeyLen || np > maxSeqParts) {
		d.Fail(fmt.Errorf("length %d, %d parts: %w", n, np, errKey))
	}
	var parts []MarshalKey
	for range np {
		kind := string(d.take(int(d.U8())))
		raw := d.take(int(d.U32()))
		if d.Err() != nil {
			break
		}
		if !seqAllowed[k.kind][kind] {
			d.Fail(fmt.Errorf("part of kind %q: %w", kind, errKey))
			break
		}
		p, err := NewKey(kind)
		if err != nil {
			d.Fail(err)
			break
		}
		if err := p.UnmarshalBinary(raw); err != nil {
			d.Fail(err)
			break
		}
		parts = append(parts, p)
	}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("hss: %s key: %w", k.kind, err)
	}
	k.n, k.parts = n, parts
	return nil
}

// PartyID returns the party of the first part that knows its party (−1 if none does).
func (k *seqKey) PartyID() int {
	for _, p := range k.parts {
		if q, ok := p.(interface{ PartyID() int }); ok {
			return q.PartyID()
		}
	}
	return -1
}

func registerLUT(kind string) {
	RegisterKey(kind, func() MarshalKey { return &lutKey{kind: kind} })
}

func registerSeq(kind string, allowed ...string) {
	m := map[string]bool{}
	for _, a := range allowed {
		m[a] = true
	}
	seqAllowed[kind] = m
	RegisterKey(kind, func() MarshalKey { return &seqKey{kind: kind} })
}

func init() {
	for _, k := range []string{"gelu.lut", "silu.lut", "exp.lut", "drelu", "relu",
		"recip.cmp", "recip.lut", "rsqrt.cmp", "rsqrt.lut"} {
		registerLUT(k)
	}
	registerSeq("gelu", "gelu.lut", "trunc")
	registerSeq("silu", "silu.lut", "trunc")
	registerSeq("exp", "exp.lut", "trunc")
	RegisterKey("rowmul", func() MarshalKey { return new(RowMulKey) })
	registerSeq("recip", "recip.cmp", "recip.lut", "trunc", "mul")
	registerSeq("rsqrt", "rsqrt.cmp", "rsqrt.lut", "trunc", "mul")
	registerSeq("recip.lo", "recip.cmp", "recip.lut", "trunc")
	registerSeq("rsqrt.lo", "rsqrt.cmp", "rsqrt.lut", "trunc")
	registerSeq("max", "relu")
	registerSeq("softmax", "max", "exp", "recip.lo", "rowmul3", "trunc")
	registerSeq("layernorm", "trunc", "square", "rsqrt.lo", "rowmul3")
	registerSeq("rmsnorm", "trunc", "square", "rsqrt.lo", "rowmul3")
}
