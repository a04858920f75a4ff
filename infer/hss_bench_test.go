package infer_test

import (
	"crypto/rand"
	"testing"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
)

// BenchmarkHSSDecode measures one HSS decode step (dealer + both parties in
// process) of the tinystories-656k shape after a 128-token prompt.
func BenchmarkHSSDecode(b *testing.B) { benchHSSDecode(b, "tinystories-656k") }

// BenchmarkHSSDecodeStories15M is BenchmarkHSSDecode on the stories15M shape.
func BenchmarkHSSDecodeStories15M(b *testing.B) { benchHSSDecode(b, "stories15M") }

func benchHSSDecode(b *testing.B, preset string) {
	m, err := model.Preset(preset, 1)
	if err != nil {
		b.Fatal(err)
	}
	h, err := infer.NewHSS(m, hss.Params{Frac: 12, Width: 48}, 0, rand.Reader, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	prompt := make([]int, 128)
	for i := range prompt {
		prompt[i] = i * 37 % m.Config.VocabSize
	}
	if _, err := h.Forward(prompt); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if h.Pos() == h.MaxSeq() {
			b.Skip("context full")
		}
		if _, err := h.Forward([]int{5}); err != nil {
			b.Fatal(err)
		}
	}
	c := h.Last()
	b.ReportMetric(float64(c.OnlineBytes), "online-B/tok")
	b.ReportMetric(float64(c.Rounds), "rounds/tok")
	b.ReportMetric(float64(c.DealerBytes), "dealer-B/tok")
	b.ReportMetric(float64(c.Offline.Microseconds())/1e3, "offline-ms/tok")
	b.ReportMetric(float64(c.Online.Microseconds())/1e3, "online-ms/tok")
}
