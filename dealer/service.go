package dealer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/internal/idle"
	"github.com/hssee/hssee/model"
	"github.com/hssee/hssee/secure"
)

// This file is the dealer as a service (cmd/dealer): sessions whose
// material is made ahead of the passes and handed to each party as a
// stream of key frames, once. It knows model shapes only, never weights,
// inputs or keys of the EE model.

// ServiceConfig configures a Service. Zero limits take their defaults.
type ServiceConfig struct {
	// Prefetch is how many passes of a session are made ahead of the
	// oldest pass not yet delivered to both parties (default 2: the pass
	// the parties run and the next one).
	Prefetch int
	// MaxMemory bounds the bytes of material made and not yet handed to
	// the parties, over all sessions (default 4 GiB). Generation waits
	// while it is reached: the parties' pull paces the dealer.
	MaxMemory int64
	// MaxSessions bounds the open sessions (default 64).
	MaxSessions int
	// MaxPerOwner bounds the open sessions of one SessionSpec.Owner
	// (0: only MaxSessions).
	MaxPerOwner int
	// MaxParams bounds the parameters of a session's model shape (default
	// 2^36), so a client cannot make the dealer walk an absurd model.
	MaxParams int64
	// Seed, when set, makes every session's material a function of it and
	// the session id (tests and reproducible experiments only: whoever
	// knows it can recompute every party's keys). Nil: fresh randomness
	// from crypto/rand for every session.
	Seed *[32]byte
}

// SessionSpec is what the client asks the dealer for: the model's shape,
// the fixed-point precision and capacity, and the rows of the first pass
// (0: the parties' first request names them).
//
// The plan of a session's passes is fixed (secure.PlanPass): pass 0 has FirstRows rows at
// position 0, every later pass one row at the next position (a prefill,
// then one decoded token per pass), up to MaxSeq positions.
type SessionSpec struct {
	Config    model.Config
	Params    hss.Params // validated by Open
	MaxSeq    int
	FirstRows int
	// Owner identifies who opened the session (the dealer service uses the
	// hash of the client's certificate; "" none): CloseAs refuses anyone
	// else, and ServiceConfig.MaxPerOwner counts sessions per owner.
	Owner string
}

// Errors a Service reports; the gRPC layer maps them to status codes.
var (
	ErrNoSession  = errors.New("dealer: no such session (closed, timed out, or never opened)")
	ErrExists     = errors.New("dealer: session id in use")
	ErrTooMany    = errors.New("dealer: too many sessions")
	ErrDelivered  = errors.New("dealer: this pass's material was already delivered to this party (material is one-time)")
	ErrPlan       = errors.New("dealer: pass does not follow the session's plan")
	ErrBadSpec    = errors.New("dealer: bad session")
	ErrClosed     = errors.New("dealer: session closed")
	ErrShutdown   = errors.New("dealer: shutting down")
	ErrNotOwner   = errors.New("dealer: the session was opened by another client")
	errBadPartyID = errors.New("dealer: party is not 0 or 1")
)

// Service holds the dealer's sessions. It is safe for concurrent use.
type Service struct {
	cfg    ServiceConfig
	budget *budget

	mu       sync.Mutex
	sessions map[[16]byte]*Session
	closed   bool
}

// NewService returns a service with cfg's limits.
func NewService(cfg ServiceConfig) *Service {
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = 4 << 30
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 64
	}
	if cfg.MaxParams <= 0 {
		cfg.MaxParams = 1 << 36
	}
	return &Service{cfg: cfg, budget: newBudget(cfg.MaxMemory), sessions: map[[16]byte]*Session{}}
}

// Prefetch is the number of passes made ahead.
func (s *Service) Prefetch() int { return s.cfg.Prefetch }

// Stats are a service's counters.
type Stats struct {
	Sessions int
	Buffered int64 // material bytes made and not yet handed out
}

// Stats returns the current counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	n := len(s.sessions)
	s.mu.Unlock()
	return Stats{Sessions: n, Buffered: s.budget.inUse()}
}

