package netem

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hssee/hssee/internal/waitfor"
)

// The timing tests assert generous bounds only: they must pass on a busy
// 2-core machine and under the race detector. Precision is measured by the
// benchmarks, not asserted.

// echoServer accepts connections on loopback and echoes each one until EOF,
// then half-closes its side.
func echoServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func proxy(t testing.TB, target string, up, down Link) *Proxy {
	t.Helper()
	p, err := Listen("127.0.0.1:0", target, up, down)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func TestSchedule(t *testing.T) {
	t0 := time.Now()
	ms := time.Millisecond
	// 8 Mbit/s: 1000 bytes take 1 ms.
	s := &shaper{link: Link{Delay: 10 * ms, Bandwidth: 8 * Mbps}}
	due := s.schedule(t0, []int{1000, 500}, nil)
	if due[0] != t0.Add(11*ms) || due[1] != t0.Add(11*ms+ms/2) {
		t.Fatalf("idle link: %v %v", due[0].Sub(t0), due[1].Sub(t0))
	}
	// Arriving while the link is busy: queued behind 1.5 ms of serialisation.
	due = s.schedule(t0.Add(ms), []int{1000}, nil)
	if due[0] != t0.Add(12*ms+ms/2) {
		t.Fatalf("busy link: %v", due[0].Sub(t0))
	}
	if e := s.eof(t0.Add(ms)); e != t0.Add(12*ms+ms/2) {
		t.Fatalf("eof behind data: %v", e.Sub(t0))
	}
	// Arriving after the link drained: starts afresh.
	due = s.schedule(t0.Add(20*ms), []int{2000}, nil)
	if due[0] != t0.Add(32*ms) {
		t.Fatalf("drained link: %v", due[0].Sub(t0))
	}
	// Unlimited bandwidth: delay only.
	u := &shaper{link: Link{Delay: 3 * ms}}
	if d := u.schedule(t0, []int{1 << 20}, nil); d[0] != t0.Add(3*ms) {
		t.Fatalf("unlimited: %v", d[0].Sub(t0))
	}
}

func TestLinkDefaults(t *testing.T) {
	if b := (Link{Delay: time.Millisecond, Bandwidth: 50 * Mbps}).buffer(); b != 4<<20 {
		t.Fatalf("small BDP buffer %d", b)
	}
	if b := (Link{Delay: 100 * time.Millisecond, Bandwidth: Gbps}).buffer(); b != 25_000_000 {
		t.Fatalf("large BDP buffer %d", b)
	}
	if b := (Link{Buffer: 1000}).buffer(); b != 1000 {
		t.Fatalf("explicit buffer %d", b)
	}
	if s := (Link{Bandwidth: 50 * Mbps}).segment(); s != 3125 {
		t.Fatalf("50 Mbit/s segment %d", s)
	}
	if s := (Link{Bandwidth: 10 * Gbps}).segment(); s != maxRead {
		t.Fatalf("10 Gbit/s segment %d", s)
	}
	if _, err := Listen("127.0.0.1:0", "127.0.0.1:1", Link{Delay: -1}, Link{}); err == nil {
		t.Fatal("negative delay accepted")
	}
}

func TestEchoRoundTrips(t *testing.T) {
	const n, delay = 200, 2 * time.Millisecond
	p := proxy(t, echoServer(t), Link{Delay: delay}, Link{Delay: delay})
	c := dial(t, p.Addr())
	msg := make([]byte, 64)
	got := make([]byte, 64)
	start := time.Now()
	for i := range n {
		msg[0] = byte(i)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(msg, got) {
			t.Fatalf("round trip %d: wrong bytes", i)
		}
	}
	el := time.Since(start)
	want := n * 2 * delay
	t.Logf("%d round trips: %v (%v each, ideal %v)", n, el, el/n, 2*delay)
	if el < want || el > 10*want {
		t.Fatalf("%d round trips took %v, want [%v, %v]", n, el, want, 10*want)
	}
	// The counters are updated just after each write returns.
	waitFor(t, func() bool { s := p.Stats(); return s.Up == n*64 && s.Down == n*64 }, "byte counters")
	if s := p.Stats(); s.Conns != 1 || s.Active != 1 || s.Writes < 2*n {
		t.Fatalf("stats %+v", s)
	}
}

func TestBandwidth(t *testing.T) {
	const size, bw = 8 << 20, 200 * Mbps
	// A sink that reads everything and reports when it has.
	got := make(chan int64, 1)
	ln := discardSink(t, got)
	defer ln.Close()
	p := proxy(t, ln.Addr().String(), Link{Delay: time.Millisecond, Bandwidth: bw}, Link{})
	c := dial(t, p.Addr())
	start := time.Now()
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if n := <-got; n != size {
		t.Fatalf("sink got %d bytes", n)
	}
	el := time.Since(start)
	ideal := time.Duration(size * 8 / bw * float64(time.Second))
	t.Logf("8 MiB at 200 Mbit/s: %v (ideal %v, %.1f Mbit/s)", el, ideal, size*8/el.Seconds()/1e6)
	if el < ideal*9/10 {
		t.Fatalf("8 MiB took %v, faster than the link allows (%v)", el, ideal)
	}
	if el > 10*ideal {
		t.Fatalf("8 MiB took %v, ideal %v", el, ideal)
	}
}

func TestPipelining(t *testing.T) {
	const n, delay, gap = 50, 20 * time.Millisecond, time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	arrive := make([]time.Time, n)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 100)
		for i := range n {
			if _, err := io.ReadFull(c, buf); err != nil {
				done <- err
				return
			}
			arrive[i] = time.Now()
			if k := binary.LittleEndian.Uint32(buf); k != uint32(i) {
				done <- errors.New("frames out of order")
				return
			}
		}
		done <- nil
	}()
	p := proxy(t, ln.Addr().String(), Link{Delay: delay}, Link{Delay: delay})
	c := dial(t, p.Addr())
	sent := make([]time.Time, n)
	buf := make([]byte, 100)
	for i := range n {
		binary.LittleEndian.PutUint32(buf, uint32(i))
		sent[i] = time.Now()
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var maxLat time.Duration
	for i := range n {
		lat := arrive[i].Sub(sent[i])
		if lat < delay {
			t.Fatalf("frame %d arrived after %v, before the %v delay", i, lat, delay)
		}
		maxLat = max(maxLat, lat)
	}
	total := arrive[n-1].Sub(sent[0])
	sendSpan := sent[n-1].Sub(sent[0])
	t.Logf("%d writes over %v arrived within %v; max latency %v", n, sendSpan, total, maxLat)
	// Pipelined: about sendSpan + delay; a per-write sleep would take n*delay = 1 s.
	if total > sendSpan+delay+200*time.Millisecond || total > n*delay/2 {
		t.Fatalf("total %v for %d writes over %v: not pipelined", total, n, sendSpan)
	}
}

