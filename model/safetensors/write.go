package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// Tensor is one tensor to write. Data is row-major with len(Data) equal to
// the product of Shape. DType selects the stored element type: "" or F32
// (exact), F16 or BF16 (rounded to nearest, ties to even).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
	DType DType
}

// Write encodes tensors (in the given order in the data buffer) and optional
// metadata as a safetensors file. The header is padded with spaces to a
// multiple of 8 bytes so the data buffer is 8-byte aligned.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	hdr, err := header(tensors, metadata)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(hdr)))
	bw.Write(lb[:])
	bw.Write(hdr)
	var eb [4]byte
	for _, t := range tensors {
		switch dtypeOf(t) {
		case F32:
			for _, v := range t.Data {
				binary.LittleEndian.PutUint32(eb[:], math.Float32bits(v))
				bw.Write(eb[:4])
			}
		case F16:
			for _, v := range t.Data {
				binary.LittleEndian.PutUint16(eb[:], Float32ToHalf(v))
				bw.Write(eb[:2])
			}
		case BF16:
			for _, v := range t.Data {
				binary.LittleEndian.PutUint16(eb[:], Float32ToBFloat16(v))
				bw.Write(eb[:2])
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}

func dtypeOf(t Tensor) DType {
	if t.DType == "" {
		return F32
	}
	return t.DType
}

// header validates the tensors and builds the padded JSON header.
func header(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	entries := make(map[string]any, len(tensors)+1)
	if len(metadata) > 0 {
		entries[MetadataKey] = metadata
	}
	var off int64
	for _, t := range tensors {
		if t.Name == MetadataKey {
			return nil, fmt.Errorf("safetensors: write: tensor name %q is reserved", t.Name)
		}
		if _, dup := entries[t.Name]; dup {
			return nil, fmt.Errorf("safetensors: write: duplicate tensor %q", t.Name)
		}
		dt := dtypeOf(t)
		if dt != F32 && dt != F16 && dt != BF16 {
			return nil, fmt.Errorf("safetensors: write: tensor %q: unsupported dtype %q", t.Name, dt)
		}
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: write: tensor %q: negative dimension", t.Name)
			}
			if d != 0 && n > (math.MaxInt64/8)/d {
				return nil, fmt.Errorf("safetensors: write: tensor %q: shape too large", t.Name)
			}
			n *= d
		}
		if n != len(t.Data) {
			return nil, fmt.Errorf("safetensors: write: tensor %q: shape %v holds %d elements, data has %d", t.Name, t.Shape, n, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		end := off + int64(n)*int64(dt.Size())
		entries[t.Name] = struct {
			DType       DType   `json:"dtype"`
			Shape       []int   `json:"shape"`
			DataOffsets []int64 `json:"data_offsets"`
		}{dt, shape, []int64{off, end}}
		off = end
	}
	hdr, err := json.Marshal(entries)
	if err != nil {
		return nil, fmt.Errorf("safetensors: write: header: %w", err)
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	if len(hdr) > MaxHeaderSize {
		return nil, errors.New("safetensors: write: header exceeds MaxHeaderSize")
	}
	return hdr, nil
}
