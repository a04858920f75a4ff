package party

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/infer"
	"github.com/hssee/hssee/model"
	pb "github.com/hssee/hssee/proto/hsseepb"
	"github.com/hssee/hssee/secure"
)

// Progress reports a long pass while it runs: the rounds the slower party
// has finished and the time since the pass was submitted.
type Progress struct {
	Pass    uint64
	Rounds  int64
	Elapsed time.Duration
}

// Session parameters the client asks for; the parties refuse a model
// fingerprint other than theirs.
type Session struct {
	Fingerprint [32]byte
	// Params, hss: the parameters (hss.DefaultParams, or a -frac flag's
	// DefaultParams().WithFrac). Only Frac is sent: the servers run at the
	// default width, so Open refuses another.
	Params hss.Params
	MaxSeq int // positions (0: the model's context)

	// Dealer, hss: the dealer service's address. With it the client opens
	// the session at the dealer too, and the parties pull their material
	// from it (the client sends only input shares); without it the client
	// makes the material (infer.HSS) and uploads it. Config is then the
	// model's shape, and FirstRows the rows of the first pass if known (0:
	// the first Forward's), which lets the dealer start at once. Passes
	// must follow the dealer's plan: the prefill, then one row per pass.
	Dealer    string
	Config    model.Config
	FirstRows int
}

func dial(addr string, creds *Credentials, want string) (*grpc.ClientConn, error) {
	if creds == nil {
		return nil, errors.New("party: no TLS credentials")
	}
	return dialWith(addr, creds, want, 2*time.Second)
}

// describe turns an RPC error into a clear, secret-free message.
func describe(who string, err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", who, err)
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("%s is unreachable or went away: %s", who, st.Message())
	case codes.Canceled:
		return fmt.Errorf("%s: canceled", who)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s did not answer in time: %s", who, st.Message())
	}
	return fmt.Errorf("%s: %s: %s", who, st.Code(), st.Message())
}

func newSessionID() (SessionID, error) {
	var id SessionID
	_, err := rand.Read(id[:])
	return id, err
}

// Client is the client's side of an HSS-EE deployment: infer.Parties over
// the two party servers. Dial, then Open a session, then hand it to
// infer.NewHSSWith. Not safe for concurrent use (one session per Client).
type Client struct {
	addrs [2]string
	conns [2]*grpc.ClientConn
	ctx   context.Context
	stop  context.CancelFunc
	id    SessionID
	runs  [2]pb.Session_RunClient
	open  bool
	pass  uint64
	dim   int
	vocab int
	err   error

	mu        sync.Mutex
	preloaded map[uint64]*preload // passes whose material went ahead (Preload)

	creds      *Credentials
	dealerAddr string
	dealerConn *grpc.ClientConn // with Session.Dealer
	dealerOpen bool
	first      int      // dealer plan: rows of pass 0 (0: not known yet)
	maxSeq     int      // dealer plan: positions
	material   [2]int64 // dealer material each party consumed in the last pass
	sent, recv int64    // payload bytes of the client's Run and Upload messages (both parties)

	// OpenTimeout bounds Open (default 30 s).
	OpenTimeout time.Duration
	// OnProgress, when set, is called from Forward while a pass runs.
	OnProgress func(Progress)
}

// Dial prepares connections to party 0 and party 1 (nothing is sent until
// Open). creds is the client's certificate and the deployment's CA; each
// server must present its party's certificate.
func Dial(addrs [2]string, creds *Credentials) (*Client, error) {
	c := &Client{addrs: addrs, creds: creds}
	for i, a := range addrs {
		conn, err := dial(a, creds, PartyName(i))
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("party: dial party %d (%s): %w", i, a, err)
		}
		c.conns[i] = conn
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	return c, nil
}

func (c *Client) who(i int) string { return fmt.Sprintf("party %d (%s)", i, c.addrs[i]) }

