package secure

import (
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// Benchmarks of the linear parts of a stories15M prefill (128 tokens, Dim 288, HiddenDim 768, 6
// heads of 48) and of a decode step, both parties over an in-memory pipe; the dealer's material is
// made outside the timer. ns/op is one call's wall time with both parties running concurrently, as
// in experiments/hssbench.

// cpuClock accumulates the process's CPU time (user and system, all threads) over the timed parts
// of a benchmark: on a shared machine it is steadier than the wall time.
type cpuClock struct {
	t0, sum time.Duration
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) start() { c.t0 = cpuNow() }
func (c *cpuClock) stop()  { c.sum += cpuNow() - c.t0 }

// report adds the CPU time per operation to b's results.
func (c *cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(c.sum.Nanoseconds())/float64(b.N)/1e6, "cpu-ms/op")
}

// benchSink collects the dealer's keys per party.
type benchSink struct{ k [2][]hss.Key }

func (s *benchSink) Push(k0, k1 hss.MarshalKey) error {
	s.k[0], s.k[1] = append(s.k[0], k0), append(s.k[1], k1)
	return nil
}

func (s *benchSink) materials() [2]*hss.Material {
	m := [2]*hss.Material{hss.NewMaterial(s.k[0]...), hss.NewMaterial(s.k[1]...)}
	s.k = [2][]hss.Key{}
	return m
}

// benchShares returns both parties' shares of n small random fixed-point values.
func benchShares(r *rand.Rand, n int) [2][]uint64 {
	var s [2][]uint64
	s[0], s[1] = make([]uint64, n), make([]uint64, n)
	for i := range n {
		v := uint64(int64(r.IntN(1<<15) - 1<<14))
		s[0][i] = r.Uint64()
		s[1][i] = v - s[0][i]
	}
	return s
}

func benchLinears(r *rand.Rand, outs []int, in int) []*EncLinear {
	ws := make([]*EncLinear, len(outs))
	for i, o := range outs {
		w := make([]int32, o*in)
		for j := range w {
			w[j] = int32(r.IntN(1<<12) - 1<<11)
		}
		ws[i] = &EncLinear{Out: o, In: in, W: w}
	}
	return ws
}

// boundParty and boundDealer are backends bound to prm, used without an Exec.
func boundParty(p *hss.Party) *Party {
	b := &Party{P: p}
	b.bind(prm)
	return b
}

func boundDealer(sink Sink) *Dealer {
	d := &Dealer{Rand: hss.NewPRG([32]byte{1}), Sink: sink}
	d.bind(prm)
	return d
}

// runPair runs f on both parties with the given material and fails b on an error.
func runPair(b *testing.B, m [2]*hss.Material, f func(p *Party) error) {
	b.Helper()
	if _, _, err := hss.RunPair(prm.Fixed(), m[0], m[1], func(p *hss.Party) error { return f(boundParty(p)) }); err != nil {
		b.Fatal(err)
	}
}

var prm = hss.DefaultParams()

