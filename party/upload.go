package party

// Upload: the client-aided dealer's material for a pass, as key frames.

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hssee/hssee/hss"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// chunkReader reads a stream of material chunks (an Upload, or a pull from
// the dealer service) as one byte stream.
type chunkReader struct {
	recv   func() (*pb.MaterialChunk, error) // the stream's next message
	onData func()                            // called for every message (nil: none)
	buf    []byte
	total  int64
	limit  int64
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		c, err := r.recv()
		if err != nil {
			return 0, err
		}
		if len(c.GetData()) > ChunkSize {
			return 0, fmt.Errorf("material chunk: %w", errTooLarge)
		}
		r.total += int64(len(c.GetData()))
		if r.total > r.limit+1<<16 {
			return 0, fmt.Errorf("material: %w", errTooLarge)
		}
		if r.onData != nil {
			r.onData()
		}
		r.buf = c.GetData()
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// maxUploads bounds a session's material uploads in flight at one party:
// the client sends one per pass, at most two passes ahead (plus a
// replacement), so more is a misbehaving client holding memory.
const maxUploads = 4

func (h *sessionService) Upload(stream pb.Session_UploadServer) error {
	s := h.s
	ss, err := s.sessionFromMD(stream.Context())
	if err != nil {
		return err
	}
	if ss.mode != ModeHSS {
		return status.Error(codes.FailedPrecondition, "ee sessions take no dealer material")
	}
	ss.mu.Lock()
	fromDealer := ss.pull != nil
	ss.mu.Unlock()
	if fromDealer {
		return status.Error(codes.FailedPrecondition, "this session's material comes from the dealer service: uploads are refused")
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	v := md.Get(mdPass)
	if len(v) != 1 {
		return status.Error(codes.InvalidArgument, "missing pass index")
	}
	pass, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		return status.Error(codes.InvalidArgument, "malformed pass index")
	}
	ss.mu.Lock()
	next, started := ss.nextPass, ss.started
	if ss.uploads >= maxUploads {
		ss.mu.Unlock()
		return status.Errorf(codes.ResourceExhausted, "more than %d material uploads in flight", maxUploads)
	}
	ss.uploads++
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		ss.uploads--
		ss.mu.Unlock()
	}()
	if pass < max(next, started) || pass > next+2 {
		return status.Errorf(codes.InvalidArgument, "material for pass %d, expected pass %d..%d", pass, max(next, started), next+2)
	}
	ss.act.Touch(1)
	defer ss.act.Touch(-1)
	r := &chunkReader{recv: stream.Recv, limit: s.cfg.MaxMaterial}
	keys, n, err := readKeys(r, s.cfg.ID, s.cfg.MaxMaterial)
	s.metrics.material.WithLabelValues("upload").Add(float64(r.total))
	if err != nil {
		return rpcError(stream.Context(), "material", err)
	}
	ss.mu.Lock()
	if ss.material == nil || pass < ss.nextPass || pass < ss.started {
		ss.mu.Unlock()
		return status.Error(codes.Aborted, "session moved on or closed during upload")
	}
	// Material for a pass that has not started may be replaced: a client
	// that uploaded ahead for a pass of another shape sends the right one
	// before it submits the pass.
	if keys == nil {
		keys = []hss.MarshalKey{}
	}
	ss.material[pass] = keys
	close(ss.matCh)
	ss.matCh = make(chan struct{})
	ss.mu.Unlock()
	return stream.SendAndClose(&pb.UploadResponse{Keys: uint64(len(keys)), Bytes: uint64(n)})
}

// rpcError maps a decoding or stream error to a status.
func rpcError(ctx context.Context, what string, err error) error {
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	switch {
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, errTooLarge):
		return status.Errorf(codes.ResourceExhausted, "%s: %v", what, err)
	default:
		return status.Errorf(codes.InvalidArgument, "%s: %v", what, err)
	}
}