// params is the parameter count of a model shape (weights of the layers
// and the embedding), saturating.
func params(c model.Config) int64 {
	d, h, kv, l, v := int64(c.Dim), int64(c.HiddenDim), int64(c.KVDim()), int64(c.NLayers), int64(c.VocabSize)
	layer := d*d*2 + 2*d*kv + 3*d*h
	if layer <= 0 || l > (1<<40)/max(layer, 1) {
		return 1 << 62
	}
	return l*layer + 2*v*d
}

// Open starts a session: its generator begins making pass 0 at once when
// FirstRows is known.
func (s *Service) Open(id [16]byte, spec SessionSpec) (*Session, error) {
	c := spec.Config
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSpec, err)
	}
	if err := spec.Params.Validate(); err != nil {
		return nil, fmt.Errorf("%w: bad fixed-point precision: %v", ErrBadSpec, err)
	}
	switch {
	case params(c) > s.cfg.MaxParams:
		return nil, fmt.Errorf("%w: the model shape has more than %d parameters", ErrBadSpec, s.cfg.MaxParams)
	case spec.MaxSeq <= 0 || spec.MaxSeq > c.MaxSeqLen:
		return nil, fmt.Errorf("%w: %d positions (the model has %d)", ErrBadSpec, spec.MaxSeq, c.MaxSeqLen)
	case spec.FirstRows < 0 || spec.FirstRows > spec.MaxSeq:
		return nil, fmt.Errorf("%w: first pass of %d rows for %d positions", ErrBadSpec, spec.FirstRows, spec.MaxSeq)
	}
	m, err := secure.ShapeModel(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSpec, err)
	}
	var seed [32]byte
	if s.cfg.Seed != nil {
		h := sha256.New()
		h.Write([]byte("hssee/dealer/session-seed"))
		h.Write(s.cfg.Seed[:])
		h.Write(id[:])
		copy(seed[:], h.Sum(nil))
	} else if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("dealer: randomness: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ss := &Session{svc: s, id: id, spec: spec, model: m, ctx: ctx, cancel: cancel, passes: map[uint64]*passMat{},
		act: idle.New(time.Now()), done: make(chan struct{})}
	ss.cond = sync.NewCond(&ss.mu)
	ss.sink = &passSink{ss: ss}
	ss.exec, err = secure.NewExec(c, spec.Params, nil, &secure.Dealer{Rand: hss.NewPRG(seed), Sink: ss.sink}, spec.MaxSeq)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %v", ErrBadSpec, err)
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		cancel()
		return nil, ErrShutdown
	case s.sessions[id] != nil:
		s.mu.Unlock()
		cancel()
		return nil, ErrExists
	case len(s.sessions) >= s.cfg.MaxSessions:
		s.mu.Unlock()
		cancel()
		return nil, ErrTooMany
	case s.cfg.MaxPerOwner > 0 && spec.Owner != "" && s.ownedLocked(spec.Owner) >= s.cfg.MaxPerOwner:
		s.mu.Unlock()
		cancel()
		return nil, fmt.Errorf("%w: %d for this client", ErrTooMany, s.cfg.MaxPerOwner)
	}
	s.sessions[id] = ss
	s.mu.Unlock()
	go ss.generate()
	return ss, nil
}

// ownedLocked counts owner's sessions (s.mu held).
func (s *Service) ownedLocked(owner string) int {
	n := 0
	for _, ss := range s.sessions {
		if ss.spec.Owner == owner {
			n++
		}
	}
	return n
}

// CloseAs is Close for the session's owner: ErrNoSession when it is not
// open, ErrNotOwner (and the session stays open) when owner did not open
// it.
func (s *Service) CloseAs(id [16]byte, owner string) error {
	s.mu.Lock()
	ss, ok := s.sessions[id]
	switch {
	case !ok:
		s.mu.Unlock()
		return ErrNoSession
	case ss.spec.Owner != owner:
		s.mu.Unlock()
		return ErrNotOwner
	}
	delete(s.sessions, id)
	s.mu.Unlock()
	ss.stop(ErrClosed)
	return nil
}