func TestIntegrityAndHalfClose(t *testing.T) {
	const size = 16 << 20
	for _, l := range []Link{{Delay: time.Millisecond}, {Delay: 500 * time.Microsecond, Bandwidth: Gbps}, {Buffer: 4096}} {
		t.Run(l.String(), func(t *testing.T) {
			p := proxy(t, echoServer(t), l, l)
			c := dial(t, p.Addr())
			data := make([]byte, size)
			rand.Read(data)
			werr := make(chan error, 1)
			go func() {
				_, err := c.Write(data)
				if err == nil {
					err = c.CloseWrite() // the echo server half-closes when it sees EOF
				}
				werr <- err
			}()
			h := sha256.New()
			n, err := io.Copy(h, c) // ends at the echo server's FIN
			if err != nil {
				t.Fatal(err)
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if n != size || !bytes.Equal(h.Sum(nil), sha(data)) {
				t.Fatalf("echoed %d bytes, hash mismatch or short", n)
			}
			waitFor(t, func() bool { s := p.Stats(); return s.Up == size && s.Down == size }, "byte counters")
			waitFor(t, func() bool { return p.Stats().Active == 0 }, "connection closed after both FINs")
		})
	}
}

func sha(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func TestHalfCloseReply(t *testing.T) {
	// The server reads to EOF, then replies and closes: the client's FIN must
	// reach it while the other direction stays open.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		c.Write(append([]byte("got "), b...))
	}()
	p := proxy(t, ln.Addr().String(), Link{Delay: time.Millisecond}, Link{Delay: time.Millisecond})
	c := dial(t, p.Addr())
	c.Write([]byte("hello"))
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "got hello" {
		t.Fatalf("reply %q, %v", b, err)
	}
}

func TestBoundedBuffering(t *testing.T) {
	// A target that never reads: the sender must be blocked by flow control
	// instead of the proxy buffering without bound.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	p := proxy(t, ln.Addr().String(), Link{Buffer: 64 << 10}, Link{})
	c := dial(t, p.Addr())
	defer func() {
		if s := <-accepted; s != nil {
			s.Close()
		}
	}()
	var written int64
	chunk := make([]byte, 256<<10)
	c.SetWriteDeadline(time.Now().Add(time.Second))
	for {
		n, err := c.Write(chunk)
		written += int64(n)
		if err != nil {
			break
		}
		if written > 1<<30 {
			break
		}
	}
	// Socket buffers on both sides (auto-tuned up to a few MiB each) plus the
	// 64 KiB ring; unbounded buffering would take all 1 GiB within a second.
	t.Logf("sender wrote %d KiB before blocking; proxy forwarded %d KiB", written>>10, p.Stats().Up>>10)
	if written > 64<<20 {
		t.Fatalf("sender wrote %d MiB into a stalled path", written>>20)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	target := echoServer(t)
	p, err := Symmetric("127.0.0.1:0", target, Link{Delay: 5 * time.Millisecond, Bandwidth: 10 * Mbps})
	if err != nil {
		t.Fatal(err)
	}
	var clients []*net.TCPConn
	for range 4 {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c.(*net.TCPConn))
	}
	// Keep data in flight on every connection: writers blocked by the slow link.
	var wg sync.WaitGroup
	payload := make([]byte, 32<<20)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Write(payload)
		}()
	}
	waitFor(t, func() bool { s := p.Stats(); return s.Active == 4 && s.Up > 0 }, "4 active connections")
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if s := p.Stats(); s.Active != 0 {
		t.Fatalf("after Close: %+v", s)
	}
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
			t.Fatalf("client read after Close: %v", err)
		}
	}
	wg.Wait() // client writers fail once the proxy closed their connections
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("proxy still accepting after Close")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, c := range clients {
		c.Close()
	}
	// Only this test's echo server goroutines (ended by Cleanup) may remain
	// besides the baseline; give the runtime time to retire the rest.
	waitFor(t, func() bool { return runtime.NumGoroutine() <= base+2 }, "goroutines back to baseline")
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	if !waitfor.Until(10*time.Second, 5*time.Millisecond, cond) {
		t.Fatalf("timed out waiting for %s (goroutines %d)", what, runtime.NumGoroutine())
	}
}

