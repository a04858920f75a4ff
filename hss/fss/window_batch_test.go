package fss

import (
	"math/rand/v2"
	"testing"
)

// TestEvalWindowLinBatch pins the batched window walk to EvalWindowLin, bit for bit: random keys,
// windows (wrapping ones, whole domains, single positions) and every leaf setting, batches longer
// than winBatch; the portable inner products and, where the CPU has them, the AVX-512 ones.
func TestEvalWindowLinBatch(t *testing.T) {
	avx := useLinAVX
	defer func() { useLinAVX = avx }()
	for _, on := range []bool{false, true} {
		if on && !avx {
			continue
		}
		useLinAVX = on
		t.Run(map[bool]string{false: "go", true: "avx512"}[on], testEvalWindowLinBatch)
	}
}

func testEvalWindowLinBatch(t *testing.T) {
	rng := newRNG(21)
	pr := rand.New(rand.NewPCG(21, 22))
	for _, tc := range []struct{ bits, leaf uint }{{1, 0}, {1, 1}, {3, 3}, {5, 0}, {7, 3}, {8, 2}, {11, 3}, {12, 3}, {13, 4}, {13, 6}, {16, 3}} {
		n := 1 + pr.IntN(3*winBatch)
		alphas, betas := make([]uint64, n), make([]uint64, 2*n)
		for i := range alphas {
			alphas[i] = pr.Uint64() & maskBits(tc.bits)
			betas[2*i], betas[2*i+1] = 1, pr.Uint64()
		}
		k0, k1, err := GenDPFLeaf(rng, tc.bits, tc.leaf, 2, alphas, betas)
		if err != nil {
			t.Fatal(err)
		}
		w := NewWorker()
		for _, count := range []int{1, 2, 7, 9, 17, 161, 162, 321, 1 << tc.bits} {
			count = min(count, 1<<tc.bits)
			ta, tb := make([]uint64, count), make([]uint64, count)
			for j := range ta {
				ta[j], tb[j] = pr.Uint64(), pr.Uint64()
			}
			los, xs := make([]uint64, n), make([]uint64, n)
			for i := range los {
				switch pr.IntN(4) {
				case 0: // the point in the window
					los[i] = alphas[i] - uint64(pr.IntN(count))
				case 1: // wrapping
					los[i] = maskBits(tc.bits) - uint64(pr.IntN(count))
				default:
					los[i] = pr.Uint64()
				}
				xs[i] = pr.Uint64()
			}
			i0 := pr.IntN(n)
			for _, k := range []*DPFKeys{k0, k1} {
				got := make([]uint64, n-i0)
				if err := w.EvalWindowLinBatch(k, i0, los[i0:], ta, tb, xs[i0:], got); err != nil {
					t.Fatal(err)
				}
				for e := range got {
					want, err := w.EvalWindowLin(k, i0+e, los[i0+e], ta, tb, xs[i0+e])
					if err != nil || got[e] != want {
						t.Fatalf("bits=%d leaf=%d count=%d key %d: %x, want %x (%v)", tc.bits, tc.leaf, count, i0+e, got[e], want, err)
					}
				}
			}
		}
	}
}
