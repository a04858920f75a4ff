package hsstest

import (
	"math"
	"testing"

	"github.com/hssee/hssee/hss"
)

func TestNonlinearCatalog(t *testing.T) {
	fx := hss.Fixed{Frac: 12}
	n := 64
	for gi, g := range NonlinearGates {
		rng := hss.NewPRG([32]byte{byte(40 + gi), 'n', 'l'})
		k0, k1, err := g.Gen(rng, n, fx)
		if err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		xs := make([]uint64, n)
		for i := range xs {
			xs[i] = fx.Encode(g.Lo + (g.Hi-g.Lo)*float64(i)/float64(n-1))
		}
		seed, x1, err := hss.Share(xs, rng)
		if err != nil {
			t.Fatal(err)
		}
		in := [2][]uint64{hss.ExpandShare(seed, n), x1}
		var outs [2][]uint64
		if _, _, err := hss.RunPair(fx, hss.NewMaterial(k0), hss.NewMaterial(k1), func(p *hss.Party) error {
			var err error
			outs[p.ID], err = g.Eval(p, in[p.ID])
			return err
		}); err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		out := hss.Reconstruct(outs[0], outs[1])
		for i := range xs {
			if e := math.Abs(fx.Decode(out[i]) - g.Ref(fx.Decode(xs[i]))); e > 1.0/256 {
				t.Fatalf("%s: error %g at %v", g.Name, e, fx.Decode(xs[i]))
			}
		}
	}
}