// Lookup returns an open session.
func (s *Service) Lookup(id [16]byte) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok {
		return nil, ErrNoSession
	}
	return ss, nil
}

// Close ends a session and frees its material; it reports whether the
// session was open.
func (s *Service) Close(id [16]byte) bool {
	s.mu.Lock()
	ss, ok := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if ok {
		ss.stop(ErrClosed)
	}
	return ok
}

// Reap closes the sessions idle for longer than idle (no request, no
// stream in progress) and returns how many it closed.
func (s *Service) Reap(idle time.Duration) int {
	now := time.Now()
	s.mu.Lock()
	var old [][16]byte
	for id, ss := range s.sessions {
		if ss.act.Idle(now) > idle {
			old = append(old, id)
		}
	}
	s.mu.Unlock()
	for _, id := range old {
		s.Close(id)
	}
	return len(old)
}

// Shutdown closes every session and refuses new ones.
func (s *Service) Shutdown() {
	s.mu.Lock()
	s.closed = true
	all := make([][16]byte, 0, len(s.sessions))
	for id := range s.sessions {
		all = append(all, id)
	}
	s.mu.Unlock()
	for _, id := range all {
		s.Close(id)
	}
}

// Session is one client's dealer session: a generator that walks the
// plan's passes on shapes and the passes it made that are not yet
// delivered to both parties.
type Session struct {
	svc   *Service
	id    [16]byte
	spec  SessionSpec
	model *model.Model
	exec  *secure.Exec
	sink  *passSink

	ctx    context.Context // done when the session ends
	cancel context.CancelFunc
	done   chan struct{}  // closed when the generator has returned
	act    *idle.Activity // streams in progress, the last event (for Reap)

	mu        sync.Mutex
	cond      *sync.Cond
	first     int                 // rows of pass 0 (0: unknown yet)
	passes    map[uint64]*passMat // made or being made, not yet delivered to both
	next      uint64              // the next pass to make
	delivered uint64              // every pass below this was delivered to both parties (or dropped)
	err       error               // the session failed or ended
}

// passMat is one pass's material: each party's key frames not yet handed
// out, in order.
type passMat struct {
	index      uint64
	rows, pos0 int
	frames     [2][][]byte
	queued     [2]int64 // bytes in frames
	taken      [2]bool  // the party's stream was requested
	finished   [2]bool  // ... and handed its last frame, or gave up
	made       bool     // generation finished
	bytes      [2]int64 // total key-frame bytes per party
}

// Spec is the session's request.
func (ss *Session) Spec() SessionSpec { return ss.spec }

// stop ends the session with err: the generator returns, waiting streams
// fail, and all material is dropped.
func (ss *Session) stop(err error) {
	ss.mu.Lock()
	if ss.err == nil {
		ss.err = err
	}
	ss.dropAll()
	ss.cond.Broadcast()
	ss.mu.Unlock()
	ss.cancel()
	<-ss.done
	// The generator may have queued frames after the sweep above.
	ss.mu.Lock()
	ss.dropAll()
	ss.mu.Unlock()
}

// dropAll forgets every pass and its frames. Call with ss.mu held.
func (ss *Session) dropAll() {
	for k, pm := range ss.passes {
		for p := range 2 {
			ss.drop(pm, p)
		}
		delete(ss.passes, k)
	}
}

// drop hands back party p's queued frames of pm to the memory budget.
// Call with ss.mu held.
func (ss *Session) drop(pm *passMat, p int) {
	ss.svc.budget.release(pm.queued[p])
	pm.frames[p], pm.queued[p] = nil, 0
}