// Open opens an hss session on both parties (party 1 first: party 0 links
// to it) and starts the Run streams.
func (c *Client) Open(s Session) error {
	if c.open {
		return errors.New("party: client: session already open")
	}
	if err := s.Params.Validate(); err != nil {
		return fmt.Errorf("party: open session: %w", err)
	}
	if w := hss.DefaultParams().Width; s.Params.Width != w {
		return fmt.Errorf("party: open session: width %d: the servers run at width %d (only the precision is sent)", s.Params.Width, w)
	}
	id, err := newSessionID()
	if err != nil {
		return err
	}
	c.id = id
	to := c.OpenTimeout
	if to <= 0 {
		to = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(c.ctx, to)
	defer cancel()
	req := &pb.OpenRequest{SessionId: id[:], Mode: ModeHSS, Fingerprint: s.Fingerprint[:], Frac: uint32(s.Params.Frac),
		MaxSeq: uint32(s.MaxSeq), OutputBits: 32}
	if s.Dealer != "" {
		if err := c.openDealer(ctx, s); err != nil {
			c.open = true
			c.Close()
			return err
		}
		req.Dealer, req.FirstRows = true, uint32(s.FirstRows)
	}
	for _, i := range []int{1, 0} {
		resp, err := pb.NewSessionClient(c.conns[i]).Open(ctx, req, grpc.WaitForReady(true))
		if err != nil {
			c.open = true // close what was opened
			c.Close()
			return fmt.Errorf("party: open session: %w", describe(c.who(i), err))
		}
		if resp.GetParty() != uint32(i) || resp.GetMode() != ModeHSS {
			c.open = true
			c.Close()
			return fmt.Errorf("party: open session: %s answers as party %d in mode %q", c.who(i), resp.GetParty(), resp.GetMode())
		}
		c.dim, c.vocab = int(resp.GetDim()), int(resp.GetVocabSize())
	}
	md := metadata.NewOutgoingContext(c.ctx, metadata.Pairs(mdSession, id.String()))
	for i := range c.runs {
		if c.runs[i], err = pb.NewSessionClient(c.conns[i]).Run(md); err != nil {
			c.open = true
			c.Close()
			return fmt.Errorf("party: open session: %w", describe(c.who(i), err))
		}
	}
	c.open = true
	return nil
}

// openDealer opens the session at the dealer service.
func (c *Client) openDealer(ctx context.Context, s Session) error {
	if s.FirstRows < 0 {
		return errors.New("party: open session: negative first pass")
	}
	maxSeq := s.MaxSeq
	if maxSeq == 0 {
		maxSeq = s.Config.MaxSeqLen
	}
	who := fmt.Sprintf("the dealer at %s", s.Dealer)
	conn, err := dial(s.Dealer, c.creds, DealerName)
	if err != nil {
		return fmt.Errorf("party: dial %s: %w", who, err)
	}
	c.dealerConn, c.dealerAddr = conn, s.Dealer
	js, err := json.Marshal(s.Config)
	if err != nil {
		return fmt.Errorf("party: open session: model shape: %w", err)
	}
	resp, err := pb.NewDealerClient(conn).Open(ctx, &pb.DealerOpenRequest{SessionId: c.id[:], Config: js, Frac: uint32(s.Params.Frac),
		MaxSeq: uint32(maxSeq), FirstRows: uint32(s.FirstRows)}) // fail fast: a wrong address or certificate shows at once
	if err != nil {
		return fmt.Errorf("party: open session: %w", describe(who, err))
	}
	c.dealerOpen = true
	if want := ShapeDigest(s.Config, s.Params.Frac, maxSeq); !bytes.Equal(resp.GetShape(), want[:]) {
		return fmt.Errorf("party: open session: %s made the session for another shape", who)
	}
	c.first, c.maxSeq = s.FirstRows, maxSeq
	return nil
}

// DealerService reports whether the parties pull their material from the
// dealer service (infer.HSS then makes none).
func (c *Client) DealerService() bool { return c.dealerConn != nil }

// LastMaterial is the dealer material party 0 and party 1 consumed in the
// last pass (key bytes).
func (c *Client) LastMaterial() [2]int64 { return c.material }

// Traffic is the client's own traffic so far, both parties together: the
// payload bytes it sent (input shares, seeds, uploaded material) and
// received (output shares). TLS and gRPC framing add a few percent.
func (c *Client) Traffic() (sent, received int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent, c.recv
}

func (c *Client) count(sent, recv int) {
	c.mu.Lock()
	c.sent += int64(sent)
	c.recv += int64(recv)
	c.mu.Unlock()
}

// preload is material uploaded ahead of its pass.
type preload struct {
	keys [2][]hss.MarshalKey
	done chan struct{}
	err  error
}

// Preload implements infer.Preloader: it uploads both parties' material for
// pass index (at most two passes ahead of the next one to run) while an
// earlier pass may still be running, so that pass does not wait for it.
func (c *Client) Preload(index uint64, keys [2][]hss.MarshalKey) error {
	pl := &preload{keys: keys, done: make(chan struct{})}
	c.mu.Lock()
	if c.preloaded == nil {
		c.preloaded = map[uint64]*preload{}
	}
	c.preloaded[index] = pl
	c.mu.Unlock()
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.upload(i, index, keys[i]); err != nil {
				errs[i] = describe(c.who(i), err)
			}
		}()
	}
	wg.Wait()
	pl.err = errors.Join(errs[0], errs[1])
	close(pl.done)
	return pl.err
}

