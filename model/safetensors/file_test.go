package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/sharedtest"
)

func randData(r *rand.Rand, n int) []float32 {
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(r.NormFloat64())
	}
	return d
}

func encode(t testing.TB, ts []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteParseRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ts := []Tensor{
		{Name: "a.weight", Shape: []int{3, 5}, Data: randData(r, 15)},
		{Name: "half", Shape: []int{7}, Data: randData(r, 7), DType: F16},
		{Name: "brain", Shape: []int{2, 2, 2}, Data: randData(r, 8), DType: BF16},
		{Name: "scalar", Shape: nil, Data: []float32{42}},
		{Name: "empty", Shape: []int{0, 4}, Data: []float32{}},
	}
	meta := map[string]string{"format": "pt", "x": "y"}
	b := encode(t, ts, meta)
	if hl := binary.LittleEndian.Uint64(b); hl%8 != 0 {
		t.Errorf("header length %d not 8-aligned", hl)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Names(), []string{"a.weight", "brain", "empty", "half", "scalar"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(f.Metadata(), meta) {
		t.Errorf("Metadata = %v, want %v", f.Metadata(), meta)
	}
	for _, tt := range ts {
		data, shape, err := f.Float32(tt.Name)
		if err != nil {
			t.Fatalf("%s: %v", tt.Name, err)
		}
		wantShape := tt.Shape
		if wantShape == nil {
			wantShape = []int{}
		}
		if !reflect.DeepEqual(shape, wantShape) {
			t.Errorf("%s: shape %v, want %v", tt.Name, shape, wantShape)
		}
		info, _ := f.Info(tt.Name)
		if info.DType != dtypeOf(tt) {
			t.Errorf("%s: dtype %s, want %s", tt.Name, info.DType, dtypeOf(tt))
		}
		for i, v := range tt.Data {
			want := v
			switch dtypeOf(tt) {
			case F16:
				want = HalfToFloat32(Float32ToHalf(v))
			case BF16:
				want = BFloat16ToFloat32(Float32ToBFloat16(v))
			}
			if data[i] != want {
				t.Errorf("%s[%d] = %v, want %v", tt.Name, i, data[i], want)
			}
		}
		raw, err := f.Raw(tt.Name)
		if err != nil || len(raw) != len(tt.Data)*dtypeOf(tt).Size() {
			t.Errorf("%s: Raw gave %d bytes, %v", tt.Name, len(raw), err)
		}
	}
	if _, _, err := f.Float32("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tensor: err = %v, want ErrNotFound", err)
	}
}

func TestLargeTensorChunks(t *testing.T) {
	// Larger than one read chunk, with an odd element count.
	r := rand.New(rand.NewPCG(5, 6))
	n := chunkBytes/4*3 + 7
	for _, dt := range []DType{F32, F16, BF16} {
		d := randData(r, n)
		f, err := Parse(encode(t, []Tensor{{Name: "x", Shape: []int{n}, Data: d, DType: dt}}, nil))
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := f.Float32("x")
		if err != nil {
			t.Fatal(err)
		}
		for i := range d {
			want := d[i]
			if dt == F16 {
				want = HalfToFloat32(Float32ToHalf(d[i]))
			} else if dt == BF16 {
				want = BFloat16ToFloat32(Float32ToBFloat16(d[i]))
			}
			if got[i] != want {
				t.Fatalf("%s: element %d = %v, want %v", dt, i, got[i], want)
			}
		}
	}
}

// raw builds a file from a header string and a data buffer.
func raw(hdr string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(hdr)))
	return append(append(b, hdr...), data...)
}

func TestF64AndOtherDTypes(t *testing.T) {
	data := binary.LittleEndian.AppendUint64(nil, math.Float64bits(1.5))
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(-0.1))
	data = append(data, 1, 2, 3, 4)
	f, err := Parse(raw(`{"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"i":{"dtype":"I32","shape":[1],"data_offsets":[16,20]}}`, data))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := f.Float32("d")
	if err != nil || got[0] != 1.5 || got[1] != float32(-0.1) {
		t.Errorf("F64 read = %v, %v", got, err)
	}
	if _, _, err := f.Float32("i"); err == nil || !strings.Contains(err.Error(), "I32") {
		t.Errorf("I32 to float32: err = %v, want a dtype error", err)
	}
}

