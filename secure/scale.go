package secure

import (
	"fmt"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// qkvScale reports whether ls are the attention's projections read from a norm's input with its row
// factor after them (pendingScale): three layers of Dim inputs that are not the FFN's, at a Frac
// hss.NormScale takes.
func (e *Exec) qkvScale(ls [3]*model.Linear) bool {
	for _, l := range ls {
		if l == nil || l.In != e.cfg.Dim {
			return false
		}
	}
	return !e.ffnUp(ls) && e.fx.Frac >= 8 && e.fx.Frac <= 14
}

// linearsScaled runs the norm p up to its row factor (Backend.NormScale; a pending residual's
// truncation in its squares' round) and the projections ls on its input with the norm's gain folded
// into their weights, untruncated and without their biases: a raw group whose factor waits
// (pendingScale). The norm's own output is not recorded: another consumer of it (none in
// model.Forward) computes it again from the recorded residual, at the cost of its material.
func (e *Exec) linearsScaled(p *pendingNorm, ls [3]*model.Linear, rows int) ([3]Tensor, error) {
	var out [3]Tensor
	ws := make([]*EncLinear, len(ls))
	bias := make([][]uint64, len(ls))
	for i, l := range ls {
		ws[i] = &EncLinear{Out: l.Out, In: l.In}
		if e.vals {
			f, err := e.w.folded(l, p.n) // before the norm spends material
			if err != nil {
				return out, err
			}
			ws[i].W, bias[i] = f.W, f.B
		}
	}
	x, r, err := e.normInput(p)
	if err != nil {
		return out, err
	}
	var t *Tensor
	var shift uint
	if r != nil {
		t, shift = &r.t, r.shift
	}
	in, s, err := e.b.NormScale(x, t, shift, float64(e.cfg.NormEps))
	if err != nil {
		return out, err
	}
	if r != nil {
		r.done = &in
	}
	if err := e.checkRows("linear", in, rows, e.cfg.Dim); err != nil {
		return out, err
	}
	ys, err := e.b.LinearsRaw(in, ws)
	if err != nil {
		return out, err
	}
	g := &rawGroup{ts: ys, scale: &pendingScale{s: s, bias: bias}}
	for i, y := range ys {
		y.Raw, y.grp, y.idx = true, g, i
		out[i] = y
	}
	return out, nil
}

// shiftUp is x (2·Frac fractional bits) with 3·Frac, as RoPE leaves q and k.
func (e *Exec) shiftUp(x Tensor) Tensor {
	y := Tensor{Rows: x.Rows, Cols: x.Cols}
	if e.vals {
		y.V = make([]uint64, len(x.V))
		for i, v := range x.V {
			y.V[i] = v << e.fx.Frac
		}
	}
	return y
}

// scaleLinears is scaleQKV on the projections as Linears left them (2·Frac fractional bits, not
// rotated): read as they are where hss.ScaleIn takes 2·Frac bits, else shifted to 3·Frac.
func (e *Exec) scaleLinears(ps *pendingScale, q, k, v Tensor) (Tensor, Tensor, Tensor, error) {
	if _, _, ok := hss.ScaleIn(e.fx, 2*e.fx.Frac); ok {
		return e.scaleQKV(ps, q, k, v, false, 0, 2*e.fx.Frac)
	}
	return e.scaleQKV(ps, e.shiftUp(q), e.shiftUp(k), e.shiftUp(v), false, 0, 3*e.fx.Frac)
}

// ropeParts splits Rope's pending output into q, k and v.
func (e *Exec) ropeParts(r *ropeOut) (q, k, v Tensor) {
	rows, D, KV := r.rows, r.d, r.kv
	q, k, v = Tensor{Rows: rows, Cols: D}, Tensor{Rows: rows, Cols: KV}, Tensor{Rows: rows, Cols: KV}
	if e.vals {
		q.V, k.V, v.V = make([]uint64, rows*D), make([]uint64, rows*KV), r.y.V[rows*(D+KV):]
		for i := range rows {
			copy(q.V[i*D:(i+1)*D], r.y.V[i*(D+KV):i*(D+KV)+D])
			copy(k.V[i*KV:(i+1)*KV], r.y.V[i*(D+KV)+D:(i+1)*(D+KV)])
		}
	}
	return q, k, v
}

// ropeJoin is the inverse of ropeParts: per row its queries then keys, then v.
func (e *Exec) ropeJoin(q, k, v Tensor) Tensor {
	rows, D, KV := q.Rows, q.Cols, k.Cols
	y := Tensor{Rows: 1, Cols: rows*(D+KV) + v.Rows*v.Cols}
	if e.vals {
		y.V = make([]uint64, 0, y.Cols)
		for i := range rows {
			y.V = append(y.V, q.V[i*D:(i+1)*D]...)
			y.V = append(y.V, k.V[i*KV:(i+1)*KV]...)
		}
		y.V = append(y.V, v.V...)
	}
	return y
}

// scaleQKV multiplies the attention's projections q, k and v (inFrac fractional bits; q and k
// rotated at pos0 when rot) by their norm's row factor with their truncation, in one round
// (Backend.ScaleRows on rows of q, k and v), and adds the folded biases (rotated like q and k):
// q, k and v with hss.ScaledFrac fractional bits.
func (e *Exec) scaleQKV(ps *pendingScale, q, k, v Tensor, rot bool, pos0 int, inFrac uint) (Tensor, Tensor, Tensor, error) {
	rows, D, KV := q.Rows, q.Cols, k.Cols
	if k.Rows != rows || v.Rows != rows || v.Cols != KV || ps.s == nil || ps.s.Rows != rows {
		return Tensor{}, Tensor{}, Tensor{}, fmt.Errorf("secure: scale: q %dx%d, k %dx%d, v %dx%d for a factor of %d rows",
			rows, D, k.Rows, KV, v.Rows, v.Cols, scaleRows(ps.s))
	}
	W := D + 2*KV
	x := Tensor{Rows: rows, Cols: W}
	var add []uint64
	if e.vals {
		x.V = make([]uint64, 0, rows*W)
		for i := range rows {
			x.V = append(x.V, q.V[i*D:(i+1)*D]...)
			x.V = append(x.V, k.V[i*KV:(i+1)*KV]...)
			x.V = append(x.V, v.V[i*KV:(i+1)*KV]...)
		}
		add = e.scaleBias(ps, rows, D, KV, rot, pos0)
	}
	y, err := e.b.ScaleRows(x, ps.s, add, inFrac)
	if err != nil {
		return Tensor{}, Tensor{}, Tensor{}, err
	}
	qo, ko, vo := shape(rows, D, e.vals), shape(rows, KV, e.vals), shape(rows, KV, e.vals)
	if e.vals {
		for i := range rows {
			row := y.V[i*W : (i+1)*W]
			copy(qo.V[i*D:(i+1)*D], row[:D])
			copy(ko.V[i*KV:(i+1)*KV], row[D:D+KV])
			copy(vo.V[i*KV:(i+1)*KV], row[D+KV:])
		}
	}
	return qo, ko, vo, nil
}

// scaleBias is the folded biases of q, k and v at hss.ScaledFrac fractional bits, per row (q's and
// k's rotated at pos0+i when rot), or nil where the layers have none.
func (e *Exec) scaleBias(ps *pendingScale, rows, D, KV int, rot bool, pos0 int) []uint64 {
	if ps.bias[0] == nil && ps.bias[1] == nil && ps.bias[2] == nil {
		return nil
	}
	f, sf := e.fx.Frac, hss.ScaledFrac(e.fx)
	W := D + 2*KV
	add := make([]uint64, rows*W)
	c := e.cfg
	for i := range rows {
		row := add[i*W : (i+1)*W]
		for j, n := range []int{D, KV, KV} {
			b := ps.bias[j]
			if b == nil {
				continue
			}
			off := [3]int{0, D, D + KV}[j]
			dst := row[off : off+n]
			if rot && j < 2 {
				// RoPE is linear: the bias rotates with its layer's output
				// (2·Frac fractional bits after the rotation).
				half := c.HeadDim() / 2
				p := pos0 + i
				rotateRow(dst, b, c.HeadDim(), c.RopeStyle, e.cos[p*half:(p+1)*half], e.sin[p*half:(p+1)*half])
				for m := range dst {
					dst[m] <<= sf - 2*f
				}
				continue
			}
			for m, v := range b {
				dst[m] = v << (sf - f)
			}
		}
	}
	return add
}
