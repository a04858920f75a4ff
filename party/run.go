package party

// Run: a session's passes, their input shares in and output shares out, and
// the pass itself (material from an upload or the dealer service).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/hss"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// pass is one forward pass as the client submitted it.
type pass struct {
	index      uint64
	rows, pos0 int
	seed       []byte
	shares     []uint64
	ids        []int
}

func (h *sessionService) Run(stream pb.Session_RunServer) error {
	s := h.s
	ss, err := s.sessionFromMD(stream.Context())
	if err != nil {
		return err
	}
	ss.mu.Lock()
	if ss.running {
		ss.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "session already has a Run stream")
	}
	ss.running = true
	ss.mu.Unlock()
	why := "run stream ended"
	defer func() { s.free(ss, why) }()
	// A client that goes away frees the session at once, even mid-pass
	// (the peer link is closed, so the protocol aborts).
	stop := context.AfterFunc(stream.Context(), func() { s.free(ss, "client gone") })
	defer stop()

	reqs := make(chan *pb.RunRequest)
	rerr := make(chan error, 1)
	go func() {
		for {
			r, err := stream.Recv()
			if err != nil {
				rerr <- err
				return
			}
			select {
			case reqs <- r:
			case <-ss.ctx.Done():
				return
			}
		}
	}()
	next := func() (*pb.RunRequest, error) {
		select {
		case r := <-reqs:
			return r, nil
		case err := <-rerr:
			return nil, err
		case <-ss.ctx.Done():
			return nil, status.Error(codes.Aborted, "session closed")
		}
	}
	var sendMu sync.Mutex
	send := func(r *pb.RunResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(r)
	}
	for {
		first, err := next()
		if err == io.EOF {
			why = "closed by client"
			return nil
		} else if err != nil {
			return rpcError(stream.Context(), "run", err)
		}
		p, err := s.readPass(ss, first, next)
		if err != nil {
			why = "bad request"
			return rpcError(stream.Context(), "run", err)
		}
		ss.act.Touch(1)
		start := time.Now()
		var out []byte
		var traffic hss.Stats
		var material int64
		switch ss.mode {
		case ModeHSS:
			out, traffic, material, err = s.passHSS(ss, p, send)
		case ModeEE:
			out, err = s.passEE(ss, p)
		}
		ss.act.Touch(-1)
		s.observePass(ss, p, time.Since(start), traffic, material, err)
		if err != nil {
			why = "pass failed"
			s.log.Warn("pass failed", "session", ss.id.LogID(), "pass", p.index, "rows", p.rows, "pos0", p.pos0, "err", err)
			if status.Code(err) == codes.Unknown {
				err = status.Errorf(codes.Internal, "pass %d: %v", p.index, err)
			}
			return err
		}
		s.log.Debug("pass", "session", ss.id.LogID(), "pass", p.index, "rows", p.rows, "pos0", p.pos0,
			"ms", time.Since(start).Milliseconds(), "rounds", traffic.Rounds, "bytes_sent", traffic.BytesSent)
		parts := chunks(out)
		for i, c := range parts {
			r := &pb.RunResponse{Pass: p.index, Last: i == len(parts)-1}
			if ss.mode == ModeHSS {
				r.Shares = c
			} else {
				r.Logits = c
			}
			if r.Last && ss.mode == ModeHSS {
				r.Traffic = &pb.Traffic{BytesSent: traffic.BytesSent, BytesRecv: traffic.BytesRecv, Rounds: traffic.Rounds,
					MaterialBytes: material}
			}
			if err := send(r); err != nil {
				return err
			}
		}
		ss.mu.Lock()
		ss.nextPass++
		ss.mu.Unlock()
	}
}

// observePass records a pass in the metrics.
func (s *Server) observePass(ss *session, p *pass, d time.Duration, traffic hss.Stats, material int64, err error) {
	m := s.metrics
	if err != nil {
		m.passes.WithLabelValues("failed").Inc()
		return
	}
	m.passes.WithLabelValues("ok").Inc()
	kind := "decode"
	if p.rows > 1 {
		kind = "prefill"
	}
	m.passSeconds.WithLabelValues(kind).Observe(d.Seconds())
	m.peerSent.Add(float64(traffic.BytesSent))
	m.peerReceived.Add(float64(traffic.BytesRecv))
	m.peerRounds.Add(float64(traffic.Rounds))
	ss.mu.Lock()
	pulled := ss.pull != nil
	ss.mu.Unlock()
	if pulled {
		m.material.WithLabelValues("dealer").Add(float64(material))
	}
}

