package dealer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hssee/hssee/hss"
)

// Bundle is one party's material: its keys in consumption order.
//
// Wire format (little-endian): "HSSB", version 1, party (1 byte), key count (u32), then per key a
// frame: kind length (1 byte), kind, payload length (u32), payload (the key's MarshalBinary).
type Bundle struct {
	Party uint8
	Keys  []hss.MarshalKey
}

const (
	magic   = "HSSB"
	version = 1
	// MaxFrame bounds one key's payload (1 GiB).
	MaxFrame = 1 << 30
)

// Size returns the number of bytes MarshalBinary produces.
func (b *Bundle) Size() int {
	s := len(magic) + 2 + 4
	for _, k := range b.Keys {
		s += 1 + len(k.Kind()) + 4 + k.Size()
	}
	return s
}

// Material returns the keys as a queue for hss.Party.Keys.
func (b *Bundle) Material() *hss.Material { return material(b.Keys) }

// MarshalBinary encodes the bundle.
func (b *Bundle) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, b.Size())
	out = append(out, magic...)
	out = append(out, version, b.Party)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(b.Keys)))
	for i, k := range b.Keys {
		var err error
		if out, err = hss.AppendKeyFrame(out, k); err != nil {
			return nil, fmt.Errorf("dealer: bundle: key %d: %w", i, err)
		}
	}
	return out, nil
}

// UnmarshalBinary decodes a bundle, strictly: magic and version must match, the party must be 0 or 1,
// every key must be of a registered kind and decode exactly, and no bytes may follow.
func (b *Bundle) UnmarshalBinary(data []byte) error {
	r := &sliceReader{b: data}
	nb, err := ReadBundle(r)
	if err != nil {
		return err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("dealer: bundle: %d trailing bytes", len(r.b))
	}
	*b = *nb
	return nil
}

type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// WriteBundle streams b to w (same format as MarshalBinary) without building it in memory.
func WriteBundle(w io.Writer, b *Bundle) error {
	bw := bufio.NewWriter(w)
	hdr := append([]byte(magic), version, b.Party)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(b.Keys)))
	if _, err := bw.Write(hdr); err != nil {
		return fmt.Errorf("dealer: write bundle: %w", err)
	}
	var buf []byte
	for i, k := range b.Keys {
		var err error
		if buf, err = hss.AppendKeyFrame(buf[:0], k); err != nil {
			return fmt.Errorf("dealer: write bundle: key %d: %w", i, err)
		}
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("dealer: write bundle: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dealer: write bundle: %w", err)
	}
	return nil
}

// ReadBundle reads one bundle from r, validating as UnmarshalBinary does. Memory grows with the data
// actually read, never with a claimed length.
func ReadBundle(r io.Reader) (*Bundle, error) {
	var hdr [len(magic) + 2 + 4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("dealer: bundle: header: %w", unexpected(err))
	}
	if string(hdr[:4]) != magic {
		return nil, errors.New("dealer: bundle: bad magic")
	}
	if hdr[4] != version {
		return nil, fmt.Errorf("dealer: bundle: unsupported version %d", hdr[4])
	}
	b := &Bundle{Party: hdr[5]}
	if b.Party > 1 {
		return nil, fmt.Errorf("dealer: bundle: party %d is not 0 or 1", b.Party)
	}
	count := binary.LittleEndian.Uint32(hdr[6:])
	for i := range count {
		k, err := readFrame(r)
		if err != nil {
			return nil, fmt.Errorf("dealer: bundle: key %d of %d: %w", i, count, err)
		}
		if p, ok := k.(interface{ PartyID() int }); ok && p.PartyID() != int(b.Party) {
			return nil, fmt.Errorf("dealer: bundle: key %d is party %d's in party %d's bundle", i, p.PartyID(), b.Party)
		}
		b.Keys = append(b.Keys, k)
	}
	return b, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func readFrame(r io.Reader) (hss.MarshalKey, error) {
	k, _, err := hss.ReadKeyFrame(r, MaxFrame)
	return k, unexpected(err)
}
