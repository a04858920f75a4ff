package netem

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// maxRead caps one read from the source socket.
const maxRead = 64 << 10

// maxMarks bounds the segments queued in one pipe (tiny writes make one
// segment per read, so the byte bound alone would allow millions).
const maxMarks = 1 << 16

// mark ends a scheduled segment: the bytes of the ring up to end (a running
// byte count) are due at due. An eof mark carries no bytes.
type mark struct {
	end int64
	due time.Time
	eof bool
}

// pipe is one direction of a connection: a reader goroutine copies bytes
// from src into a ring buffer and queues marks with their due times; a writer
// goroutine waits for each due time and writes the due bytes to dst.
type pipe struct {
	c     *conn
	rd    *stampReader // reads the source side
	dst   *net.TCPConn
	sh    *shaper
	count *atomic.Int64
	seg   int

	buf []byte // ring of len(buf) bytes; byte i of the stream is buf[i%len(buf)]

	mu    sync.Mutex
	in    int64  // bytes read from src so far
	out   int64  // bytes written to dst so far
	marks []mark // pending marks, FIFO from head
	head  int
	// starved: the reader waits for at least lowWater free bytes.
	starved  bool
	lowWater int64

	data  chan struct{} // reader -> writer: marks were added
	space chan struct{} // writer -> reader: ring space was freed
}

func newPipe(c *conn, src, dst *net.TCPConn, sh *shaper, count *atomic.Int64) *pipe {
	return &pipe{
		c: c, rd: newStampReader(src), dst: dst, sh: sh, count: count,
		seg: sh.link.segment(),
		buf: make([]byte, sh.link.buffer()),
		// Once full, the ring is refilled in reads of at least this much,
		// not one delivered segment at a time.
		lowWater: int64(min(maxRead, sh.link.buffer()/2)),
		data:     make(chan struct{}, 1),
		space:    make(chan struct{}, 1),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (p *pipe) read() {
	defer p.c.p.wg.Done()
	size := int64(len(p.buf))
	var sizes []int
	var due []time.Time
	var last time.Time // arrival times are kept monotonic
	for {
		p.mu.Lock()
		in, free := p.in, size-(p.in-p.out)
		if free == 0 || len(p.marks)-p.head >= maxMarks {
			p.starved = true
		}
		starved := p.starved
		p.mu.Unlock()
		if starved {
			select {
			case <-p.space:
				continue
			case <-p.c.done:
				return
			}
		}
		start := in % size
		n := min(free, size-start, maxRead)
		k, t, err := p.rd.read(p.buf[start : start+n])
		if t.Before(last) {
			t = last
		}
		last = t
		if k > 0 {
			sizes = sizes[:0]
			for r := k; r > 0; r -= p.seg {
				sizes = append(sizes, min(r, p.seg))
			}
			due = p.sh.schedule(t, sizes, due[:0])
			p.mu.Lock()
			end := p.in
			for i, s := range sizes {
				end += int64(s)
				p.marks = append(p.marks, mark{end: end, due: due[i]})
			}
			p.in = end
			p.mu.Unlock()
			signal(p.data)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				d := p.sh.eof(t)
				p.mu.Lock()
				p.marks = append(p.marks, mark{end: p.in, due: d, eof: true})
				p.mu.Unlock()
				signal(p.data)
			} else {
				p.c.kill()
			}
			return
		}
	}
}

func (p *pipe) write() {
	defer p.c.p.wg.Done()
	size := int64(len(p.buf))
	sl := newSleeper()
	defer sl.stop()
	var bufs [2][]byte
	for {
		p.mu.Lock()
		if p.head == len(p.marks) {
			p.mu.Unlock()
			select {
			case <-p.data:
				continue
			case <-p.c.done:
				return
			}
		}
		first := p.marks[p.head].due
		p.mu.Unlock()
		if !sl.until(first, p.c.done) {
			return
		}
		// Take every mark that is due now (at least the first).
		now := time.Now()
		p.mu.Lock()
		i := p.head + 1
		for i < len(p.marks) && !p.marks[i].due.After(now) {
			i++
		}
		last := p.marks[i-1]
		out := p.out
		p.mu.Unlock()

		if n := last.end - out; n > 0 {
			p.c.p.wrote(now.Sub(first))
			s := out % size
			e := s + n
			var b net.Buffers
			if e <= size {
				bufs[0] = p.buf[s:e]
				b = bufs[:1]
			} else {
				bufs[0], bufs[1] = p.buf[s:], p.buf[:e-size]
				b = bufs[:2]
			}
			if _, err := b.WriteTo(p.dst); err != nil {
				p.c.kill()
				return
			}
			p.count.Add(n)
		}
		p.mu.Lock()
		p.out = last.end
		p.head = i
		if p.head == len(p.marks) {
			p.marks, p.head = p.marks[:0], 0
		} else if p.head > 1024 && p.head > len(p.marks)/2 {
			p.marks = p.marks[:copy(p.marks, p.marks[p.head:])]
			p.head = 0
		}
		wake := p.starved && size-(p.in-p.out) >= p.lowWater && len(p.marks)-p.head <= maxMarks/2
		if wake {
			p.starved = false
		}
		p.mu.Unlock()
		if wake {
			signal(p.space)
		}
		if last.eof {
			if err := p.dst.CloseWrite(); err != nil {
				p.c.kill()
				return
			}
			p.c.finished()
			return
		}
	}
}