// generate makes the plan's passes in order, at most Prefetch ahead of the
// oldest pass not yet delivered to both parties.
func (ss *Session) generate() {
	defer close(ss.done)
	pre := uint64(ss.svc.cfg.Prefetch)
	for {
		ss.mu.Lock()
		for ss.err == nil && (ss.first == 0 || ss.next >= ss.delivered+pre || ss.planEnd(ss.next)) {
			if ss.first == 0 && ss.spec.FirstRows > 0 {
				ss.first = ss.spec.FirstRows
				continue
			}
			ss.cond.Wait()
		}
		if ss.err != nil {
			ss.mu.Unlock()
			return
		}
		k := ss.next
		rows, pos0 := secure.PlanPass(ss.first, k)
		pm := &passMat{index: k, rows: rows, pos0: pos0}
		ss.passes[k] = pm
		ss.next++
		ss.sink.pm = pm
		ss.mu.Unlock()

		_, err := model.Forward[secure.Tensor](ss.exec, ss.model, secure.Tensor{Rows: rows, Cols: ss.spec.Config.Dim}, rows, pos0, true)

		ss.mu.Lock()
		pm.made = true
		ss.advance()
		if err != nil && ss.err == nil {
			if ss.ctx.Err() == nil {
				ss.err = fmt.Errorf("dealer: pass %d: %w", k, err)
			} else {
				ss.err = ErrClosed
			}
		}
		ss.cond.Broadcast()
		ss.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// planEnd reports whether pass k lies beyond the session's positions.
func (ss *Session) planEnd(k uint64) bool {
	if k > uint64(ss.spec.MaxSeq) {
		return true
	}
	rows, pos0 := secure.PlanPass(ss.first, k)
	return pos0+rows > ss.spec.MaxSeq
}

// passSink receives the dealer executor's key pairs for the pass being
// made and queues their frames, waiting for memory.
type passSink struct {
	ss *Session
	pm *passMat
	f  [2][]byte
}

func (s *passSink) Push(k0, k1 hss.MarshalKey) error {
	if k0 == nil || k1 == nil || k0.Kind() != k1.Kind() || k0.Len() != k1.Len() {
		return errors.New("dealer: keys of one gate must be non-nil and agree in kind and length")
	}
	var fs [2][]byte
	for p, k := range [2]hss.MarshalKey{k0, k1} {
		f, err := hss.AppendKeyFrame(make([]byte, 0, 16+k.Size()), k)
		if err != nil {
			return err
		}
		fs[p] = f
	}
	n := int64(len(fs[0]) + len(fs[1]))
	ss, pm := s.ss, s.pm
	if err := ss.svc.budget.acquire(ss.ctx, n); err != nil {
		return ErrClosed
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.err != nil {
		ss.svc.budget.release(n)
		return ss.err
	}
	for p := range 2 {
		pm.bytes[p] += int64(len(fs[p]))
		if pm.finished[p] { // the party gave up on this pass: nobody will read it
			ss.svc.budget.release(int64(len(fs[p])))
			continue
		}
		pm.frames[p] = append(pm.frames[p], fs[p])
		pm.queued[p] += int64(len(fs[p]))
	}
	ss.cond.Broadcast()
	return nil
}

// wakeOn makes the end of ctx wake the session's waiters (so a wait on
// ss.cond also ends with ctx); call the returned function when done.
func (ss *Session) wakeOn(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		ss.mu.Lock()
		ss.cond.Broadcast()
		ss.mu.Unlock()
	})
}

// Delivery is one party's stream of one pass's material.
type Delivery struct {
	ss         *Session
	pm         *passMat
	party      int
	Rows, Pos0 int
	ended      bool
}

// Deliver starts party's delivery of pass k, which must have the plan's
// shape rows × pos0 (the first request for pass 0 fixes its rows when the
// client did not). Each party's share of a pass is delivered once.
func (ss *Session) Deliver(ctx context.Context, party int, k uint64, rows, pos0 int) (*Delivery, error) {
	if party != 0 && party != 1 {
		return nil, errBadPartyID
	}
	defer ss.wakeOn(ctx)()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.act.Touch(0)
	if ss.err != nil {
		return nil, ss.err
	}
	if k == 0 && ss.first == 0 {
		if rows < 1 || rows > ss.spec.MaxSeq || pos0 != 0 {
			return nil, fmt.Errorf("%w: a first pass of %d rows at position %d", ErrPlan, rows, pos0)
		}
		ss.first = rows
		ss.cond.Broadcast()
	}
	if ss.first > 0 {
		if wr, wp := secure.PlanPass(ss.first, k); rows != wr || pos0 != wp || ss.planEnd(k) {
			return nil, fmt.Errorf("%w: pass %d is %d rows at position %d, not %d at %d (the plan: a prefill of %d rows, then one row per pass, %d positions)",
				ErrPlan, k, wr, wp, rows, pos0, ss.first, ss.spec.MaxSeq)
		}
	}
	if k < ss.delivered {
		return nil, ErrDelivered
	}
	// Wait for the generator to reach pass k (it is at most Prefetch
	// passes ahead of the oldest undelivered one, so a party asking far
	// ahead waits for the other party to catch up).
	for ss.err == nil && ctx.Err() == nil && ss.passes[k] == nil && ss.next <= k {
		ss.act.Hold(1)
		ss.cond.Wait()
		ss.act.Hold(-1)
	}
	if ss.err != nil {
		return nil, ss.err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	pm := ss.passes[k]
	if pm == nil || pm.taken[party] {
		return nil, ErrDelivered
	}
	pm.taken[party] = true
	ss.act.Hold(1)
	return &Delivery{ss: ss, pm: pm, party: party, Rows: pm.rows, Pos0: pm.pos0}, nil
}

// Next waits for the party's next frames of the pass and returns them (the
// caller sends them, then calls Next again). It returns io.EOF after the
// last frame, ctx's error when ctx ends first, and the session's error if
// it fails or ends. The frames are the caller's to keep.
func (d *Delivery) Next(ctx context.Context) ([][]byte, error) {
	if d.ended {
		return nil, io.EOF
	}
	ss, pm := d.ss, d.pm
	defer ss.wakeOn(ctx)()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for ss.err == nil && ctx.Err() == nil && len(pm.frames[d.party]) == 0 && !pm.made {
		ss.cond.Wait()
	}
	switch {
	case ss.err != nil:
		return nil, ss.err
	case len(pm.frames[d.party]) > 0:
		fs := pm.frames[d.party]
		ss.drop(pm, d.party)
		ss.act.Touch(0)
		return fs, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	}
	return nil, io.EOF // made, and every frame handed out
}

// Bytes is the pass's key-frame bytes for this party so far.
func (d *Delivery) Bytes() int64 {
	d.ss.mu.Lock()
	defer d.ss.mu.Unlock()
	return d.pm.bytes[d.party]
}

// Close ends the delivery: complete when Next returned io.EOF, abandoned
// otherwise (the rest of this party's share is dropped and never handed
// out again). A pass delivered to both parties is forgotten.
func (d *Delivery) Close() {
	ss, pm := d.ss, d.pm
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if d.ended {
		return
	}
	d.ended = true
	ss.act.Touch(-1)
	pm.finished[d.party] = true
	ss.drop(pm, d.party)
	ss.advance()
}

// advance forgets the passes, from the oldest, that are made and done
// with by both parties; that lets the generator make more. Call with
// ss.mu held.
func (ss *Session) advance() {
	for ss.delivered < ss.next {
		q := ss.passes[ss.delivered]
		if q != nil && !(q.made && q.finished[0] && q.finished[1]) {
			break
		}
		delete(ss.passes, ss.delivered)
		ss.delivered++
	}
	ss.cond.Broadcast()
}

// budget bounds the bytes of material held by the service.
type budget struct {
	mu      sync.Mutex
	cap     int64
	used    int64
	changed chan struct{}
}

func newBudget(cap int64) *budget { return &budget{cap: cap, changed: make(chan struct{})} }

// acquire takes n bytes, waiting while they do not fit (a single request
// larger than the cap is admitted when nothing else is held).
func (b *budget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.cap {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
