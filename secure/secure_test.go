package secure_test

import (
	"crypto/rand"
	"math"
	"strings"
	"testing"

	"github.com/hssee/hssee/dealer"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/secure"
)

var prm = hss.DefaultParams()

func tiny(t *testing.T) *model.Model {
	t.Helper()
	c := model.Config{Arch: model.ArchLlama, Dim: 16, HiddenDim: 32, NLayers: 1, NHeads: 2, NKVHeads: 1, VocabSize: 20,
		MaxSeqLen: 8, NormEps: 1e-5, RopeTheta: 10000, RopeStyle: model.RopeHalf, BOS: 1, EOS: 2}
	m, err := model.RandomModel(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// deal returns both parties' material for one pass of rows positions from
// a fresh cache.
func deal(t *testing.T, m *model.Model, rows int) (*hss.Material, *hss.Material) {
	t.Helper()
	d := dealer.New(rand.Reader)
	e, err := secure.NewExec(m.Config, prm, nil, &secure.Dealer{Rand: rand.Reader, Sink: d}, m.Config.MaxSeqLen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := model.Forward[secure.Tensor](e, m, secure.Tensor{Rows: rows, Cols: m.Config.Dim}, rows, 0, true); err != nil {
		t.Fatal(err)
	}
	return d.Material()
}

// parties runs passes (each a number of positions) on both parties with
// the given material and returns the joined error.
func parties(t *testing.T, m *model.Model, m0, m1 *hss.Material, passes ...int) error {
	t.Helper()
	w, err := secure.EncodeWeights(m, prm)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = hss.RunPair(prm.Fixed(), m0, m1, func(p *hss.Party) error {
		e, err := secure.NewExec(m.Config, prm, w, &secure.Party{P: p}, m.Config.MaxSeqLen)
		if err != nil {
			return err
		}
		for _, rows := range passes {
			in := secure.Tensor{Rows: rows, Cols: m.Config.Dim, V: make([]uint64, rows*m.Config.Dim)}
			if _, err := model.Forward[secure.Tensor](e, m, in, rows, e.Pos(), true); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// TestMaterialMisuse: material for another shape, exhausted material and
// reused material are errors that name the gate, never a wrong answer.
func TestMaterialMisuse(t *testing.T) {
	m := tiny(t)
	m0, m1 := deal(t, m, 3)
	if err := parties(t, m, m0, m1, 3); err != nil {
		t.Fatalf("matching material: %v", err)
	}
	m0, m1 = deal(t, m, 3)
	if err := parties(t, m, m0, m1, 2); err == nil || !strings.Contains(err.Error(), "material key") {
		t.Fatalf("material for 3 positions used for 2: %v", err)
	}
	m0, m1 = deal(t, m, 2)
	if err := parties(t, m, m0, m1, 2, 1); err == nil || !strings.Contains(err.Error(), "exhausted") {
		t.Fatalf("a second pass without material: %v", err)
	}
	// The same keys handed out twice (a replayed bundle) are refused.
	d := dealer.New(rand.Reader)
	e, _ := secure.NewExec(m.Config, prm, nil, &secure.Dealer{Rand: rand.Reader, Sink: d}, m.Config.MaxSeqLen)
	if _, err := model.Forward[secure.Tensor](e, m, secure.Tensor{Rows: 1, Cols: m.Config.Dim}, 1, 0, true); err != nil {
		t.Fatal(err)
	}
	a0, a1 := d.Material()
	b0, b1 := d.Material()
	if err := parties(t, m, a0, a1, 1); err != nil {
		t.Fatal(err)
	}
	if err := parties(t, m, b0, b1, 1); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed material: %v", err)
	}
}

func TestExecErrors(t *testing.T) {
	m := tiny(t)
	c := m.Config
	if _, err := secure.NewExec(c, prm, nil, &secure.Party{}, c.MaxSeqLen); err == nil {
		t.Error("party executor without weights accepted")
	}
	if _, err := secure.NewExec(c, prm, nil, nil, c.MaxSeqLen); err == nil {
		t.Error("nil backend accepted")
	}
	if _, err := secure.NewExec(c, prm, nil, &secure.Dealer{}, c.MaxSeqLen+1); err == nil {
		t.Error("capacity beyond the context accepted")
	}
	other := tiny(t)
	other.Config.VocabSize = 21
	other.Embed = append(other.Embed, make([]float32, c.Dim)...)
	other.LMHead = other.Embed
	w, err := secure.EncodeWeights(other, prm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secure.NewExec(c, prm, w, &secure.Party{}, c.MaxSeqLen); err == nil {
		t.Error("weights of another model accepted")
	}
	if _, err := secure.NewExec(c, hss.Params{Frac: 14, Width: 30}, nil, &secure.Dealer{}, c.MaxSeqLen); err == nil ||
		!strings.Contains(err.Error(), "width 30 below") {
		t.Errorf("width 30 at frac 14: %v", err)
	}
	if _, err := secure.EncodeWeights(m, hss.Params{Frac: 20, Width: 64}); err == nil {
		t.Error("weights at frac 20 accepted")
	}
	// A backend runs at the parameters of the executor it was bound to.
	shared := &secure.Counter{}
	if _, err := secure.NewExec(c, prm, nil, shared, c.MaxSeqLen); err != nil {
		t.Fatal(err)
	}
	if _, err := secure.NewExec(c, prm, nil, shared, c.MaxSeqLen); err != nil {
		t.Errorf("a backend bound again at the same parameters: %v", err)
	}
	if _, err := secure.NewExec(c, hss.Params{Frac: 12, Width: 48}, nil, shared, c.MaxSeqLen); err == nil {
		t.Error("a backend bound at other parameters accepted")
	}
	// A party whose encoding is not the executor's is refused before any gate.
	wp, err := secure.EncodeWeights(m, prm)
	if err != nil {
		t.Fatal(err)
	}
	pb := &secure.Party{}
	pe, err := secure.NewExec(c, prm, wp, pb, c.MaxSeqLen)
	if err != nil {
		t.Fatal(err)
	}
	t0, _ := hss.Pipe()
	if _, err := pe.Pass(pb, m, &hss.Party{ID: 0, T: t0, Fx: hss.Fixed{Frac: 12}, Keys: hss.NewMaterial()}, make([]uint64, c.Dim), 1, 0); err == nil ||
		!strings.Contains(err.Error(), "encodes with frac 12") {
		t.Errorf("party at frac 12, executor at %v: %v", pe.Params(), err)
	}
	d := dealer.New(rand.Reader)
	e, _ := secure.NewExec(c, prm, nil, &secure.Dealer{Rand: rand.Reader, Sink: d}, 4)
	if _, err := model.Forward[secure.Tensor](e, m, secure.Tensor{Rows: 5, Cols: c.Dim}, 5, 0, true); err == nil {
		t.Error("a pass beyond the capacity accepted")
	}
	if _, err := model.Forward[secure.Tensor](e, m, secure.Tensor{Rows: 2, Cols: c.Dim}, 2, 1, true); err == nil {
		t.Error("a pass at the wrong position accepted")
	}
}

// TestNormWaitsOnItsInput: a norm waits for its consumer (the FFN's up projections read its raw
// output); an AddInto on the norm's input in between must not change what the norm reads. Both
// parties and the dealer walk Norm(x), AddInto(x, z), Linears(W1, W3) and read W1's output, which
// must be W1·RMSNorm(x) within the norms' and the truncations' error, not W1·RMSNorm(x + z).
func TestNormWaitsOnItsInput(t *testing.T) {
	m := tiny(t)
	c := m.Config
	L := &m.Layers[0]
	const rows = 2
	walk := func(e *secure.Exec, x, z secure.Tensor) (secure.Tensor, error) {
		h, err := e.Norm(x, &L.FFNNorm, rows)
		if err != nil {
			return secure.Tensor{}, err
		}
		if _, err := e.AddInto(x, z); err != nil {
			return secure.Tensor{}, err
		}
		gu, err := e.Linears(h, [3]*model.Linear{&L.W1, &L.W3}, rows)
		if err != nil {
			return secure.Tensor{}, err
		}
		return e.Rows(gu[0], 0, rows, c.HiddenDim)
	}
	d := dealer.New(rand.Reader)
	de, err := secure.NewExec(c, prm, nil, &secure.Dealer{Rand: rand.Reader, Sink: d}, c.MaxSeqLen)
	if err != nil {
		t.Fatal(err)
	}
	shape := secure.Tensor{Rows: rows, Cols: c.Dim}
	if _, err := walk(de, shape, shape); err != nil {
		t.Fatal(err)
	}
	m0, m1 := d.Material()
	w, err := secure.EncodeWeights(m, prm)
	if err != nil {
		t.Fatal(err)
	}
	fx := prm.Fixed()
	xf, zf := make([]float64, rows*c.Dim), make([]float64, rows*c.Dim)
	for i := range xf {
		xf[i], zf[i] = math.Sin(float64(i)), 3*math.Cos(float64(7*i))
	}
	xs, zs := shareVec(fx.EncodeVec(xf)), shareVec(fx.EncodeVec(zf))
	var outs [2][]uint64
	if _, _, err := hss.RunPair(fx, m0, m1, func(p *hss.Party) error {
		e, err := secure.NewExec(c, prm, w, &secure.Party{P: p}, c.MaxSeqLen)
		if err != nil {
			return err
		}
		y, err := walk(e, secure.Tensor{Rows: rows, Cols: c.Dim, V: xs[p.ID]}, secure.Tensor{Rows: rows, Cols: c.Dim, V: zs[p.ID]})
		outs[p.ID] = y.V
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got := fx.DecodeVec(hss.Reconstruct(outs[0], outs[1]))
	var worst float64
	for r := range rows {
		row := xf[r*c.Dim : (r+1)*c.Dim]
		var ms float64
		for _, v := range row {
			ms += v * v
		}
		inv := 1 / math.Sqrt(ms/float64(c.Dim)+float64(c.NormEps))
		for o := range c.HiddenDim {
			var want float64
			for j, v := range row {
				want += float64(L.W1.W[o*c.Dim+j]) * float64(L.FFNNorm.W[j]) * v * inv
			}
			worst = max(worst, math.Abs(got[r*c.HiddenDim+o]-want))
		}
	}
	if worst > 0.01 {
		t.Fatalf("W1 of the norm: max error %g (the norm read its input after the addition?)", worst)
	}
}

// shareVec splits x into two additive shares.
func shareVec(x []uint64) [2][]uint64 {
	var s [2][]uint64
	s[0], s[1] = make([]uint64, len(x)), make([]uint64, len(x))
	for i, v := range x {
		r := uint64(i)*0x9e3779b97f4a7c15 + 12345
		s[0][i], s[1][i] = r, v-r
	}
	return s
}