// preloadedFor reports how pass index's material stands: uploaded ahead
// with exactly these keys (skip the upload), uploaded ahead with other
// keys (replace it before the pass starts), or not at all.
func (c *Client) preloadedFor(index uint64, keys [2][]hss.MarshalKey) (same, other bool, err error) {
	c.mu.Lock()
	pl := c.preloaded[index]
	delete(c.preloaded, index)
	c.mu.Unlock()
	if pl == nil {
		return false, false, nil
	}
	<-pl.done
	if pl.err != nil {
		return false, false, pl.err
	}
	for i := range 2 {
		if len(pl.keys[i]) != len(keys[i]) || (len(keys[i]) > 0 && pl.keys[i][0] != keys[i][0]) {
			return false, true, nil
		}
	}
	return true, false, nil
}

// Forward implements infer.Parties: it uploads each party's material
// (unless Preload sent it ahead) and submits its input share concurrently,
// and collects the output shares. After an error the session is unusable.
func (c *Client) Forward(p *infer.Pass) ([2][]uint64, hss.Stats, error) {
	var out [2][]uint64
	if c.err != nil {
		return out, hss.Stats{}, c.err
	}
	if !c.open {
		return out, hss.Stats{}, errors.New("party: client: no open session")
	}
	if len(p.In1) != p.Rows*c.dim {
		return out, hss.Stats{}, errors.New("party: client: input share of the wrong length")
	}
	if p.Index != c.pass {
		return out, hss.Stats{}, fmt.Errorf("party: client: pass %d submitted, the session is at pass %d", p.Index, c.pass)
	}
	var skipUpload, replace bool
	if c.dealerConn != nil {
		if c.first == 0 && p.Index == 0 && p.Pos0 == 0 {
			c.first = p.Rows
		}
		if rows, pos0 := secure.PlanPass(c.first, p.Index); p.Rows != rows || p.Pos0 != pos0 || pos0+rows > c.maxSeq {
			return out, hss.Stats{}, fmt.Errorf("party: client: pass %d of %d rows at %d does not follow the dealer plan (%d rows at %d: the prefill, then one row per pass)",
				p.Index, p.Rows, p.Pos0, rows, pos0)
		}
		if len(p.Keys[0])+len(p.Keys[1]) > 0 {
			return out, hss.Stats{}, errors.New("party: client: material given for a session whose dealer is the service")
		}
		skipUpload = true
	} else {
		var err error
		if skipUpload, replace, err = c.preloadedFor(c.pass, p.Keys); err != nil {
			c.err = fmt.Errorf("party: pass %d: material sent ahead: %w", c.pass, err)
			return out, hss.Stats{}, c.err
		}
	}
	if replace { // the pass must not start on the material sent ahead
		for i := range 2 {
			if err := c.upload(i, c.pass, p.Keys[i]); err != nil {
				c.err = fmt.Errorf("party: pass %d: %w", c.pass, describe(c.who(i), err))
				return out, hss.Stats{}, c.err
			}
		}
		skipUpload = true
	}
	var traffic [2]*pb.Traffic
	var rounds [2]int64
	var mu sync.Mutex
	var first error // the first failure that is not the cancellation another caused
	var canceled error
	var peerLost error  // a party lost its peer or its session: the cause is the other party's failure, if it reports one
	var dealerErr error // a party's failure to get material from the dealer service
	start := time.Now()
	var wg sync.WaitGroup
	fail := func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		// A party that lost its peer, or whose session was closed under
		// it (the other party broke the link), reports a consequence: the
		// cause is the other party's own error.
		lost := (status.Code(err) == codes.Unavailable && strings.Contains(status.Convert(err).Message(), "lost its peer")) ||
			status.Code(err) == codes.Aborted
		switch {
		case status.Code(err) == codes.Canceled || errors.Is(err, context.Canceled):
			if canceled == nil {
				canceled = describe(c.who(i), err)
			}
		case lost:
			if peerLost == nil {
				peerLost = describe(c.who(i), err)
			}
		case first == nil:
			first = describe(c.who(i), err)
		}
		if dealerErr == nil && c.dealerConn != nil && strings.Contains(status.Convert(err).Message(), "the dealer at ") {
			dealerErr = describe(c.who(i), err)
		}
		if lost {
			// The other party broke the link: its own error (its dealer
			// stream, its crash) is the cause. Let it arrive before the
			// other party's streams are cancelled.
			time.AfterFunc(peerLostGrace, c.stop)
			return
		}
		c.stop() // the other party's streams end too
	}
	for i := range 2 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if skipUpload {
				return
			}
			if err := c.upload(i, c.pass, p.Keys[i]); err != nil {
				fail(i, err)
			}
		}()
		go func() {
			defer wg.Done()
			o, t, err := c.run(i, p, func(r int64) {
				if c.OnProgress == nil {
					return
				}
				mu.Lock()
				rounds[i] = r
				pr := Progress{Pass: c.pass, Rounds: min(rounds[0], rounds[1]), Elapsed: time.Since(start)}
				mu.Unlock()
				c.OnProgress(pr)
			})
			if err != nil {
				fail(i, err)
				return
			}
			out[i], traffic[i] = o, t
		}()
	}
	wg.Wait()
	if first == nil {
		first = peerLost
	}
	if first == nil {
		first = canceled
	}
	if dealerErr != nil {
		first = dealerErr // the cause; the other party's error is its consequence
	}
	if first != nil {
		c.err = fmt.Errorf("party: pass %d: %w", c.pass, first)
		return out, hss.Stats{}, c.err
	}
	// The parties sent their shares mod 2^32 (OutputBits 32): the sum mod
	// 2^32, sign-extended, is the output; hand it on as the sharing (y, 0).
	for j := range out[0] {
		out[0][j] = uint64(int64(int32(uint32(out[0][j] + out[1][j]))))
		out[1][j] = 0
	}
	c.pass++
	c.material = [2]int64{traffic[0].GetMaterialBytes(), traffic[1].GetMaterialBytes()}
	st := hss.Stats{BytesSent: traffic[0].GetBytesSent() + traffic[1].GetBytesSent(),
		BytesRecv: traffic[0].GetBytesRecv() + traffic[1].GetBytesRecv(),
		Rounds:    max(traffic[0].GetRounds(), traffic[1].GetRounds())}
	return out, st, nil
}

