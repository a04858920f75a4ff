package hss

import (
	"errors"
	"runtime"
	"sync"
	"time"
)

// Stats counts one side's traffic. A round is one Exchange call.
type Stats struct {
	BytesSent int64 `json:"bytes_sent"`
	BytesRecv int64 `json:"bytes_recv"`
	Rounds    int64 `json:"rounds"`
}

// Add returns the sum of s and o.
func (s Stats) Add(o Stats) Stats {
	return Stats{BytesSent: s.BytesSent + o.BytesSent, BytesRecv: s.BytesRecv + o.BytesRecv, Rounds: s.Rounds + o.Rounds}
}

// Round returns s with one more round that sent and received the given numbers of bytes.
func (s Stats) Round(sent, recv int) Stats {
	return Stats{BytesSent: s.BytesSent + int64(sent), BytesRecv: s.BytesRecv + int64(recv), Rounds: s.Rounds + 1}
}

// Sub returns s − o (the traffic between two snapshots).
func (s Stats) Sub(o Stats) Stats {
	return Stats{BytesSent: s.BytesSent - o.BytesSent, BytesRecv: s.BytesRecv - o.BytesRecv, Rounds: s.Rounds - o.Rounds}
}

// Transport is one party's end of the link to its peer. Exchange is one round: this side sends send and
// receives the peer's message of the same round. Implementations count bytes and rounds.
// The caller may reuse send after Exchange returns; the returned slice belongs to the caller (Party
// recycles its memory once decoded, so an implementation must not keep or reuse it).
type Transport interface {
	Exchange(send []byte) (recv []byte, err error)
	Stats() Stats
}

// ErrClosed is returned by Exchange on a closed Pipe end (or when the peer closed its end).
var ErrClosed = errors.New("hss: transport: closed")

type pipeEnd struct {
	mu    sync.Mutex // serialises Exchange calls on this end
	out   chan<- []byte
	in    <-chan []byte
	done  chan struct{} // closed when either end closes
	once  *sync.Once
	stats Stats
	smu   sync.Mutex
}

// Pipe returns the two ends of an in-memory transport. Each end is safe for concurrent use (concurrent
// Exchange calls on one end are serialised into separate rounds). Closing either end (both implement
// io.Closer) makes pending and later Exchange calls on both ends return ErrClosed, so a party that fails
// cannot deadlock its peer.
func Pipe() (Transport, Transport) {
	a2b := make(chan []byte, 1)
	b2a := make(chan []byte, 1)
	done := make(chan struct{})
	once := new(sync.Once)
	return &pipeEnd{out: a2b, in: b2a, done: done, once: once},
		&pipeEnd{out: b2a, in: a2b, done: done, once: once}
}

func (p *pipeEnd) Exchange(send []byte) ([]byte, error) {
	return p.exchangeOwned(append([]byte(nil), send...))
}

// exchangeOwned is Exchange without the copy: msg itself becomes the peer's received message.
func (p *pipeEnd) exchangeOwned(msg []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return nil, ErrClosed
	case p.out <- msg:
	}
	var recv []byte
	select {
	case <-p.done:
		return nil, ErrClosed
	case recv = <-p.in:
	}
	p.smu.Lock()
	p.stats = p.stats.Round(len(msg), len(recv))
	p.smu.Unlock()
	return recv, nil
}

func (p *pipeEnd) Stats() Stats {
	p.smu.Lock()
	defer p.smu.Unlock()
	return p.stats
}

// Close closes both ends of the pipe.
func (p *pipeEnd) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

type link struct {
	Transport
	rtt time.Duration
	bps float64
}

// WithLink wraps t to simulate a WAN link: every round additionally waits rtt/2 (one-way latency) plus
// the serialisation time of the larger of the two messages at bitsPerSecond (0 or less: unlimited).
// Stats are those of t.
func WithLink(t Transport, rtt time.Duration, bitsPerSecond float64) Transport {
	return &link{Transport: t, rtt: rtt, bps: bitsPerSecond}
}

func (l *link) Exchange(send []byte) ([]byte, error) {
	return l.exchange(send, false)
}

func (l *link) exchangeOwned(send []byte) ([]byte, error) {
	return l.exchange(send, true)
}

func (l *link) exchange(send []byte, owned bool) ([]byte, error) {
	start := time.Now()
	var recv []byte
	var err error
	if owned {
		recv, _, err = handOff(l.Transport, send)
	} else {
		recv, err = l.Transport.Exchange(send)
	}
	if err != nil {
		return nil, err
	}
	d := l.rtt / 2
	if l.bps > 0 {
		bits := 8 * float64(max(len(send), len(recv)))
		d += time.Duration(bits / l.bps * float64(time.Second))
	}
	waitUntil(start.Add(d))
	return recv, nil
}

// sleepSlack is how much later than asked time.Sleep may return on a busy
// machine (measured: a 250 µs sleep took about 1.1 ms on a 2-vCPU VM).
const sleepSlack = 1500 * time.Microsecond

// waitUntil returns at deadline: it sleeps while more than sleepSlack is
// left and yields the processor in a loop for the rest, so simulated LAN
// delays of a fraction of a millisecond are not rounded up to the timer's
// granularity.
func waitUntil(deadline time.Time) {
	if rest := time.Until(deadline) - sleepSlack; rest > 0 {
		time.Sleep(rest)
	}
	for time.Now().Before(deadline) {
		runtime.Gosched()
	}
}

// Close closes the wrapped transport if it can be closed.
func (l *link) Close() error {
	if c, ok := l.Transport.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// ownedExchanger is a Transport that can take over the sent buffer instead of copying it.
type ownedExchanger interface {
	exchangeOwned(send []byte) ([]byte, error)
}

// handOff is Exchange for a send buffer the caller gives up: a transport that can take it over
// passes it on without a copy. taken reports whether the caller must leave send alone from now on;
// when it is false the caller may reuse send, as after Exchange.
func handOff(t Transport, send []byte) (recv []byte, taken bool, err error) {
	if o, ok := t.(ownedExchanger); ok {
		recv, err = o.exchangeOwned(send)
		return recv, true, err
	}
	recv, err = t.Exchange(send)
	return recv, false, err
}
