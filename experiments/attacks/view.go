package main

import (
	"bytes"
	"fmt"
	"math"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/hss/hsstest"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/model/tokenizer"
)

// partyView is everything one HSS party received from its peer during a
// generation, with the statistics the report shows.
type partyView struct {
	Bytes    int     `json:"bytes"`
	Rounds   int     `json:"rounds"`
	ChiSq    float64 `json:"chi_square_bytes"` // byte histogram vs uniform (255 dof)
	ChiLimit float64 `json:"chi_square_limit"`
	sizes    []int
	hist     [256]float64
}

// hssViews runs prompt (plus n generated tokens) through the in-process HSS
// engine on the EE model em (key k) with recording transports, seeded dealer
// randomness, and returns what party 0 and party 1 received.
func hssViews(em *model.Model, tok tokenizer.Tokenizer, k *ee.Key, prompt string, n int, seed byte) ([2]*partyView, error) {
	a, b := hss.Pipe()
	r0, r1 := hsstest.Record(a), hsstest.Record(b)
	h, err := infer.NewHSS(em, hss.DefaultParams(), 0, hss.NewPRG([32]byte{seed, 0xa7}), r0, r1)
	if err != nil {
		return [2]*partyView{}, err
	}
	if _, err := infer.Generate(h, tok, k, infer.Request{Prompt: prompt, N: n, IgnoreEOS: true}); err != nil {
		return [2]*partyView{}, err
	}
	var out [2]*partyView
	for i, rec := range []*hsstest.Recorder{r0, r1} {
		v := &partyView{ChiLimit: hsstest.ChiSquareLimit(8)}
		var all []uint64
		for _, msg := range rec.Received() {
			v.Rounds++
			v.Bytes += len(msg)
			v.sizes = append(v.sizes, len(msg))
			for _, c := range msg {
				v.hist[c]++
				all = append(all, uint64(c))
			}
		}
		v.ChiSq = hsstest.ChiSquareUniform(all, 8)
		out[i] = v
	}
	return out, nil
}

// twoSampleChi is the chi-square statistic of two byte histograms against
// the hypothesis that they come from one distribution (255 dof when both
// are uniform).
func twoSampleChi(a, b *[256]float64) float64 {
	var na, nb float64
	for i := range a {
		na += a[i]
		nb += b[i]
	}
	ka, kb := (nb / na), (na / nb)
	var chi float64
	for i := range a {
		if s := a[i] + b[i]; s > 0 {
			d := a[i]*math.Sqrt(ka) - b[i]*math.Sqrt(kb)
			chi += d * d / s
		}
	}
	return chi
}

// sameShape reports whether two views have identical message sizes round by
// round (the transcript's shape depends only on the token count).
func sameShape(a, b *partyView) error {
	if len(a.sizes) != len(b.sizes) {
		return fmt.Errorf("%d rounds vs %d", len(a.sizes), len(b.sizes))
	}
	if !bytes.Equal(intsToBytes(a.sizes), intsToBytes(b.sizes)) {
		return fmt.Errorf("message sizes differ")
	}
	return nil
}

func intsToBytes(x []int) []byte {
	out := make([]byte, 0, 4*len(x))
	for _, v := range x {
		out = append(out, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return out
}
