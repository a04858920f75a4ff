package hss

import (
	"fmt"
	"io"
)

// MatShape is the shape of one product X [M×K] · Y [K×N].
type MatShape struct{ M, K, N int }

func batchLen(op string, shapes []MatShape) (int, error) {
	if len(shapes) == 0 || len(shapes) > maxSeqParts-1 {
		return 0, fmt.Errorf("hss: %s: %d products, want 1 to %d", op, len(shapes), maxSeqParts-1)
	}
	total := 0
	for _, s := range shapes {
		mn, ok1 := mulLen(s.M, s.N)
		_, ok2 := mulLen(s.M, s.K)
		_, ok3 := mulLen(s.K, s.N)
		if !ok1 || !ok2 || !ok3 || s.M <= 0 || s.K <= 0 || s.N <= 0 {
			return 0, fmt.Errorf("hss: %s: bad shape %dx%dx%d", op, s.M, s.K, s.N)
		}
		total += mn
		if total > MaxKeyLen {
			return 0, fmt.Errorf("hss: %s: %d outputs in all exceed %d", op, total, MaxKeyLen)
		}
	}
	return total, nil
}

// GenMatMulBatch generates material for MatMulBatch: one matrix triple per
// product and one truncation of all outputs, at width bits (0 means 64).
func GenMatMulBatch(rng io.Reader, shapes []MatShape, frac, bits uint) (k0, k1 Key, err error) {
	bits = normBits(bits)
	total, err := batchLen("gen matmul batch", shapes)
	if err != nil {
		return nil, nil, err
	}
	p0, p1 := make([]MarshalKey, 0, len(shapes)+1), make([]MarshalKey, 0, len(shapes)+1)
	for _, s := range shapes {
		a, b, err := GenMatMul(rng, s.M, s.K, s.N, bits)
		if err != nil {
			return nil, nil, wrapGate("gen matmul batch", err)
		}
		p0, p1 = append(p0, a), append(p1, b)
	}
	t0, t1, err := GenTrunc(rng, total, frac, bits)
	if err != nil {
		return nil, nil, wrapGate("gen matmul batch", err)
	}
	p0, p1 = append(p0, t0), append(p1, t1)
	return newSeqKey("matmulbatch", total, p0...), newSeqKey("matmulbatch", total, p1...), nil
}

// MatMulBatch returns shares of the fixed-point products X_i·Y_i (each
// truncated by Frac) of shared matrices, xs[i] [M×K] and ys[i] [K×N]
// row-major, for every shape at once: all products' openings travel in one
// round and all truncations in a second, so a layer's attention heads cost
// two rounds together instead of two each (Beaver matrix triples,
// Mohassel–Zhang, SecureML, S&P 2017, batched). Online per party: the
// (M·K + K·N)·bits bits of every product plus bits per output; error as
// MatMulFixed.
func (p *Party) MatMulBatch(xs, ys [][]uint64, shapes []MatShape, bits uint) ([][]uint64, error) {
	bits = normBits(bits)
	total, err := batchLen("matmul batch", shapes)
	if err != nil {
		return nil, err
	}
	if len(xs) != len(shapes) || len(ys) != len(shapes) {
		return nil, fmt.Errorf("hss: matmul batch: %d and %d operands for %d shapes", len(xs), len(ys), len(shapes))
	}
	for i, s := range shapes {
		if len(xs[i]) != s.M*s.K || len(ys[i]) != s.K*s.N {
			return nil, fmt.Errorf("hss: matmul batch: product %d: operands of %d and %d elements do not fit %dx%dx%d",
				i, len(xs[i]), len(ys[i]), s.M, s.K, s.N)
		}
	}
	q, err := p.sub("matmulbatch", total)
	if err != nil {
		return nil, err
	}
	states := make([]*matMulState, len(shapes))
	var send []uint64
	for i, s := range shapes {
		key, err := takeKey[*MatMulKey](q, "matmul", s.M*s.N)
		if err != nil {
			return nil, wrapGate("matmul batch", err)
		}
		st, part, err := q.matMulPrep(key, xs[i], ys[i], s.M, s.K, s.N, bits)
		if err != nil {
			return nil, wrapGate("matmul batch", err)
		}
		states[i], send = st, append(send, part...)
	}
	opened, err := q.OpenBits(send, bits)
	if err != nil {
		return nil, wrapGate("matmul batch", err)
	}
	z := make([]uint64, 0, total)
	off := 0
	for i, s := range shapes {
		n := s.M*s.K + s.K*s.N
		zi, err := states[i].finish(p.ID, opened[off:off+n])
		if err != nil {
			return nil, wrapGate("matmul batch", err)
		}
		z, off = append(z, zi...), off+n
	}
	tk, err := takeKey[*TruncKey](q, "trunc", total)
	if err != nil {
		return nil, wrapGate("matmul batch", err)
	}
	z, err = q.truncFx("matmul batch", tk, z, bits)
	if err != nil {
		return nil, err
	}
	if err := finish("matmul batch", q); err != nil {
		return nil, err
	}
	out := make([][]uint64, len(shapes))
	off = 0
	for i, s := range shapes {
		out[i], off = z[off:off+s.M*s.N:off+s.M*s.N], off+s.M*s.N
	}
	return out, nil
}

// CostMatMulBatch is the cost of MatMulBatch on the given shapes: one opening of every product's
// X − A and Y − B together, then one truncation of all outputs.
func CostMatMulBatch(shapes []MatShape, frac, bits uint) (Cost, error) {
	bits = normBits(bits)
	total, err := batchLen("cost matmul batch", shapes)
	if err != nil {
		return Cost{}, err
	}
	if _, err := CostTrunc(total, frac, bits); err != nil {
		return Cost{}, err
	}
	parts := make([]part, 0, len(shapes)+1)
	opened := 0
	for _, s := range shapes {
		parts = append(parts, part{kind: "matmul", c: costMatMul(s.M, s.K, s.N, bits)})
		opened += s.M*s.K + s.K*s.N
	}
	parts = append(parts, part{kind: "trunc", c: costTrunc(total, frac, bits)})
	c := seqCost(parts...)
	return c.Add(open(opened, bits)), nil
}

func init() { registerSeq("matmulbatch", "matmul", "trunc") }
