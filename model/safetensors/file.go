package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize bounds the JSON header (the reference implementation uses
// the same limit).
const MaxHeaderSize = 100_000_000

// MetadataKey is the reserved header key of the string-to-string metadata.
const MetadataKey = "__metadata__"

// ErrFormat is wrapped by every error about malformed safetensors bytes.
var ErrFormat = errors.New("safetensors: malformed file")

// ErrNotFound is wrapped when a tensor name is not in a file or directory.
var ErrNotFound = errors.New("safetensors: tensor not found")

// TensorInfo describes one tensor of a file, as validated from the header.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End are byte offsets relative to the start of the data
	// buffer (after the header).
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is an open safetensors file whose header has been validated. Its
// methods are safe for concurrent use when the underlying ReaderAt is
// (as *os.File is).
type File struct {
	r         io.ReaderAt
	closer    io.Closer
	dataStart int64
	dataLen   int64
	tensors   map[string]TensorInfo
	names     []string
	meta      map[string]string
}

// Open opens a safetensors file and reads and validates its header. The
// tensor data is read only on demand; Close releases the file.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: open: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("safetensors: open: %w", err)
	}
	f, err := NewFile(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Parse validates an in-memory safetensors file.
func Parse(b []byte) (*File, error) {
	return NewFile(bytes.NewReader(b), int64(len(b)))
}

// NewFile reads and validates the header of the safetensors file of the
// given size held by r.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("%w: header: file of %d bytes is shorter than the 8-byte length prefix", ErrFormat, size)
	}
	var lb [8]byte
	if err := readAt(r, lb[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%w: header: length %d exceeds the limit %d", ErrFormat, n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("%w: header: length %d exceeds the %d bytes after the prefix", ErrFormat, n, size-8)
	}
	hdr := make([]byte, n)
	if err := readAt(r, hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	f := &File{r: r, dataStart: 8 + int64(n), dataLen: size - 8 - int64(n)}
	if err := f.parseHeader(hdr); err != nil {
		return nil, err
	}
	return f, nil
}

type rawInfo struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

func (f *File) parseHeader(hdr []byte) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: header: %s", ErrFormat, fmt.Sprintf(format, a...))
	}
	if !utf8.Valid(hdr) {
		return bad("not valid UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return bad("does not start with a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{'
		return bad("json: %v", err)
	}
	f.tensors = make(map[string]TensorInfo)
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("json: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return bad("json: object key expected")
		}
		if seen[name] {
			return bad("duplicate key %q", name)
		}
		seen[name] = true
		if name == MetadataKey {
			var meta map[string]string
			if err := dec.Decode(&meta); err != nil {
				return bad("metadata: %v", err)
			}
			f.meta = meta
			continue
		}
		var ri rawInfo
		if err := decodeStrict(dec, &ri); err != nil {
			return bad("tensor %q: %v", name, err)
		}
		ti, err := f.checkInfo(name, ri)
		if err != nil {
			return bad("tensor %q: %v", name, err)
		}
		f.tensors[name] = ti
		f.names = append(f.names, name)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return bad("json: %v", err)
	}
	// Only padding may follow the object.
	rest := hdr[dec.InputOffset():]
	if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return bad("trailing data after the JSON object")
	}
	sort.Strings(f.names)
	return nil
}

// decodeStrict decodes the next JSON value into v rejecting unknown fields.
func decodeStrict(dec *json.Decoder, v any) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func (f *File) checkInfo(name string, ri rawInfo) (TensorInfo, error) {
	size := ri.DType.Size()
	if ri.DType == "" {
		return TensorInfo{}, errors.New("missing dtype")
	}
	if size == 0 {
		return TensorInfo{}, fmt.Errorf("unknown dtype %q", ri.DType)
	}
	if ri.Shape == nil {
		return TensorInfo{}, errors.New("missing shape")
	}
	if len(ri.DataOffsets) != 2 {
		return TensorInfo{}, fmt.Errorf("data_offsets has %d entries, want 2", len(ri.DataOffsets))
	}
	begin, end := ri.DataOffsets[0], ri.DataOffsets[1]
	if begin < 0 || end < begin || end > f.dataLen {
		return TensorInfo{}, fmt.Errorf("data_offsets [%d, %d] outside the %d-byte data buffer", begin, end, f.dataLen)
	}
	// Element count with overflow checks; the byte count must equal the
	// span, which is bounded by the file size.
	nbytes := uint64(size)
	shape := make([]int, len(ri.Shape))
	for i, d := range ri.Shape {
		if d < 0 {
			return TensorInfo{}, fmt.Errorf("negative dimension %d", d)
		}
		hi, lo := bits.Mul64(nbytes, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return TensorInfo{}, errors.New("shape overflows")
		}
		nbytes = lo
		shape[i] = int(d)
	}
	if nbytes != uint64(end-begin) {
		return TensorInfo{}, fmt.Errorf("data_offsets span %d bytes, dtype %s and shape %v need %d", end-begin, ri.DType, ri.Shape, nbytes)
	}
	return TensorInfo{Name: name, DType: ri.DType, Shape: shape, Begin: begin, End: end}, nil
}

// Close closes the underlying file when the File was made by Open.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Names lists the tensor names in sorted order.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info returns the header entry of a tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.tensors[name]
	if ok {
		t.Shape = slices.Clone(t.Shape)
	}
	return t, ok
}

// Metadata returns a copy of the __metadata__ map (nil when absent).
func (f *File) Metadata() map[string]string {
	return maps.Clone(f.meta)
}

// chunkBytes is the read granularity of Float32 (a multiple of 8).
const chunkBytes = 1 << 16

// Float32 reads a tensor and converts it to float32. F32, F16, BF16 and F64
// are supported (F64 is rounded to nearest).
func (f *File) Float32(name string) ([]float32, []int, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	var conv func(dst []float32, src []byte)
	switch t.DType {
	case F32:
		conv = func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			}
		}
	case F16:
		conv = func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = HalfToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
			}
		}
	case BF16:
		conv = func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
			}
		}
	case F64:
		conv = func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
			}
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: read %q: dtype %s cannot be converted to float32", name, t.DType)
	}
	es := int64(t.DType.Size())
	n := (t.End - t.Begin) / es
	out := make([]float32, n)
	buf := make([]byte, min(chunkBytes, t.End-t.Begin))
	for done := int64(0); done < n; {
		k := min(int64(len(buf))/es, n-done)
		b := buf[:k*es]
		if err := readAt(f.r, b, f.dataStart+t.Begin+done*es); err != nil {
			return nil, nil, fmt.Errorf("safetensors: read %q: %w", name, err)
		}
		conv(out[done:done+k], b)
		done += k
	}
	return out, slices.Clone(t.Shape), nil
}

// Raw reads the bytes of a tensor as stored (little-endian, any dtype).
func (f *File) Raw(name string) ([]byte, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	b := make([]byte, t.End-t.Begin)
	if err := readAt(f.r, b, f.dataStart+t.Begin); err != nil {
		return nil, fmt.Errorf("safetensors: read %q: %w", name, err)
	}
	return b, nil
}

// readAt fills b from r at off; a full read that also reports io.EOF (as the
// io.ReaderAt contract allows at the end of the input) is a success.
func readAt(r io.ReaderAt, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
