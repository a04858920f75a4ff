package hss

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// A key frame carries one key of any registered kind, self-describing:
// kind length (1 byte), kind, payload length (u32 LE), payload (the key's
// MarshalBinary). Dealer bundles and the parties' material uploads are
// sequences of key frames.

// MaxFramePayload bounds one frame's payload (1 GiB).
const MaxFramePayload = 1 << 30

// ErrFrameTooLarge is wrapped by ReadKeyFrame when a frame claims more than
// its budget or MaxFramePayload.
var ErrFrameTooLarge = errors.New("hss: key frame: payload too large")

// frameStep is how much of a payload ReadKeyFrame allocates at a time, so a
// lying length cannot force a large allocation before the bytes arrive.
const frameStep = 1 << 20

// AppendKeyFrame appends k as one key frame.
func AppendKeyFrame(out []byte, k MarshalKey) ([]byte, error) {
	kind := k.Kind()
	if len(kind) == 0 || len(kind) > 255 {
		return nil, fmt.Errorf("hss: key frame: kind %q: bad length", kind)
	}
	p, err := k.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if len(p) > MaxFramePayload {
		return nil, fmt.Errorf("hss: key frame: %s key of %d bytes: %w", kind, len(p), ErrFrameTooLarge)
	}
	out = append(out, byte(len(kind)))
	out = append(out, kind...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(p)))
	return append(out, p...), nil
}

// ReadKeyFrame reads one key frame from r and decodes its key strictly: a
// registered kind that decodes exactly to a key of that kind, with a payload
// of at most budget bytes (and MaxFramePayload). It returns the payload
// length. At a clean end of r (no byte of a frame read) it returns io.EOF;
// a frame cut short is io.ErrUnexpectedEOF. Memory grows with the bytes
// actually read, never with a claimed length.
func ReadKeyFrame(r io.Reader, budget int64) (MarshalKey, int64, error) {
	var kl [1]byte
	if _, err := io.ReadFull(r, kl[:]); err != nil {
		return nil, 0, err
	}
	if kl[0] == 0 {
		return nil, 0, errors.New("hss: key frame: empty kind")
	}
	kind := make([]byte, kl[0])
	var pl [4]byte
	if _, err := io.ReadFull(r, kind); err != nil {
		return nil, 0, unexpectedEOF(err)
	}
	if _, err := io.ReadFull(r, pl[:]); err != nil {
		return nil, 0, unexpectedEOF(err)
	}
	n := int64(binary.LittleEndian.Uint32(pl[:]))
	if n > MaxFramePayload || n > budget {
		return nil, 0, fmt.Errorf("hss: key frame of %d bytes: %w", n, ErrFrameTooLarge)
	}
	k, err := NewKey(string(kind))
	if err != nil {
		return nil, 0, fmt.Errorf("hss: key frame: %w", err)
	}
	// The buffer grows with the bytes read (at most doubling, so a short
	// stream that claims a huge frame costs little), never with the claim.
	var payload []byte
	for remaining := int(n); remaining > 0; {
		step := min(remaining, max(frameStep, len(payload)))
		start := len(payload)
		payload = slices.Grow(payload, step)[:start+step]
		if _, err := io.ReadFull(r, payload[start:]); err != nil {
			return nil, 0, unexpectedEOF(err)
		}
		remaining -= step
	}
	if err := k.UnmarshalBinary(payload); err != nil {
		return nil, 0, fmt.Errorf("hss: key frame: %s key: %w", k.Kind(), err)
	}
	if k.Kind() != string(kind) {
		return nil, 0, errors.New("hss: key frame: frame kind and key kind differ")
	}
	return k, n, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
