package fss

import (
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestGenBatchedMatchesReference pins the batched generators to the one-key-at-a-time reference
// (genref_test.go): for the same randomness they give byte-identical keys (both parties), for
// several widths, payloads, early terminations and batch sizes around the chunk size.
func TestGenBatchedMatchesReference(t *testing.T) {
	pr := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, genChunk - 1, genChunk, genChunk + 3, 2*genChunk + 1} {
		for _, bits := range []uint{1, 5, 12, 25, 64} {
			for _, p := range []int{1, 2, 3, 8} {
				alphas, betas := make([]uint64, n), make([]uint64, n*p)
				for i := range alphas {
					alphas[i] = pr.Uint64() & maskBits(bits)
				}
				for i := range betas {
					betas[i] = pr.Uint64()
				}
				seed := byte(n + int(bits) + p)
				a0, a1, err := GenDCF(newRNG(seed), bits, p, alphas, betas)
				if err != nil {
					t.Fatal(err)
				}
				b0, b1, err := genDCFRef(newRNG(seed), bits, p, alphas, betas)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a0, b0) || !reflect.DeepEqual(a1, b1) {
					t.Fatalf("dcf n=%d bits=%d p=%d: batched keys differ from the reference", n, bits, p)
				}
				for _, leaf := range []uint{0, 1, 3, 4, 6} {
					if leaf > bits || p<<leaf > 64 {
						continue
					}
					a0, a1, err := GenDPFLeaf(newRNG(seed), bits, leaf, p, alphas, betas)
					if err != nil {
						t.Fatal(err)
					}
					b0, b1, err := genDPFLeafRef(newRNG(seed), bits, leaf, p, alphas, betas)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(a0, b0) || !reflect.DeepEqual(a1, b1) {
						t.Fatalf("dpf n=%d bits=%d leaf=%d p=%d: batched keys differ from the reference", n, bits, leaf, p)
					}
				}
			}
		}
	}
}

func BenchmarkGenDCF25(b *testing.B) {
	benchGen(b, 25, func(rng io.Reader, alphas, betas []uint64) error {
		_, _, err := GenDCF(rng, 25, 2, alphas, betas)
		return err
	})
}

func BenchmarkGenDPFLeaf(b *testing.B) {
	benchGen(b, 11, func(rng io.Reader, alphas, betas []uint64) error {
		_, _, err := GenDPFLeaf(rng, 11, 3, 2, alphas, betas)
		return err
	})
}

// benchGen times gen on a batch of 4096 keys of payload 2 (zero) at the points i·7919 mod 2^bits.
func benchGen(b *testing.B, bits uint, gen func(rng io.Reader, alphas, betas []uint64) error) {
	const n = 4096
	alphas, betas := make([]uint64, n), make([]uint64, 2*n)
	for i := range alphas {
		alphas[i] = uint64(i*7919) & maskBits(bits)
	}
	rng := newRNG(1)
	for b.Loop() {
		if err := gen(rng, alphas, betas); err != nil {
			b.Fatal(err)
		}
	}
}