// peerLostGrace is how long, after one party reports that it lost its peer,
// the client waits for the other party's own error before it cancels that
// party's streams.
const peerLostGrace = 2 * time.Second

func (c *Client) upload(i int, index uint64, keys []hss.MarshalKey) error {
	md := metadata.Pairs(mdSession, c.id.String(), mdPass, strconv.FormatUint(index, 10))
	// Its own context: an upload abandoned on an error must not leave the
	// server's handler waiting for more chunks.
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	up, err := pb.NewSessionClient(c.conns[i]).Upload(metadata.NewOutgoingContext(ctx, md))
	if err != nil {
		return err
	}
	// Each key is marshalled onto buf and sent in ChunkSize slices; the
	// tail shorter than a chunk moves to the front for the next key (Send
	// has serialised a message when it returns, so buf can be reused).
	var buf []byte
	for _, k := range keys {
		if buf, err = AppendKey(buf, k); err != nil {
			return err
		}
		off := 0
		for ; len(buf)-off >= ChunkSize; off += ChunkSize {
			if err := up.Send(&pb.MaterialChunk{Data: buf[off : off+ChunkSize]}); err != nil {
				return sendErr(up, err)
			}
			c.count(ChunkSize, 0)
		}
		buf = append(buf[:0], buf[off:]...)
	}
	if len(buf) > 0 {
		if err := up.Send(&pb.MaterialChunk{Data: buf}); err != nil {
			return sendErr(up, err)
		}
		c.count(len(buf), 0)
	}
	_, err = up.CloseAndRecv()
	return err
}

