package fss

import "testing"

func benchMMO(b *testing.B, n int, vaes bool) {
	old := useVAES
	useVAES = vaes && old
	defer func() { useVAES = old }()
	src := make([]block, n)
	for i := range src {
		src[i] = block{uint64(i), 7}
	}
	b.SetBytes(int64(16 * n))
	for b.Loop() {
		mmoBlocks(src, src)
	}
}

func BenchmarkMMO1024(b *testing.B)     { benchMMO(b, 1024, false) }
func BenchmarkMMO1024VAES(b *testing.B) { benchMMO(b, 1024, true) }
func BenchmarkMMO8(b *testing.B)        { benchMMO(b, 8, false) }
func BenchmarkMMO8VAES(b *testing.B)    { benchMMO(b, 8, true) }