// benchLinearsShape measures Linears (one truncation for all outs), or with one output and single
// set, Linear, on rows inputs of width in.
func benchLinearsShape(b *testing.B, rows int, outs []int, in int, single bool) {
	r := rand.New(rand.NewPCG(1, 2))
	ws := benchLinears(r, outs, in)
	x := benchShares(r, rows*in)
	sink := &benchSink{}
	d := boundDealer(sink)
	run := func(be Backend, x Tensor) error {
		if single {
			_, err := be.Linear(x, ws[0])
			return err
		}
		_, err := be.Linears(x, ws)
		return err
	}
	var cpu cpuClock
	for b.Loop() {
		b.StopTimer()
		if err := run(d, Tensor{Rows: rows, Cols: in}); err != nil {
			b.Fatal(err)
		}
		m := sink.materials()
		b.StartTimer()
		cpu.start()
		runPair(b, m, func(p *Party) error { return run(p, Tensor{Rows: rows, Cols: in, V: x[p.P.ID]}) })
		cpu.stop()
	}
	cpu.report(b)
	macs := 0
	for _, o := range outs {
		macs += rows * o * in
	}
	b.ReportMetric(float64(macs)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}

// BenchmarkLinears: the prefill's QKV (3 × 288×288) and W1/W3 (2 × 768×288) of 128 rows, and the
// decode step's (1 row).
func BenchmarkLinears(b *testing.B) {
	b.Run("QKV/128", func(b *testing.B) { benchLinearsShape(b, 128, []int{288, 288, 288}, 288, false) })
	b.Run("W13/128", func(b *testing.B) { benchLinearsShape(b, 128, []int{768, 768}, 288, false) })
	b.Run("QKV/1", func(b *testing.B) { benchLinearsShape(b, 1, []int{288, 288, 288}, 288, false) })
	b.Run("W13/1", func(b *testing.B) { benchLinearsShape(b, 1, []int{768, 768}, 288, false) })
}

// BenchmarkLinear: the prefill's Wo (288×288) and W2 (288×768) of 128 rows, the decode step's, and
// the LM head (32000×288) of one row.
func BenchmarkLinear(b *testing.B) {
	b.Run("O/128", func(b *testing.B) { benchLinearsShape(b, 128, []int{288}, 288, true) })
	b.Run("W2/128", func(b *testing.B) { benchLinearsShape(b, 128, []int{288}, 768, true) })
	b.Run("O/1", func(b *testing.B) { benchLinearsShape(b, 1, []int{288}, 288, true) })
	b.Run("W2/1", func(b *testing.B) { benchLinearsShape(b, 1, []int{288}, 768, true) })
	b.Run("Head/1", func(b *testing.B) { benchLinearsShape(b, 1, []int{32000}, 288, true) })
}

// benchAttend runs one layer's AttendScores and SoftmaxValues (6 heads of 48) for rows new rows on a
// cache of pos0 rows (filled once; every iteration's rows are dropped again outside the timer).
func benchAttend(b *testing.B, pos0, rows int) {
	const heads, hd = 6, 48
	r := rand.New(rand.NewPCG(1, 2))
	sink := &benchSink{}
	d := boundDealer(sink)
	tensors := func(rows, cols int) ([2][]Tensor, []Tensor) {
		var t [2][]Tensor
		var sh []Tensor
		for range heads {
			s := benchShares(r, rows*cols)
			for p := range 2 {
				t[p] = append(t[p], Tensor{Rows: rows, Cols: cols, V: s[p]})
			}
			sh = append(sh, Tensor{Rows: rows, Cols: cols})
		}
		return t, sh
	}
	parties := [2]*Party{{}, {}}
	for _, be := range parties {
		if err := be.bind(prm); err != nil { // the dealer's parameters (boundDealer)
			b.Fatal(err)
		}
	}
	// prepare deals one step's material and returns the step.
	prepare := func(pos0, rows int) func() {
		T := pos0 + rows
		q, qs := tensors(rows, hd)
		k, ks := tensors(rows, hd)
		v, vs := tensors(rows, hd)
		if _, err := d.AttendScores(0, qs, ks, 1); err != nil {
			b.Fatal(err)
		}
		if _, err := d.SoftmaxValues(0, Tensor{Rows: heads * rows, Cols: T}, heads, pos0, vs, 1); err != nil {
			b.Fatal(err)
		}
		m := sink.materials()
		return func() {
			runPair(b, m, func(p *Party) error {
				be := parties[p.P.ID]
				be.P = p.P
				scores, err := be.AttendScores(0, q[p.P.ID], k[p.P.ID], 1)
				if err != nil {
					return err
				}
				x := Tensor{Rows: heads * rows, Cols: T}
				for _, s := range scores {
					x.V = append(x.V, s.V...)
				}
				_, err = be.SoftmaxValues(0, x, heads, pos0, v[p.P.ID], 1)
				return err
			})
		}
	}
	if pos0 > 0 {
		prepare(0, pos0)()
	}
	var cpu cpuClock
	for b.Loop() {
		b.StopTimer()
		d.Truncate(pos0)
		parties[0].Truncate(pos0)
		parties[1].Truncate(pos0)
		run := prepare(pos0, rows)
		b.StartTimer()
		cpu.start()
		run()
		cpu.stop()
	}
	cpu.report(b)
}

// BenchmarkAttend: one layer's masked-cache products with the softmax between them (scores, then
// SoftmaxValues; 6 heads of 48) of the
// 128-token prefill and of a decode step after 128 positions.
func BenchmarkAttend(b *testing.B) {
	b.Run("prefill/128", func(b *testing.B) { benchAttend(b, 0, 128) })
	b.Run("decode/128+1", func(b *testing.B) { benchAttend(b, 128, 1) })
}

// benchPass runs one pass of rows positions after pos0 (a prefill when pos0 is 0) of the stories15M
// shape, both parties; the dealer's walk is outside the timer, and the first pos0 positions are
// run once (every iteration's positions are dropped again).
func benchPass(b *testing.B, pos0, rows int) {
	m, err := model.Preset("stories15M", 1)
	if err != nil {
		b.Fatal(err)
	}
	w, err := EncodeWeights(m, prm)
	if err != nil {
		b.Fatal(err)
	}
	c := m.Config
	sink := &benchSink{}
	de, err := NewExec(c, prm, nil, &Dealer{Rand: hss.NewPRG([32]byte{1}), Sink: sink}, c.MaxSeqLen)
	if err != nil {
		b.Fatal(err)
	}
	var pe [2]*Exec
	var pb [2]*Party
	for i := range pe {
		pb[i] = &Party{}
		if pe[i], err = NewExec(c, prm, w, pb[i], c.MaxSeqLen); err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	pass := func(pos0, rows int, m2 [2]*hss.Material) {
		in := benchShares(r, rows*c.Dim)
		if _, _, err := hss.RunPair(prm.Fixed(), m2[0], m2[1], func(p *hss.Party) error {
			pb[p.ID].P = p
			_, err := model.Forward[Tensor](pe[p.ID], m, Tensor{Rows: rows, Cols: c.Dim, V: in[p.ID]}, rows, pos0, true)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	deal := func(pos0, rows int) [2]*hss.Material {
		if _, err := model.Forward[Tensor](de, m, Tensor{Rows: rows, Cols: c.Dim}, rows, pos0, true); err != nil {
			b.Fatal(err)
		}
		return sink.materials()
	}
	if pos0 > 0 {
		pass(0, pos0, deal(0, pos0))
	}
	var cpu cpuClock
	for b.Loop() {
		b.StopTimer()
		de.Truncate(pos0)
		pe[0].Truncate(pos0)
		pe[1].Truncate(pos0)
		mat := deal(pos0, rows)
		runtime.GC() // the dealer's garbage, not the parties'
		b.StartTimer()
		cpu.start()
		pass(pos0, rows, mat)
		cpu.stop()
	}
	cpu.report(b)
}

// BenchmarkPass: a whole stories15M pass, both parties: the 128-token prefill and a decode step
// after it.
func BenchmarkPass(b *testing.B) {
	b.Run("prefill/128", func(b *testing.B) { benchPass(b, 0, 128) })
	b.Run("decode/128+1", func(b *testing.B) { benchPass(b, 128, 1) })
}