// readPass reads and checks one pass's requests.
func (s *Server) readPass(ss *session, first *pb.RunRequest, next func() (*pb.RunRequest, error)) (*pass, error) {
	c := s.cfg.Model.Config
	ss.mu.Lock()
	want := ss.nextPass
	ss.mu.Unlock()
	pos := 0
	if ss.exec != nil {
		pos = ss.exec.Pos()
	} else if ss.runner != nil {
		pos = ss.runner.Pos()
	}
	p := &pass{index: first.GetPass(), rows: int(first.GetRows()), pos0: int(first.GetPos0())}
	switch {
	case p.index != want:
		return nil, fmt.Errorf("pass %d out of order (want %d)", p.index, want)
	case p.rows < 1 || p.rows > ss.maxSeq:
		return nil, fmt.Errorf("pass of %d rows", p.rows)
	case p.pos0 != pos:
		return nil, fmt.Errorf("pass at position %d, the session is at %d", p.pos0, pos)
	case p.pos0+p.rows > ss.maxSeq:
		return nil, fmt.Errorf("pass of %d rows at %d exceeds the session's %d positions", p.rows, p.pos0, ss.maxSeq)
	}
	if ss.mode == ModeEE {
		if len(first.GetIds()) != p.rows || !first.GetLast() || len(first.GetShares()) > 0 || len(first.GetSeed()) > 0 {
			return nil, errors.New("ee pass: want exactly rows ids in one message")
		}
		p.ids = make([]int, p.rows)
		for i, id := range first.GetIds() {
			if id >= uint32(c.VocabSize) {
				return nil, errors.New("ee pass: token id out of range")
			}
			p.ids[i] = int(id)
		}
		return p, nil
	}
	if len(first.GetIds()) > 0 {
		return nil, errors.New("hss pass: unexpected ids")
	}
	if s.cfg.ID == 0 {
		if len(first.GetSeed()) != 32 || len(first.GetShares()) > 0 || !first.GetLast() {
			return nil, errors.New("party 0 pass: want one message with a 32-byte seed")
		}
		p.seed = first.GetSeed()
		return p, nil
	}
	want64 := p.rows * c.Dim
	p.shares = make([]uint64, 0, want64)
	r := first
	for {
		if len(r.GetSeed()) > 0 || len(r.GetIds()) > 0 || (r != first && (r.GetRows() != 0 || r.GetPass() != p.index)) {
			return nil, errors.New("party 1 pass: malformed continuation")
		}
		if len(r.GetShares()) > 8*(want64-len(p.shares)) {
			return nil, errors.New("party 1 pass: more shares than rows × dim")
		}
		var err error
		if p.shares, err = decodeU64s(p.shares, r.GetShares()); err != nil {
			return nil, err
		}
		if r.GetLast() {
			break
		}
		if r, err = next(); err != nil {
			return nil, err
		}
	}
	if len(p.shares) != want64 {
		return nil, fmt.Errorf("party 1 pass: %d shares, want rows × dim = %d", len(p.shares), want64)
	}
	return p, nil
}

// waitMaterial waits for pass index's material (and, on party 1, the peer
// link).
func (s *Server) waitMaterial(ss *session, index uint64) ([]hss.MarshalKey, *Link, error) {
	deadline := time.NewTimer(s.cfg.MaterialTimeout)
	defer deadline.Stop()
	for {
		ss.mu.Lock()
		keys, ch, link := ss.material[index], ss.matCh, ss.link
		if keys != nil && link != nil {
			// Taken under the same lock it was read: a replacement cannot
			// slip in between, and no upload for this pass is taken after.
			delete(ss.material, index)
			ss.started = max(ss.started, index+1)
			ss.mu.Unlock()
			return keys, link, nil
		}
		ss.mu.Unlock()
		if keys != nil {
			ch = ss.linkCh
		}
		select {
		case <-ch:
		case <-ss.ctx.Done():
			return nil, nil, status.Error(codes.Aborted, "session closed")
		case <-deadline.C:
			if keys == nil {
				return nil, nil, status.Error(codes.DeadlineExceeded, "the pass's dealer material did not arrive in time")
			}
			return nil, nil, status.Error(codes.DeadlineExceeded, "party 0 did not link in time")
		}
	}
}

