package hss

import (
	"errors"
	"fmt"
)

// maxSeqParts bounds the parts of a composite key.
const maxSeqParts = 64

// seqKey is a composite gate's material: the sub-keys in the order the gate consumes them.
type seqKey struct {
	Consumable
	kind  string
	n     int
	parts []MarshalKey
}

func (k *seqKey) Kind() string { return k.kind }
func (k *seqKey) Len() int     { return k.n }

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

func registerSeq(kind string, allowed ...string) {
	m := map[string]bool{}
	for _, a := range allowed {
		m[a] = true
	}
	seqAllowed[kind] = m
	RegisterKey(kind, func() MarshalKey { return &seqKey{kind: kind} })
}

// sub returns a party that consumes the composite key's parts (same transport and encoding).
func (p *Party) sub(kind string, n int) (*Party, error) {
	if err := p.check(kind); err != nil {
		return nil, err
	}
	k, err := takeKey[*seqKey](p, kind, n)
	if err != nil {
		return nil, err
	}
	keys := make([]Key, len(k.parts))
	for i, q := range k.parts {
		keys[i] = q
	}
	return &Party{ID: p.ID, T: p.T, Fx: p.Fx, Keys: NewMaterial(keys...)}, nil
}

// finish checks that a composite gate consumed all its parts.
func finish(kind string, q *Party) error {
	if r := q.Keys.Remaining(); r != 0 {
		return fmt.Errorf("hss: %s: %d material parts left unused", kind, r)
	}
	return nil
}

var errShape = errors.New("shape mismatch")
