package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Well-known file names of a Hugging Face model directory.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// maxIndexSize bounds the index JSON we are willing to read.
const maxIndexSize = 64 << 20

// Dir is a view of the tensors of a model directory: either one
// model.safetensors or the shards named by model.safetensors.index.json.
// A tensor name resolves to the shard the index's weight_map names.
type Dir struct {
	files []*File
	where map[string]*File
	names []string
	meta  map[string]string
}

// OpenDir opens the checkpoint of a directory. If the index file exists it
// is used; otherwise model.safetensors is opened.
func OpenDir(dir string) (*Dir, error) {
	idx, err := readLimited(filepath.Join(dir, IndexFileName), maxIndexSize)
	switch {
	case err == nil:
		return openSharded(dir, idx)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("safetensors: index: %w", err)
	}
	f, err := Open(filepath.Join(dir, SingleFileName))
	if err != nil {
		return nil, err
	}
	d := &Dir{files: []*File{f}, where: make(map[string]*File), names: f.Names(), meta: f.Metadata()}
	for _, n := range d.names {
		d.where[n] = f
	}
	return d, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s exceeds %d bytes", filepath.Base(path), limit)
	}
	return b, nil
}

// ParseIndex decodes a model.safetensors.index.json and returns its
// weight_map after checking that every shard name is a plain file name.
func ParseIndex(b []byte) (map[string]string, error) {
	var idx struct {
		Metadata  json.RawMessage   `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&idx); err != nil {
		return nil, fmt.Errorf("%w: index: json: %v", ErrFormat, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%w: index: empty or missing weight_map", ErrFormat)
	}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) || filepath.Base(shard) != shard {
			return nil, fmt.Errorf("%w: index: tensor %q: shard %q is not a plain file name", ErrFormat, name, shard)
		}
	}
	return idx.WeightMap, nil
}

func openSharded(dir string, idx []byte) (*Dir, error) {
	wm, err := ParseIndex(idx)
	if err != nil {
		return nil, err
	}
	d := &Dir{where: make(map[string]*File, len(wm))}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	var shards []string
	for _, s := range wm {
		shards = append(shards, s)
	}
	sort.Strings(shards)
	byName := make(map[string]*File)
	for _, s := range shards {
		if byName[s] != nil {
			continue
		}
		f, err := Open(filepath.Join(dir, s))
		if err != nil {
			return nil, fmt.Errorf("safetensors: shard %s: %w", s, err)
		}
		byName[s] = f
		d.files = append(d.files, f)
		for k, v := range f.meta {
			if d.meta == nil {
				d.meta = make(map[string]string)
			}
			if _, ok := d.meta[k]; !ok {
				d.meta[k] = v
			}
		}
	}
	for name, s := range wm {
		f := byName[s]
		if _, ok := f.tensors[name]; !ok {
			return nil, fmt.Errorf("%w: index maps %q to shard %s, which lacks it", ErrFormat, name, s)
		}
		d.where[name] = f
		d.names = append(d.names, name)
	}
	sort.Strings(d.names)
	ok = true
	return d, nil
}

// Close closes every shard.
func (d *Dir) Close() error {
	var errs []error
	for _, f := range d.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Names lists the tensor names in sorted order.
func (d *Dir) Names() []string { return append([]string(nil), d.names...) }

// Info returns the header entry of a tensor in the shard that holds it.
func (d *Dir) Info(name string) (TensorInfo, bool) {
	f, ok := d.where[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Metadata merges the __metadata__ maps of the shards; for a key present in
// several shards the value of the first shard in file-name order wins.
func (d *Dir) Metadata() map[string]string {
	return maps.Clone(d.meta)
}

// Float32 reads a tensor from the shard that holds it; see File.Float32.
func (d *Dir) Float32(name string) ([]float32, []int, error) {
	f, ok := d.where[name]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return f.Float32(name)
}

// WriteDir writes tensors into dir: a single model.safetensors when
// maxShardBytes <= 0 or everything fits, otherwise shards named
// model-0000i-of-0000n.safetensors of at most maxShardBytes of data each
// (a tensor larger than the limit gets a shard of its own) plus
// model.safetensors.index.json. Metadata goes into every file.
func WriteDir(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) error {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		if seen[t.Name] {
			return fmt.Errorf("safetensors: write: duplicate tensor %q", t.Name)
		}
		seen[t.Name] = true
	}
	var groups [][]Tensor
	var cur []Tensor
	var curBytes, total int64
	for _, t := range tensors {
		sz := int64(len(t.Data)) * int64(dtypeOf(t).Size())
		total += sz
		if maxShardBytes > 0 && len(cur) > 0 && curBytes+sz > maxShardBytes {
			groups = append(groups, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, t)
		curBytes += sz
	}
	groups = append(groups, cur)
	if len(groups) == 1 {
		// A stale index would shadow the new file on OpenDir.
		if err := os.Remove(filepath.Join(dir, IndexFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("safetensors: write: %w", err)
		}
		return writeFile(filepath.Join(dir, SingleFileName), tensors, metadata)
	}
	wm := make(map[string]string)
	for i, g := range groups {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(groups))
		if err := writeFile(filepath.Join(dir, name), g, metadata); err != nil {
			return err
		}
		for _, t := range g {
			wm[t.Name] = name
		}
	}
	idx, err := json.MarshalIndent(map[string]any{
		"metadata":   map[string]int64{"total_size": total},
		"weight_map": wm,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("safetensors: index: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexFileName), append(idx, '\n'), 0o644); err != nil {
		return fmt.Errorf("safetensors: index: %w", err)
	}
	return nil
}

func writeFile(path string, tensors []Tensor, metadata map[string]string) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if err := Write(fh, tensors, metadata); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}
