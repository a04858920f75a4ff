package party

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

const (
	// ChunkSize is the largest payload put into one gRPC message (shares,
	// logits, key-stream pieces and peer frames), well under gRPC's 4 MiB
	// default message limit.
	ChunkSize = 1 << 20
	// MaxKeyPayload bounds one key's encoding on the wire.
	MaxKeyPayload = 1 << 30

	mdSession = "hssee-session"
	mdPass    = "hssee-pass"

	// SessionIDLen is the length of a session id in bytes.
	SessionIDLen = 16
)

// SessionID names a session at both parties.
type SessionID [SessionIDLen]byte

func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// LogID names the session in logs: a short hash of the id, since the id
// itself is the session's capability (Upload, Run and Close check it).
func (id SessionID) LogID() string {
	h := sha256.Sum256(append([]byte("hssee/party/session-log-id"), id[:]...))
	return hex.EncodeToString(h[:6])
}

var errBadSession = errors.New("malformed session id")

// ParseSessionID decodes a session id from its raw bytes.
func ParseSessionID(b []byte) (SessionID, error) { return parseSessionID(b) }

// parseSessionID decodes a session id from its raw bytes.
func parseSessionID(b []byte) (SessionID, error) {
	var id SessionID
	if len(b) != SessionIDLen {
		return id, errBadSession
	}
	copy(id[:], b)
	return id, nil
}

// parseSessionHex decodes a session id from metadata (hex).
func parseSessionHex(s string) (SessionID, error) {
	if len(s) != 2*SessionIDLen {
		return SessionID{}, errBadSession
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return SessionID{}, errBadSession
	}
	return parseSessionID(b)
}

// ShapeDigest names what a session's dealer material is made for: the
// model's shape (its Config: no weights), the fixed-point precision and
// the session's positions. The dealer service and both parties compute it
// on their own and must agree before any material moves.
func ShapeDigest(c model.Config, frac uint, maxSeq int) [32]byte {
	js, _ := json.Marshal(c) // a struct of numbers, strings and bools: cannot fail
	h := sha256.New()
	h.Write([]byte("hssee/party/shape-digest/v1"))
	h.Write(js)
	h.Write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, uint64(frac)), uint64(maxSeq)))
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}

// AppendKey appends one key frame (hss.AppendKeyFrame).
func AppendKey(out []byte, k hss.MarshalKey) ([]byte, error) { return hss.AppendKeyFrame(out, k) }

// errTooLarge marks a limit exceeded by untrusted input (ResourceExhausted).
var errTooLarge = errors.New("too large")

// readKeys decodes key frames from r until EOF, for party id: every key
// must be of a registered kind, decode exactly, belong to that party (when
// its type says), and the total payload may not exceed limit bytes. Memory
// grows with the bytes actually read, never with a claimed length.
func readKeys(r io.Reader, party int, limit int64) ([]hss.MarshalKey, int64, error) {
	var keys []hss.MarshalKey
	var total int64
	for {
		k, n, err := hss.ReadKeyFrame(r, min(limit-total, MaxKeyPayload))
		if err == io.EOF {
			return keys, total, nil
		}
		if errors.Is(err, hss.ErrFrameTooLarge) {
			err = fmt.Errorf("material: %w", errTooLarge)
		}
		if err != nil {
			return nil, total, fmt.Errorf("key %d: %w", len(keys), err)
		}
		total += n
		if p, ok := k.(interface{ PartyID() int }); ok && p.PartyID() != party {
			return nil, total, fmt.Errorf("key %d is party %d's, not party %d's", len(keys), p.PartyID(), party)
		}
		keys = append(keys, k)
	}
}

// appendU64s appends v as little-endian words.
func appendU64s(out []byte, v []uint64) []byte {
	for _, x := range v {
		out = binary.LittleEndian.AppendUint64(out, x)
	}
	return out
}

// appendU32s appends v reduced mod 2^32 as little-endian 32-bit words.
func appendU32s(out []byte, v []uint64) []byte {
	for _, x := range v {
		out = binary.LittleEndian.AppendUint32(out, uint32(x))
	}
	return out
}

// decodeU32s decodes little-endian 32-bit words into dst (appending, as
// uint64); b must hold whole words.
func decodeU32s(dst []uint64, b []byte) ([]uint64, error) {
	if len(b)%4 != 0 {
		return nil, errors.New("share bytes not a multiple of 4")
	}
	for i := 0; i < len(b); i += 4 {
		dst = append(dst, uint64(binary.LittleEndian.Uint32(b[i:])))
	}
	return dst, nil
}

// decodeU64s decodes little-endian words into dst (appending); b must hold
// whole words.
func decodeU64s(dst []uint64, b []byte) ([]uint64, error) {
	if len(b)%8 != 0 {
		return nil, errors.New("share bytes not a multiple of 8")
	}
	for i := 0; i < len(b); i += 8 {
		dst = append(dst, binary.LittleEndian.Uint64(b[i:]))
	}
	return dst, nil
}

func appendF32s(out []byte, v []float32) []byte {
	for _, x := range v {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
	}
	return out
}

func decodeF32s(dst []float32, b []byte) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, errors.New("logit bytes not a multiple of 4")
	}
	for i := 0; i < len(b); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
	}
	return dst, nil
}

// chunks splits b into pieces of at most ChunkSize bytes; an empty b is one
// empty piece.
func chunks(b []byte) [][]byte {
	if len(b) == 0 {
		return [][]byte{nil}
	}
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), ChunkSize)
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out
}
