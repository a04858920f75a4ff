package hsstest

import (
	"io"
	"math"

	"github.com/hssee/hssee/hss"
)

// NonlinearGate describes one elementwise nonlinear gate for measurement harnesses
// (experiments/gates): its name, the input range its error bound holds on, a float64 reference, and
// closures that generate material for n elements and evaluate the gate on one party's shares.
type NonlinearGate struct {
	Name   string
	Lo, Hi float64                 // input range (real values)
	Ref    func(x float64) float64 // float64 reference
	Gen    func(rng io.Reader, n int, fx hss.Fixed) (k0, k1 hss.Key, err error)
	Eval   func(p *hss.Party, x []uint64) ([]uint64, error)
	// OutFrac is the number of fractional bits of the output (equal to the input's for every gate
	// listed here).
	OutFrac func(fx hss.Fixed) uint
}

func sameFrac(fx hss.Fixed) uint { return fx.Frac }

// NonlinearGates lists the elementwise gates of package hss.
var NonlinearGates = []NonlinearGate{
	{Name: "gelu", Lo: -8, Hi: 8, Ref: hss.GeLURef, Gen: hss.GenGeLU, Eval: (*hss.Party).GeLU, OutFrac: sameFrac},
	{Name: "silu", Lo: -8, Hi: 8, Ref: hss.SiLURef, Gen: hss.GenSiLU, Eval: (*hss.Party).SiLU, OutFrac: sameFrac},
	{Name: "exp", Lo: -16, Hi: 0, Ref: math.Exp, Gen: hss.GenExp, Eval: (*hss.Party).Exp, OutFrac: sameFrac},
	{Name: "relu", Lo: -64, Hi: 64, Ref: func(x float64) float64 { return math.Max(x, 0) },
		Gen: func(rng io.Reader, n int, fx hss.Fixed) (hss.Key, hss.Key, error) {
			return hss.GenReLU(rng, n, fx.Frac+8)
		},
		Eval: func(p *hss.Party, x []uint64) ([]uint64, error) { return p.ReLU(x, p.Fx.Frac+8) }, OutFrac: sameFrac},
}
