package hsstest

import (
	"math"
	"sync"

	"github.com/hssee/hssee/hss"
)

// ChiSquareUniform returns Pearson's chi-square statistic of the top min(8,bits) bits of vals, taken as
// bits-wide values, against the uniform distribution over 2^min(8,bits) buckets. For uniform input it
// has about 2^min(8,bits)−1 degrees of freedom (mean 255, standard deviation about 22.6 for 256
// buckets); tests of a party's view compare it against a generous threshold such as
// ChiSquareLimit(bits).
func ChiSquareUniform(vals []uint64, bits uint) float64 {
	if len(vals) == 0 || bits == 0 {
		return 0
	}
	bits = min(bits, 64)
	top := min(bits, 8)
	nb := 1 << top
	counts := make([]float64, nb)
	for _, v := range vals {
		v &= hss.Mask(bits)
		counts[v>>(bits-top)]++
	}
	exp := float64(len(vals)) / float64(nb)
	var chi float64
	for _, c := range counts {
		d := c - exp
		chi += d * d / exp
	}
	return chi
}

// ChiSquareLimit is a threshold for ChiSquareUniform that uniform data exceeds with negligible
// probability (mean plus about 7 standard deviations).
func ChiSquareLimit(bits uint) float64 {
	dof := float64(int(1)<<min(bits, 8)) - 1
	return dof + 7*math.Sqrt(2*dof) + 10
}

// Recorder wraps a Transport and keeps a copy of every message received, to test what a party sees.
type Recorder struct {
	hss.Transport
	mu   sync.Mutex
	msgs [][]byte
}

// Record wraps t.
func Record(t hss.Transport) *Recorder { return &Recorder{Transport: t} }

// Exchange forwards to the wrapped transport and records the received message.
func (r *Recorder) Exchange(send []byte) ([]byte, error) {
	recv, err := r.Transport.Exchange(send)
	if err == nil {
		r.mu.Lock()
		r.msgs = append(r.msgs, append([]byte(nil), recv...))
		r.mu.Unlock()
	}
	return recv, err
}

// Received returns the messages received so far, one per round.
func (r *Recorder) Received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.msgs...)
}

// Close closes the wrapped transport if it can be closed.
func (r *Recorder) Close() error {
	if c, ok := r.Transport.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
