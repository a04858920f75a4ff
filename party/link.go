package party

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hssee/hssee/hss"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// frameStream is either end of a Peer.Link stream.
type frameStream interface {
	Send(*pb.PeerFrame) error
	Recv() (*pb.PeerFrame, error)
}

// DefaultMaxRound bounds one round's message from the peer (1 GiB).
const DefaultMaxRound = 1 << 30

// Link is an hss.Transport over one Peer.Link stream: each Exchange sends
// this side's message as frames of at most ChunkSize bytes while it
// receives the peer's, and counts bytes (payload only) and rounds like
// hss.Pipe. Exchange calls are serialised. After any error the link is
// broken: it closes the stream (through the close function it was made
// with) and every later Exchange fails, so neither side can block on a
// dead peer.
type Link struct {
	s        frameStream
	close    func()
	maxRound int

	mu    sync.Mutex // serialises Exchange
	err   error
	smu   sync.Mutex
	stats hss.Stats
}

// newLink wraps s; close must make s's pending Send and Recv return.
func newLink(s frameStream, close func(), maxRound int) *Link {
	if maxRound <= 0 {
		maxRound = DefaultMaxRound
	}
	return &Link{s: s, close: close, maxRound: maxRound}
}

// ErrLinkBroken is returned by Exchange after an earlier failure.
var ErrLinkBroken = errors.New("party: peer link broken")

func (l *Link) Exchange(send []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return nil, l.err
	}
	errc := make(chan error, 1)
	go func() { errc <- sendMessage(l.s, send) }()
	recv, rerr := recvMessage(l.s, l.maxRound)
	if rerr != nil {
		l.fail()
		<-errc
		l.err = fmt.Errorf("%w: receive: %w", ErrLinkBroken, rerr)
		return nil, l.err
	}
	if serr := <-errc; serr != nil {
		l.fail()
		l.err = fmt.Errorf("%w: send: %w", ErrLinkBroken, serr)
		return nil, l.err
	}
	l.smu.Lock()
	l.stats = l.stats.Round(len(send), len(recv))
	l.smu.Unlock()
	return recv, nil
}

func (l *Link) fail() {
	if l.close != nil {
		l.close()
	}
}

// Stats is the traffic so far.
func (l *Link) Stats() hss.Stats {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.stats
}

// Close breaks the link.
func (l *Link) Close() error {
	l.fail()
	return nil
}

func sendMessage(s frameStream, msg []byte) error {
	parts := chunks(msg)
	for i, p := range parts {
		if err := s.Send(&pb.PeerFrame{Data: p, Last: i == len(parts)-1}); err != nil {
			return err
		}
	}
	return nil
}

// recvMessage reassembles one round's message from frames.
func recvMessage(s frameStream, limit int) ([]byte, error) {
	var msg []byte
	for {
		f, err := s.Recv()
		if err != nil {
			return nil, err
		}
		var done bool
		if msg, done, err = addFrame(msg, f, limit); err != nil {
			return nil, err
		}
		if done {
			return msg, nil
		}
	}
}

// addFrame appends a peer frame's data to msg, refusing a Hello after the
// handshake, an oversized frame and a message over limit bytes.
func addFrame(msg []byte, f *pb.PeerFrame, limit int) ([]byte, bool, error) {
	switch {
	case f.GetHello() != nil:
		return nil, false, errors.New("unexpected hello")
	case len(f.GetData()) > ChunkSize:
		return nil, false, fmt.Errorf("peer frame: %w", errTooLarge)
	case len(msg)+len(f.GetData()) > limit:
		return nil, false, fmt.Errorf("peer message: %w", errTooLarge)
	}
	msg = append(msg, f.GetData()...)
	return msg, f.GetLast(), nil
}
