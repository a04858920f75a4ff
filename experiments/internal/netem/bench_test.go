package netem

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// pingPong measures n round trips of one byte to an echo server at addr. It
// also returns how long after the reply reached the client's socket the
// client's read returned (its wake-up latency, from the kernel's receive
// timestamp), which any real network adds too.
func pingPong(b *testing.B, addr string, n int) (rtt, wake []time.Duration) {
	c := dial(b, addr)
	r := newStampReader(c)
	one := []byte{1}
	rtt = make([]time.Duration, 0, n)
	wake = make([]time.Duration, 0, n)
	for range n {
		s := time.Now()
		if _, err := c.Write(one); err != nil {
			b.Fatal(err)
		}
		k, at, err := r.read(one)
		if err != nil || k != 1 {
			b.Fatal(k, err)
		}
		now := time.Now()
		rtt = append(rtt, now.Sub(s))
		wake = append(wake, now.Sub(at))
	}
	return rtt, wake
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkDelay reports the achieved one-way delay error of a symmetric
// link: (RTT through the proxy)/2 - Delay, median and 90th/99th percentile
// ("err-*"), and the same after subtracting half the direct loopback RTT
// measured just before ("excess-p50"), the lateness of the proxy's
// delivery writes ("write-late-*", its own timer error) and the client's
// wake-up latency after the reply reached its socket ("wake-p50": the
// endpoints' share of the error, which grows with the idle time between
// messages and which a real network has as well). Run with
// -bench Delay -benchtime=500x or more.
func BenchmarkDelay(b *testing.B) {
	target := echoServer(b)
	for _, d := range []time.Duration{0, 250 * time.Microsecond, time.Millisecond, 5 * time.Millisecond} {
		b.Run(fmt.Sprint(d), func(b *testing.B) {
			rtt, _ := pingPong(b, target, 200)
			direct := quantile(rtt, 0.5)
			var mu sync.Mutex
			var late []time.Duration
			p, err := listen("127.0.0.1:0", target, &shaper{link: Link{Delay: d}}, &shaper{link: Link{Delay: d}}, func(l time.Duration) {
				mu.Lock()
				late = append(late, l)
				mu.Unlock()
			})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			pingPong(b, p.Addr(), 20) // warm up
			b.ResetTimer()
			rtt, wake := pingPong(b, p.Addr(), b.N)
			b.StopTimer()
			e := make([]time.Duration, len(rtt))
			for i, r := range rtt {
				e[i] = r/2 - d
			}
			if quantile(e, 0) < 0 {
				b.Errorf("a round trip beat the emulated delay: %v < 2×%v", 2*(quantile(e, 0)+d), d)
			}
			b.ReportMetric(us(quantile(e, 0.5)), "err-p50-µs")
			b.ReportMetric(us(quantile(e, 0.9)), "err-p90-µs")
			b.ReportMetric(us(quantile(e, 0.99)), "err-p99-µs")
			b.ReportMetric(us(quantile(e, 0.5)-direct/2), "excess-p50-µs")
			b.ReportMetric(us(direct/2), "direct-oneway-µs")
			b.ReportMetric(us(quantile(wake, 0.5)), "wake-p50-µs")
			mu.Lock()
			b.ReportMetric(us(quantile(late, 0.5)), "write-late-p50-µs")
			b.ReportMetric(us(quantile(late, 0.99)), "write-late-p99-µs")
			mu.Unlock()
		})
	}
}

// BenchmarkThroughput sends 4 MiB per iteration through a link of the given
// bandwidth (1 ms delay) to a sink and reports the achieved rate.
func BenchmarkThroughput(b *testing.B) {
	const chunk = 4 << 20
	for _, bw := range []float64{50 * Mbps, 200 * Mbps, Gbps} {
		b.Run(fmt.Sprintf("%gMbps", bw/1e6), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			got := make(chan int64, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- 0
					return
				}
				defer c.Close()
				buf := make([]byte, 256<<10)
				var total int64
				for total < int64(b.N)*chunk {
					n, err := c.Read(buf)
					total += int64(n)
					if err != nil {
						break
					}
				}
				got <- total
			}()
			p := proxy(b, ln.Addr().String(), Link{Delay: time.Millisecond, Bandwidth: bw}, Link{})
			c := dial(b, p.Addr())
			data := make([]byte, chunk)
			b.SetBytes(chunk)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := c.Write(data); err != nil {
					b.Fatal(err)
				}
			}
			n := <-got
			el := time.Since(start)
			b.StopTimer()
			rate := float64(n) * 8 / el.Seconds()
			b.ReportMetric(rate/1e6, "Mbit/s")
			b.ReportMetric(rate/bw, "of-link")
			b.ReportMetric(us(p.Stats().MeanLate()), "write-late-mean-µs")
		})
	}
}
