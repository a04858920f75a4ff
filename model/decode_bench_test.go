package model

import "testing"

func benchDecode(b *testing.B, name string, threads int) {
	m, err := Preset(name, 1)
	if err != nil {
		b.Fatal(err)
	}
	r, err := NewRunnerThreads(m, 0, threads)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	prompt := make([]int, 128)
	for i := range prompt {
		prompt[i] = (i * 7919) % m.Config.VocabSize
	}
	if _, err := r.Forward(prompt); err != nil {
		b.Fatal(err)
	}
	id := []int{5}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r.Pos() == r.MaxSeq() {
			r.Reset()
			if _, err := r.Forward(prompt); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := r.Forward(id); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkDecodeStories15M measures single-token Forward after a 128-token
// prompt (positions 128…255), single-threaded.
func BenchmarkDecodeStories15M(b *testing.B) { benchDecode(b, "stories15M", 1) }

// BenchmarkDecodeStories15M2 is BenchmarkDecodeStories15M on two threads.
func BenchmarkDecodeStories15M2(b *testing.B) { benchDecode(b, "stories15M", 2) }
