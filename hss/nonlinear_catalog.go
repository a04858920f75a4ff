package hss

import (
	"io"
	"math"
)

// NonlinearGate describes one elementwise nonlinear gate for measurement harnesses
// (experiments/gates): its name, the input range its error bound holds on, a float64 reference, and
// closures that generate material for n elements and evaluate the gate on one party's shares.
type NonlinearGate struct {
	Name   string
	Lo, Hi float64                 // input range (real values)
	Ref    func(x float64) float64 // float64 reference
	Gen    func(rng io.Reader, n int, fx Fixed) (k0, k1 Key, err error)
	Eval   func(p *Party, x []uint64) ([]uint64, error)
	// OutFrac is the number of fractional bits of the output (equal to the input's for every gate
	// listed here).
	OutFrac func(fx Fixed) uint
}

func sameFrac(fx Fixed) uint { return fx.Frac }

// NonlinearGates lists the elementwise gates of this package.
var NonlinearGates = []NonlinearGate{
	{Name: "gelu", Lo: -8, Hi: 8, Ref: GeLURef, Gen: GenGeLU, Eval: (*Party).GeLU, OutFrac: sameFrac},
	{Name: "silu", Lo: -8, Hi: 8, Ref: SiLURef, Gen: GenSiLU, Eval: (*Party).SiLU, OutFrac: sameFrac},
	{Name: "exp", Lo: -16, Hi: 0, Ref: math.Exp, Gen: GenExp, Eval: (*Party).Exp, OutFrac: sameFrac},
	{Name: "relu", Lo: -64, Hi: 64, Ref: func(x float64) float64 { return math.Max(x, 0) },
		Gen:  func(rng io.Reader, n int, fx Fixed) (Key, Key, error) { return GenReLU(rng, n, fx.Frac+8) },
		Eval: func(p *Party, x []uint64) ([]uint64, error) { return p.ReLU(x, p.Fx.Frac+8) }, OutFrac: sameFrac},
}
