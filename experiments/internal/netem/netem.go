package netem

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Link is the shape of one direction of an emulated path.
type Link struct {
	// Delay is the one-way propagation delay added to every byte.
	Delay time.Duration
	// Bandwidth is the bottleneck rate in bits per second; 0 means
	// unlimited.
	Bandwidth float64
	// Buffer bounds the bytes held by the proxy per connection in this
	// direction (read but not yet delivered); 0 means
	// max(2 × Bandwidth × Delay / 8, 4 MiB).
	Buffer int
}

// Common link rates in bits per second.
const (
	Mbps = 1e6
	Gbps = 1e9
)

const defaultBuffer = 4 << 20

func (l Link) validate() error {
	if l.Delay < 0 || l.Bandwidth < 0 || math.IsNaN(l.Bandwidth) || math.IsInf(l.Bandwidth, 0) || l.Buffer < 0 {
		return fmt.Errorf("netem: invalid link %+v", l)
	}
	return nil
}

// buffer is the in-flight bound of one connection direction.
func (l Link) buffer() int {
	if l.Buffer > 0 {
		return l.Buffer
	}
	b := defaultBuffer
	if l.Bandwidth > 0 {
		bdp := l.Bandwidth / 8 * l.Delay.Seconds()
		if 2*bdp > float64(b) {
			b = int(2 * bdp)
		}
	}
	return b
}

// segment is the largest number of bytes scheduled as one unit: about 500 µs
// of serialisation time, clamped to [1 KiB, 64 KiB].
func (l Link) segment() int {
	if l.Bandwidth == 0 {
		return maxRead
	}
	s := int(l.Bandwidth / 8 * 500e-6)
	return min(max(s, 1<<10), maxRead)
}

// String describes the link, e.g. "1ms 50Mbit/s".
func (l Link) String() string {
	bw := "unlimited"
	if l.Bandwidth > 0 {
		bw = fmt.Sprintf("%gMbit/s", l.Bandwidth/1e6)
	}
	return fmt.Sprintf("%v %s", l.Delay, bw)
}

// shaper is the bottleneck of one direction, shared by all connections of a
// Proxy (or of several, through Shared).
type shaper struct {
	link Link
	mu   sync.Mutex
	free time.Time // when the bottleneck finishes serialising what it holds
}

// schedule returns the due times of segments of the given sizes that arrived
// at t, in order, into due (which it returns, extended).
func (s *shaper) schedule(t time.Time, sizes []int, due []time.Time) []time.Time {
	if s.link.Bandwidth == 0 {
		d := t.Add(s.link.Delay)
		for range sizes {
			due = append(due, d)
		}
		return due
	}
	s.mu.Lock()
	start := s.free
	if t.After(start) {
		start = t
	}
	for _, n := range sizes {
		start = start.Add(serialisation(n, s.link.Bandwidth))
		due = append(due, start.Add(s.link.Delay))
	}
	s.free = start
	s.mu.Unlock()
	return due
}

// eof returns the due time of an end of stream observed at t: it follows
// everything already on the link but occupies no link time.
func (s *shaper) eof(t time.Time) time.Time {
	s.mu.Lock()
	start := s.free
	s.mu.Unlock()
	if t.After(start) {
		start = t
	}
	return start.Add(s.link.Delay)
}

func serialisation(n int, bw float64) time.Duration {
	return time.Duration(math.Round(float64(n) * 8 * 1e9 / bw))
}

// Stats counts what a Proxy has forwarded, and how late it was: a write
// delivers every segment that is due, and its lateness is how long after the
// due time of its earliest segment it began (the emulator's own timing
// error, not counting the extra loopback hop).
type Stats struct {
	Conns   int64         // connections accepted and connected to the target
	Active  int64         // connections currently open
	Up      int64         // bytes delivered client -> target
	Down    int64         // bytes delivered target -> client
	Writes  int64         // delivery writes, both directions
	Late    time.Duration // total lateness of those writes
	MaxLate time.Duration // largest lateness of one write
}

// MeanLate is the mean lateness of a delivery write.
func (s Stats) MeanLate() time.Duration {
	if s.Writes == 0 {
		return 0
	}
	return s.Late / time.Duration(s.Writes)
}