func (s *Server) passHSS(ss *session, p *pass, send func(*pb.RunResponse) error) (out []byte, traffic hss.Stats, material int64, err error) {
	ss.mu.Lock()
	pull := ss.pull
	ss.mu.Unlock()
	var mat *hss.Material
	var link *Link
	var fd *feed
	if pull != nil {
		if fd, err = pull.take(p.index, p.rows, p.pos0); err != nil {
			return nil, traffic, 0, err
		}
		defer pull.finish(p.index)
		if link, err = s.waitLink(ss); err != nil {
			return nil, traffic, 0, err
		}
		mat = fd.mat
	} else {
		var keys []hss.MarshalKey
		if keys, link, err = s.waitMaterial(ss, p.index); err != nil {
			return nil, traffic, 0, err
		}
		ks := make([]hss.Key, len(keys))
		for i, k := range keys {
			ks[i] = k
			material += int64(k.Size())
		}
		mat = hss.NewMaterial(ks...)
	}
	c := s.cfg.Model.Config
	in := p.shares
	if s.cfg.ID == 0 {
		var seed [32]byte
		copy(seed[:], p.seed)
		in = hss.ExpandShare(seed, p.rows*c.Dim)
	}
	before := link.Stats()
	start := time.Now()
	done := make(chan struct{})
	var ticker sync.WaitGroup
	defer ticker.Wait() // no progress message may follow the pass's answer
	defer close(done)
	ticker.Add(1)
	go func() {
		defer ticker.Done()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				send(&pb.RunResponse{Pass: p.index, Progress: &pb.Progress{Rounds: link.Stats().Rounds - before.Rounds,
					ElapsedMs: time.Since(start).Milliseconds()}})
			}
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("internal error in pass", "session", ss.id.LogID(), "panic", fmt.Sprint(r))
			err = status.Error(codes.Internal, "internal error")
			link.Close()
		}
	}()
	// A pulled pass ends with its stream: it must bring no more keys.
	o, err := ss.exec.Pass(ss.backend, s.cfg.Model, &hss.Party{ID: s.cfg.ID, T: link, Fx: ss.prm.Fixed(), Keys: mat}, in, p.rows, p.pos0)
	if fd != nil {
		material = fd.bytes.Load()
	}
	if err != nil {
		link.Close()
		var de *dealerError
		switch {
		case errors.As(err, &de):
			if ss.ctx.Err() != nil {
				return nil, traffic, material, status.Error(codes.Aborted, "session closed during the pass")
			}
			return nil, traffic, material, status.Errorf(de.code, "party %d, pass %d: %s", s.cfg.ID, p.index, de.msg)
		case errors.Is(err, ErrLinkBroken):
			if ss.ctx.Err() != nil {
				return nil, traffic, material, status.Error(codes.Aborted, "session closed during the pass")
			}
			return nil, traffic, material, status.Errorf(codes.Unavailable, "party %d lost its peer during the pass", s.cfg.ID)
		}
		return nil, traffic, material, status.Errorf(codes.Internal, "pass %d: %v", p.index, err)
	}
	if ss.out32 {
		return appendU32s(make([]byte, 0, 4*len(o)), o), link.Stats().Sub(before), material, nil
	}
	return appendU64s(make([]byte, 0, 8*len(o)), o), link.Stats().Sub(before), material, nil
}

// waitLink waits for the session's peer link (party 1: until party 0 has
// linked).
func (s *Server) waitLink(ss *session) (*Link, error) {
	deadline := time.NewTimer(s.cfg.LinkTimeout)
	defer deadline.Stop()
	ss.mu.Lock()
	link, ch := ss.link, ss.linkCh
	ss.mu.Unlock()
	if link != nil {
		return link, nil
	}
	select {
	case <-ch:
	case <-ss.ctx.Done():
		return nil, status.Error(codes.Aborted, "session closed")
	case <-deadline.C:
		return nil, status.Error(codes.DeadlineExceeded, "party 0 did not link in time")
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.link, nil
}

func (s *Server) passEE(ss *session, p *pass) ([]byte, error) {
	logits, err := ss.runner.Forward(p.ids)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	return appendF32s(make([]byte, 0, 4*len(logits)), logits), nil
}