func TestArrivalStamp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := dial(t, ln.Addr().String())
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := newStampReader(s.(*net.TCPConn))
	// The kernel turns receive timestamping on from a deferred work item
	// when the first socket asks for it; give that time to run.
	time.Sleep(10 * time.Millisecond)
	sent := time.Now()
	c.Write([]byte("x"))
	time.Sleep(20 * time.Millisecond) // the bytes wait in the socket
	b := make([]byte, 8)
	n, at, err := r.read(b)
	now := time.Now()
	if err != nil || n != 1 {
		t.Fatalf("read %d, %v", n, err)
	}
	if at.After(now) || at.Before(sent) {
		t.Fatalf("arrival %v not within [sent, now] = [0, %v]", at.Sub(sent), now.Sub(sent))
	}
	if runtime.GOOS == "linux" && now.Sub(at) < maxStampAgeForTest {
		t.Fatalf("kernel timestamp not used: arrival %v before the read, want %v", now.Sub(at), maxStampAgeForTest)
	}
	c.Close()
	if n, _, err := r.read(b); n != 0 || err != io.EOF {
		t.Fatalf("after close: %d, %v", n, err)
	}
}

// Two proxies through one Shared bottleneck share its bandwidth: 4 MiB
// through each at once take as long as 8 MiB through one.
func TestShared(t *testing.T) {
	const size, bw = 4 << 20, 200 * Mbps
	sh, err := NewShared(Link{Bandwidth: bw}, Link{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewShared(Link{Bandwidth: -1}, Link{}); err == nil {
		t.Fatal("negative bandwidth accepted")
	}
	done := make(chan int64, 2)
	var clients []*net.TCPConn
	for range 2 {
		ln := discardSink(t, done)
		defer ln.Close()
		p, err := sh.Listen("127.0.0.1:0", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		clients = append(clients, dial(t, p.Addr()))
	}
	start := time.Now()
	for _, c := range clients {
		go func() {
			c.Write(make([]byte, size))
			c.CloseWrite()
		}()
	}
	for range 2 {
		if n := <-done; n != size {
			t.Fatalf("sink got %d bytes", n)
		}
	}
	el := time.Since(start)
	ideal := time.Duration(2 * size * 8 / bw * float64(time.Second))
	t.Logf("2 × 4 MiB through one shared 200 Mbit/s link: %v (ideal %v)", el, ideal)
	if el < ideal*9/10 {
		t.Fatalf("took %v: the proxies did not share the link (ideal %v)", el, ideal)
	}
}

// discardSink listens on a loopback port, reads the first connection to its end and sends the byte
// count to got (−1 if Accept fails).
func discardSink(t *testing.T, got chan<- int64) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	return ln
}