// Proxy listens on a local address and forwards every accepted TCP
// connection to a target, applying its up Link to client->target bytes and
// its down Link to target->client bytes.
type Proxy struct {
	ln       net.Listener
	target   string
	up, down *shaper
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu     sync.Mutex
	closed bool
	conns  map[*conn]struct{}

	nconn, nup, ndown     atomic.Int64
	writes, late, maxLate atomic.Int64

	onWrite func(late time.Duration) // benchmark hook; nil normally
}

// wrote records one delivery write that began late after its due time.
func (p *Proxy) wrote(late time.Duration) {
	p.writes.Add(1)
	p.late.Add(int64(late))
	if p.onWrite != nil {
		p.onWrite(late)
	}
	for {
		m := p.maxLate.Load()
		if int64(late) <= m || p.maxLate.CompareAndSwap(m, int64(late)) {
			return
		}
	}
}

// Listen starts a proxy listening on addr (such as "127.0.0.1:0") that
// forwards to target with the given link shapes.
func Listen(addr, target string, up, down Link) (*Proxy, error) {
	if err := up.validate(); err != nil {
		return nil, err
	}
	if err := down.validate(); err != nil {
		return nil, err
	}
	return listen(addr, target, &shaper{link: up}, &shaper{link: down}, nil)
}

// Shared is one bottleneck per direction that several proxies share: a
// client's home connection to several servers, each reached through its own
// Proxy, whose bytes all queue on the same uplink and downlink.
type Shared struct{ up, down *shaper }

// NewShared returns a shared bottleneck with the given shapes (up: from the
// proxies' clients to their targets).
func NewShared(up, down Link) (*Shared, error) {
	if err := up.validate(); err != nil {
		return nil, err
	}
	if err := down.validate(); err != nil {
		return nil, err
	}
	return &Shared{up: &shaper{link: up}, down: &shaper{link: down}}, nil
}

// Listen starts a proxy to target whose two directions go through s.
func (s *Shared) Listen(addr, target string) (*Proxy, error) {
	return listen(addr, target, s.up, s.down, nil)
}

// listen starts a proxy over the given bottlenecks, with a hook called with
// the lateness of every delivery write (for the benchmarks).
func listen(addr, target string, up, down *shaper, onWrite func(time.Duration)) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		ln: ln, target: target,
		up: up, down: down,
		ctx: ctx, cancel: cancel,
		conns:   make(map[*conn]struct{}),
		onWrite: onWrite,
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Symmetric starts a proxy whose two directions both use l.
func Symmetric(addr, target string, l Link) (*Proxy, error) {
	return Listen(addr, target, l, l)
}

// Addr returns the address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	active := int64(len(p.conns))
	p.mu.Unlock()
	return Stats{
		Conns: p.nconn.Load(), Active: active, Up: p.nup.Load(), Down: p.ndown.Load(),
		Writes: p.writes.Load(), Late: time.Duration(p.late.Load()), MaxLate: time.Duration(p.maxLate.Load()),
	}
}

// Close stops listening, closes every forwarded connection and waits for
// all the proxy's goroutines to end. Calling it again returns nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.cancel()
	for _, c := range conns {
		c.kill()
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(5 * time.Millisecond) // e.g. EMFILE: back off and retry
			continue
		}
		p.wg.Add(1)
		go p.serve(c.(*net.TCPConn))
	}
}

// serve dials the target for an accepted client connection and starts the
// two directions.
func (p *Proxy) serve(client *net.TCPConn) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: 10 * time.Second}
	tc, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	target := tc.(*net.TCPConn)
	c := &conn{p: p, a: client, b: target, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		client.Close()
		target.Close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	p.nconn.Add(1)
	c.pending.Store(2)
	upPipe := newPipe(c, client, target, p.up, &p.nup)
	downPipe := newPipe(c, target, client, p.down, &p.ndown)
	p.wg.Add(4)
	go upPipe.read()
	go upPipe.write()
	go downPipe.read()
	go downPipe.write()
}

// conn is one forwarded connection: a is the client side, b the target side.
type conn struct {
	p       *Proxy
	a, b    *net.TCPConn
	done    chan struct{}
	once    sync.Once
	pending atomic.Int32 // directions whose end of stream has not been delivered
}

// kill closes both sides and ends all four goroutines of the connection.
func (c *conn) kill() {
	c.once.Do(func() {
		close(c.done)
		c.a.Close()
		c.b.Close()
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	})
}

// finished records that one direction delivered its end of stream; when
// both have, the connection is closed.
func (c *conn) finished() {
	if c.pending.Add(-1) == 0 {
		c.kill()
	}
}
