package ee

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hssee/hssee/model"
)

// ManifestFileName is the file that marks a model directory as an EE model
// and names the key it was made with. It holds no secret: the key id is a
// one-way hash of the secret, and the fingerprints identify models.
const ManifestFileName = "hssee-ee.json"

const (
	manifestFormat  = "hssee-ee-model"
	manifestVersion = 1
	maxManifestSize = 1 << 12
)

// Manifest describes an EE model written to disk: the key (by id and mode)
// that made it, the fingerprint of the base model that key is bound to, and
// the fingerprint of the EE model itself, so that a client holding a key can
// refuse an EE model made with another key, and a party can refuse weights
// that are not the ones named.
type Manifest struct {
	Format          string `json:"format"`
	Version         int    `json:"version"`
	Mode            Mode   `json:"mode"`
	KeyID           string `json:"key_id"`
	BaseFingerprint string `json:"base_fingerprint"`
	Fingerprint     string `json:"fingerprint"`
}

// NewManifest describes eeModel, made from its base model by Transform under
// k (which Transform bound to the base model).
func NewManifest(k *Key, eeModel *model.Model) (*Manifest, error) {
	if k == nil || eeModel == nil {
		return nil, errors.New("ee: manifest: nil key or model")
	}
	base, ok := k.ModelFingerprint()
	if !ok {
		return nil, errors.New("ee: manifest: key is not bound to a model (run Transform first)")
	}
	fp := model.Fingerprint(eeModel)
	return &Manifest{
		Format: manifestFormat, Version: manifestVersion, Mode: k.Mode(), KeyID: k.ID(),
		BaseFingerprint: hex.EncodeToString(base[:]), Fingerprint: hex.EncodeToString(fp[:]),
	}, nil
}

// ParseManifest decodes and strictly validates a manifest: unknown fields,
// trailing data, another format or version, an unknown mode or malformed
// hex are errors.
func ParseManifest(b []byte) (*Manifest, error) {
	bad := func(what string) error { return fmt.Errorf("ee: manifest: %s", what) }
	if len(b) > maxManifestSize {
		return nil, bad("too large")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, bad("malformed JSON")
	}
	if dec.More() {
		return nil, bad("trailing data")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad("trailing data")
	}
	switch {
	case m.Format != manifestFormat:
		return nil, bad("not an hssee EE model manifest")
	case m.Version != manifestVersion:
		return nil, bad(fmt.Sprintf("unsupported version %d", m.Version))
	case m.Mode.code() == 0:
		return nil, bad("unknown mode")
	case !isHex(m.KeyID, 12):
		return nil, bad("malformed key id")
	case !isHex(m.BaseFingerprint, 64) || !isHex(m.Fingerprint, 64):
		return nil, bad("malformed fingerprint")
	}
	return &m, nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// WriteManifest writes m as dir/ManifestFileName.
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("ee: write manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFileName), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("ee: write manifest: %w", err)
	}
	return nil
}

// ReadManifest reads path/ManifestFileName. It returns (nil, nil) when path
// is not a directory or has no manifest (a plain model).
func ReadManifest(path string) (*Manifest, error) {
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		return nil, nil
	}
	f, err := os.Open(filepath.Join(path, ManifestFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ee: read manifest: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("ee: read manifest: %w", err)
	}
	return ParseManifest(b)
}

// Check verifies that the EE model eeModel, described by m, was made with k
// and has not been changed since: same key id and mode, the key's bound base
// model, and the EE model's fingerprint.
func (m *Manifest) Check(k *Key, eeModel *model.Model) error {
	if k == nil || eeModel == nil {
		return errors.New("ee: manifest: nil key or model")
	}
	if m.KeyID != k.ID() || m.Mode != k.Mode() {
		return errors.New("ee: this EE model was made with a different key")
	}
	if base, ok := k.ModelFingerprint(); !ok || hex.EncodeToString(base[:]) != m.BaseFingerprint {
		return errors.New("ee: key is not bound to the base model of this EE model")
	}
	if fp := model.Fingerprint(eeModel); hex.EncodeToString(fp[:]) != m.Fingerprint {
		return errors.New("ee: EE model weights do not match their manifest fingerprint")
	}
	return nil
}