// sendErr returns the server's status after a failed Send (Send reports
// only io.EOF).
func sendErr(up pb.Session_UploadClient, err error) error {
	if _, rerr := up.CloseAndRecv(); rerr != nil {
		return rerr
	}
	return err
}

func (c *Client) run(i int, p *infer.Pass, progress func(int64)) ([]uint64, *pb.Traffic, error) {
	run := c.runs[i]
	first := &pb.RunRequest{Pass: c.pass, Rows: uint32(p.Rows), Pos0: uint32(p.Pos0)}
	if i == 0 {
		first.Seed, first.Last = p.Seed0[:], true
		if err := run.Send(first); err != nil {
			return nil, nil, recvErr(run, err)
		}
		c.count(len(first.Seed), 0)
	} else {
		parts := chunks(appendU64s(make([]byte, 0, 8*len(p.In1)), p.In1))
		for j, part := range parts {
			r := &pb.RunRequest{Pass: c.pass, Shares: part, Last: j == len(parts)-1}
			if j == 0 {
				r.Rows, r.Pos0 = first.Rows, first.Pos0
			}
			if err := run.Send(r); err != nil {
				return nil, nil, recvErr(run, err)
			}
			c.count(len(part), 0)
		}
	}
	out := make([]uint64, 0, c.vocab)
	for {
		r, err := run.Recv()
		if err != nil {
			return nil, nil, err
		}
		if pr := r.GetProgress(); pr != nil {
			if r.GetPass() == c.pass {
				progress(pr.GetRounds())
			}
			continue
		}
		if r.GetPass() != c.pass {
			return nil, nil, errors.New("answer for another pass")
		}
		if len(r.GetShares()) > 4*(c.vocab-len(out)) {
			return nil, nil, errors.New("more output shares than the vocabulary")
		}
		if out, err = decodeU32s(out, r.GetShares()); err != nil {
			return nil, nil, err
		}
		c.count(0, len(r.GetShares()))
		if r.GetLast() {
			if len(out) != c.vocab {
				return nil, nil, errors.New("output shares of the wrong length")
			}
			return out, r.GetTraffic(), nil
		}
	}
}

// recvErr returns the server's status after a failed Send.
func recvErr(run pb.Session_RunClient, err error) error {
	if _, rerr := run.Recv(); rerr != nil {
		return rerr
	}
	return err
}

// Close closes the session on both parties and the dealer service (best
// effort) and the connections.
func (c *Client) Close() error {
	if c.open {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		for _, conn := range c.conns {
			if conn != nil {
				_, _ = pb.NewSessionClient(conn).Close(ctx, &pb.CloseRequest{SessionId: c.id[:]})
			}
		}
		if c.dealerOpen {
			_, _ = pb.NewDealerClient(c.dealerConn).Close(ctx, &pb.CloseRequest{SessionId: c.id[:]})
			c.dealerOpen = false
		}
		cancel()
		c.open = false
	}
	if c.dealerConn != nil {
		c.dealerConn.Close()
	}
	if c.stop != nil {
		c.stop()
	}
	for _, conn := range c.conns {
		if conn != nil {
			conn.Close()
		}
	}
	return nil
}