func TestMalformed(t *testing.T) {
	d16 := make([]byte, 16)
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"header too long for file", binary.LittleEndian.AppendUint64(nil, 100), "exceeds the 0 bytes"},
		{"header over limit", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds the limit"},
		{"empty header", raw("", nil), "JSON object"},
		{"not json", raw("hello", nil), "JSON object"},
		{"array", raw("[]", nil), "JSON object"},
		{"truncated json", raw(`{"a":`, nil), `tensor "a"`},
		{"bad utf8", raw("{\"\xff\":1}", nil), "UTF-8"},
		{"unknown dtype", raw(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, d16), `unknown dtype "Q4"`},
		{"missing dtype", raw(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, d16), "missing dtype"},
		{"missing shape", raw(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, d16), "missing shape"},
		{"missing offsets", raw(`{"a":{"dtype":"F32","shape":[1]}}`, d16), "data_offsets has 0"},
		{"three offsets", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, d16), "data_offsets has 3"},
		{"offset past end", raw(`{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}`, d16), "outside"},
		{"negative offset", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, d16), "outside"},
		{"reversed offsets", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, d16), "outside"},
		{"size mismatch", raw(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, d16), "need 12"},
		{"negative dim", raw(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, d16), "negative dimension"},
		{"overflow", raw(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, d16), "overflows"},
		{"float dim", raw(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, d16), "tensor \"a\""},
		{"unknown field", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, d16), "unknown field"},
		{"duplicate", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, d16), "duplicate"},
		{"metadata not strings", raw(`{"__metadata__":{"a":1}}`, nil), "metadata"},
		{"trailing", raw(`{} {}`, nil), "trailing"},
		{"tensor not object", raw(`{"a":3}`, nil), "tensor \"a\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.file)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestPaddedHeaderAndEmpty(t *testing.T) {
	f, err := Parse(raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}     `, []byte{0, 0, 0x80, 0x3f}))
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := f.Float32("a"); err != nil || v[0] != 1 {
		t.Errorf("a = %v, %v", v, err)
	}
	f, err = Parse(raw(`{}`, nil))
	if err != nil || len(f.Names()) != 0 {
		t.Errorf("empty file: %v, %v", f, err)
	}
}

func TestWriteErrors(t *testing.T) {
	for _, ts := range [][]Tensor{
		{{Name: "a", Shape: []int{2}, Data: []float32{1}}},
		{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "a", Shape: []int{1}, Data: []float32{1}}},
		{{Name: MetadataKey, Shape: []int{1}, Data: []float32{1}}},
		{{Name: "a", Shape: []int{-1}, Data: nil}},
		{{Name: "a", Shape: []int{1}, Data: []float32{1}, DType: I8}},
	} {
		if err := Write(new(bytes.Buffer), ts, nil); err == nil {
			t.Errorf("Write(%v) succeeded", ts)
		}
	}
}

func TestDirSharded(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var ts []Tensor
	for i := range 5 {
		ts = append(ts, Tensor{Name: string(rune('a'+i)) + ".w", Shape: []int{10, 10}, Data: randData(r, 100)})
	}
	dir := t.TempDir()
	if err := WriteDir(dir, ts, map[string]string{"format": "pt"}, 900); err != nil {
		t.Fatal(err)
	}
	ents, _ := filepath.Glob(filepath.Join(dir, "model-*-of-*.safetensors"))
	if len(ents) != 3 {
		t.Errorf("%d shards written, want 3", len(ents))
	}
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(d.Names()) != 5 || d.Metadata()["format"] != "pt" {
		t.Errorf("Names %v, Metadata %v", d.Names(), d.Metadata())
	}
	for _, tt := range ts {
		got, shape, err := d.Float32(tt.Name)
		if err != nil || !reflect.DeepEqual(got, tt.Data) || !reflect.DeepEqual(shape, tt.Shape) {
			t.Errorf("%s: mismatch (%v)", tt.Name, err)
		}
		if _, ok := d.Info(tt.Name); !ok {
			t.Errorf("%s: no Info", tt.Name)
		}
	}
	if _, _, err := d.Float32("zz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing tensor: %v", err)
	}

	// Rewriting as a single file removes the stale index.
	if err := WriteDir(dir, ts[:1], nil, 0); err != nil {
		t.Fatal(err)
	}
	d2, err := OpenDir(dir)
	if err != nil || len(d2.Names()) != 1 {
		t.Fatalf("single file after shards: %v, %v", d2, err)
	}
	d2.Close()
}

func TestDirBadIndex(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		name, index, want string
	}{
		{"escape", `{"weight_map":{"a":"../model-1.safetensors"}}`, "plain file name"},
		{"absolute", `{"weight_map":{"a":"/etc/passwd"}}`, "plain file name"},
		{"empty", `{"weight_map":{}}`, "weight_map"},
		{"json", `{"weight_map":`, "json"},
		{"lacks", `{"weight_map":{"zz":"s.safetensors"}}`, "lacks it"},
		{"missing shard", `{"weight_map":{"a":"t.safetensors"}}`, "shard t.safetensors"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			b := encode(t, []Tensor{{Name: "a", Shape: []int{2}, Data: randData(r, 2)}}, nil)
			os.WriteFile(filepath.Join(dir, "s.safetensors"), b, 0o644)
			os.WriteFile(filepath.Join(dir, IndexFileName), []byte(c.index), 0o644)
			_, err := OpenDir(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("OpenDir: %v, want error containing %q", err, c.want)
			}
		})
	}
	if _, err := OpenDir(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("empty dir: %v, want ErrNotExist", err)
	}
}

func TestRealTinyStories(t *testing.T) {
	path := sharedtest.Path(t, "models", "tinystories-656k", "model.safetensors")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := len(f.Names()); n != 20 {
		t.Errorf("%d tensors, want 20", n)
	}
	if f.Metadata()["model.embed_tokens.weight"] != "lm_head.weight" {
		t.Errorf("metadata %v lacks the embed alias", f.Metadata())
	}
	data, shape, err := f.Float32("lm_head.weight")
	if err != nil || !reflect.DeepEqual(shape, []int{2048, 128}) || len(data) != 2048*128 {
		t.Fatalf("lm_head: shape %v, %d values, %v", shape, len(data), err)
	}
	info, _ := f.Info("model.layers.0.self_attn.k_proj.weight")
	if info.DType != F32 || !reflect.DeepEqual(info.Shape, []int{64, 128}) {
		t.Errorf("k_proj info %+v", info)
	}
}

func FuzzHeader(f *testing.F) {
	r := rand.New(rand.NewPCG(11, 12))
	f.Add(encode(f, []Tensor{
		{Name: "w", Shape: []int{2, 3}, Data: randData(r, 6)},
		{Name: "h", Shape: []int{3}, Data: randData(r, 3), DType: F16},
		{Name: "b", Shape: []int{1}, Data: randData(r, 1), DType: BF16},
	}, map[string]string{"format": "pt"}))
	f.Add(raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, []byte{0, 0, 0x80, 0x3f}))
	f.Add(raw(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(raw(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil))
	f.Add(raw(`{"__metadata__":{"k":"v"}}`, nil))
	f.Add([]byte{})
	f.Add(binary.LittleEndian.AppendUint64(nil, math.MaxUint64))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		var ts []Tensor
		for _, name := range file.Names() {
			info, _ := file.Info(name)
			if info.End-info.Begin != int64(info.NumElements()*info.DType.Size()) {
				t.Fatalf("%s: inconsistent info %+v", name, info)
			}
			data, shape, err := file.Float32(name)
			if err != nil {
				continue // a dtype without float32 conversion
			}
			if len(data) != info.NumElements() {
				t.Fatalf("%s: %d values for shape %v", name, len(data), shape)
			}
			ts = append(ts, Tensor{Name: name, Shape: shape, Data: data})
		}
		// What we read re-encodes to a file that reads back bit-exactly.
		file2, err := Parse(encode(t, ts, file.Metadata()))
		if err != nil {
			t.Fatalf("re-encoded file does not parse: %v", err)
		}
		for _, tt := range ts {
			got, _, err := file2.Float32(tt.Name)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(tt.Data[i]) {
					t.Fatalf("%s[%d] changed on re-encoding", tt.Name, i)
				}
			}
		}
	})
}

func BenchmarkFloat32(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	const n = 1 << 20
	for _, dt := range []DType{F32, F16, BF16} {
		f, err := Parse(encode(b, []Tensor{{Name: "x", Shape: []int{n}, Data: randData(r, n), DType: dt}}, nil))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(dt), func(b *testing.B) {
			b.SetBytes(n * 4) // float32 bytes produced
			for b.Loop() {
				if _, _, err := f.Float32("x"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
