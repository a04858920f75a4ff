package ee

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// Mode selects the family of transformations a key applies.
type Mode string

const (
	// ModePerm is the scheme as Nesa documents it: a vocabulary permutation,
	// one permutation of the residual stream and a permutation of every
	// layer's feed-forward hidden units.
	ModePerm Mode = "perm"
	// ModeRotate replaces the residual permutation by a random orthogonal
	// matrix (norm gains folded into the following linear layers) and adds
	// per-layer head permutations, RoPE-pair rotations and scales on Q/K,
	// per-head orthogonal mixes on V/O and scaled FFN permutations.
	ModeRotate Mode = "rotate"
	// DefaultMode is the mode tools use when none is given.
	DefaultMode = ModeRotate
)

// ParseMode parses a mode name; the empty string means DefaultMode.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "":
		return DefaultMode, nil
	case ModePerm, ModeRotate:
		return Mode(s), nil
	}
	return "", fmt.Errorf("ee: unknown mode %q (want %q or %q)", s, ModePerm, ModeRotate)
}

func (m Mode) code() byte {
	switch m {
	case ModePerm:
		return 1
	case ModeRotate:
		return 2
	}
	return 0
}

func modeFromCode(c byte) (Mode, bool) {
	switch c {
	case 1:
		return ModePerm, true
	case 2:
		return ModeRotate, true
	}
	return "", false
}

// SecretSize is the length of a key's master secret in bytes.
const SecretSize = 32

// Key is an EE key: a 32-byte master secret, a mode, and the fingerprint
// and vocabulary size of the base model it is bound to (zero before the
// first Transform). Every component (permutations, rotations, scales) is
// derived from the master secret with cSHAKE256 under a per-component
// customization string, so a key is fully described by these fields.
//
// A Key never prints its secret: String, Format, GoString and LogValue show
// only the mode and a short key id. Methods are safe for concurrent use.
type Key struct {
	mode   Mode
	secret [SecretSize]byte

	mu    sync.Mutex
	model [32]byte // fingerprint of the base model; zero = unbound
	vocab int      // vocabulary size of the base model; 0 = unbound

	// cached vocabulary permutation for vocab (perm[i] = π(i)) and inverse.
	perm, inv []int
}

// GenerateKey draws a fresh master secret from rand (crypto/rand.Reader in
// production; a fixed reader makes tests deterministic).
func GenerateKey(rand io.Reader, mode Mode) (*Key, error) {
	if mode.code() == 0 {
		return nil, fmt.Errorf("ee: generate key: unknown mode %q", mode)
	}
	if rand == nil {
		return nil, errors.New("ee: generate key: nil random source")
	}
	k := &Key{mode: mode}
	if _, err := io.ReadFull(rand, k.secret[:]); err != nil {
		return nil, fmt.Errorf("ee: generate key: %w", err)
	}
	if k.secret == ([SecretSize]byte{}) {
		return nil, errors.New("ee: generate key: random source returned all zeros")
	}
	return k, nil
}

// Mode returns the key's mode.
func (k *Key) Mode() Mode { return k.mode }

// ID is a short public identifier of the key (a hash of the secret), safe to
// log and to show to users.
func (k *Key) ID() string {
	h := sha3.NewCSHAKE256(nil, []byte("hssee/ee/v1/key-id"))
	h.Write(k.secret[:])
	var id [6]byte
	h.Read(id[:])
	return hex.EncodeToString(id[:])
}

// ModelFingerprint returns the fingerprint of the base model the key is bound
// to, and false when the key is not bound yet.
func (k *Key) ModelFingerprint() ([32]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.model, k.model != [32]byte{}
}

// VocabSize returns the vocabulary size the key is bound to (0 if unbound).
func (k *Key) VocabSize() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.vocab
}

// String describes the key without revealing the secret.
func (k *Key) String() string {
	if k == nil {
		return "ee.Key(nil)"
	}
	return fmt.Sprintf("ee.Key{mode=%s id=%s}", k.mode, k.ID())
}

// GoString is String: %#v must not dump the secret either.
func (k *Key) GoString() string { return k.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %x, %s,
// %q, ...) prints String and never the secret bytes.
func (k *Key) Format(f fmt.State, verb rune) { formatAs(f, verb, k.String()) }

// formatAs prints s for every verb (quoted for %q): the Format of the
// types that hold secrets.
func formatAs(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s)
		return
	}
	io.WriteString(f, s)
}

// LogValue implements slog.LogValuer.
func (k *Key) LogValue() slog.Value {
	if k == nil {
		return slog.StringValue("ee.Key(nil)")
	}
	return slog.GroupValue(slog.String("mode", string(k.mode)), slog.String("id", k.ID()))
}

// Key file format, version 1 (all integers little endian, 112 bytes):
//
//	magic   [8]byte  "HSSEEKEY"
//	version uint16   1
//	mode    uint8    1 = perm, 2 = rotate
//	flags   uint8    0 (reserved)
//	vocab   uint32   vocabulary size of the bound model, 0 if unbound
//	secret  [32]byte master secret (never all zero)
//	model   [32]byte base model fingerprint, all zero if unbound
//	sum     [32]byte SHA-256 of all preceding bytes
const (
	keyMagic   = "HSSEEKEY"
	keyVersion = 1
	keyLen     = 8 + 2 + 1 + 1 + 4 + 32 + 32 + 32
	maxVocab   = 1 << 24
)

// MarshalBinary encodes the key in the versioned key file format. The output
// contains the secret: store it like a private key.
func (k *Key) MarshalBinary() ([]byte, error) {
	if k == nil || k.mode.code() == 0 {
		return nil, errors.New("ee: marshal key: invalid key")
	}
	k.mu.Lock()
	model, vocab := k.model, k.vocab
	k.mu.Unlock()
	b := make([]byte, 0, keyLen)
	b = append(b, keyMagic...)
	b = binary.LittleEndian.AppendUint16(b, keyVersion)
	b = append(b, k.mode.code(), 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(vocab))
	b = append(b, k.secret[:]...)
	b = append(b, model[:]...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// UnmarshalKey decodes and strictly validates a key produced by MarshalBinary.
func UnmarshalKey(b []byte) (*Key, error) {
	bad := func(what string) error { return fmt.Errorf("ee: unmarshal key: %s", what) }
	if len(b) != keyLen {
		return nil, bad(fmt.Sprintf("length %d, want %d", len(b), keyLen))
	}
	if string(b[:8]) != keyMagic {
		return nil, bad("bad magic")
	}
	sum := sha256.Sum256(b[:keyLen-32])
	if subtle.ConstantTimeCompare(sum[:], b[keyLen-32:]) != 1 {
		return nil, bad("checksum mismatch")
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != keyVersion {
		return nil, bad(fmt.Sprintf("unsupported version %d", v))
	}
	mode, ok := modeFromCode(b[10])
	if !ok {
		return nil, bad(fmt.Sprintf("unknown mode code %d", b[10]))
	}
	if b[11] != 0 {
		return nil, bad("reserved flags set")
	}
	vocab := binary.LittleEndian.Uint32(b[12:])
	k := &Key{mode: mode, vocab: int(vocab)}
	copy(k.secret[:], b[16:48])
	copy(k.model[:], b[48:80])
	if k.secret == ([SecretSize]byte{}) {
		return nil, bad("all-zero secret")
	}
	bound := k.model != [32]byte{}
	if bound != (vocab != 0) {
		return nil, bad("model fingerprint and vocabulary size disagree")
	}
	if vocab > maxVocab {
		return nil, bad(fmt.Sprintf("vocabulary size %d too large", vocab))
	}
	return k, nil
}

// SaveKey writes k to path with file mode 0600, atomically (temporary file
// and rename), replacing any existing file.
func SaveKey(path string, k *Key) error {
	b, err := k.MarshalBinary()
	if err != nil {
		return fmt.Errorf("ee: save key: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".eekey-*")
	if err != nil {
		return fmt.Errorf("ee: save key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return fmt.Errorf("ee: save key: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("ee: save key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ee: save key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ee: save key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("ee: save key: %w", err)
	}
	return nil
}

// LoadKey reads a key file written by SaveKey. On Unix it refuses files that
// group or others may read or write, as ssh does for private keys.
func LoadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ee: load key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ee: load key: %w", err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("ee: load key: %s has permissions %#o, want 0600", path, st.Mode().Perm())
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(f, keyLen+1)); err != nil {
		return nil, fmt.Errorf("ee: load key: %w", err)
	}
	k, err := UnmarshalKey(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("ee: load key %s: %w", path, err)
	}
	return k, nil
}

// bind checks that the key belongs to the model with fingerprint fp and
// vocabulary vocab, binding an unbound key to it when commit is true.
func (k *Key) bind(fp [32]byte, vocab int, commit bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.model == ([32]byte{}) {
		if commit {
			k.model, k.vocab = fp, vocab
		}
		return nil
	}
	if k.model != fp || k.vocab != vocab {
		return errors.New("ee: key was made for a different model")
	}
	return nil
}

// vocabPerm returns the bound vocabulary permutation and its inverse.
func (k *Key) vocabPerm() (perm, inv []int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.vocab == 0 {
		return nil, nil, errors.New("ee: key is not bound to a model (run Transform first)")
	}
	if len(k.perm) != k.vocab {
		k.perm = deriveVocabPerm(&k.secret, k.vocab)
		k.inv = invertPerm(k.perm)
	}
	return k.perm, k.inv, nil
}

// EncryptIDs maps plaintext token ids to the ids the transformed model
// expects: out[i] = π(ids[i]). The key must be bound (see Transform).
func (k *Key) EncryptIDs(ids []int) ([]int, error) {
	perm, _, err := k.vocabPerm()
	if err != nil {
		return nil, fmt.Errorf("ee: encrypt ids: %w", err)
	}
	return mapIDs("ee: encrypt ids", ids, perm)
}

// DecryptIDs inverts EncryptIDs: out[i] = π⁻¹(ids[i]).
func (k *Key) DecryptIDs(ids []int) ([]int, error) {
	_, inv, err := k.vocabPerm()
	if err != nil {
		return nil, fmt.Errorf("ee: decrypt ids: %w", err)
	}
	return mapIDs("ee: decrypt ids", ids, inv)
}

func mapIDs(op string, ids, perm []int) ([]int, error) {
	out := make([]int, len(ids))
	for i, id := range ids {
		if id < 0 || id >= len(perm) {
			// Never echo the id: token ids are secret.
			return nil, fmt.Errorf("%s: id at position %d out of range [0, %d)", op, i, len(perm))
		}
		out[i] = perm[id]
	}
	return out, nil
}

// DecryptLogits maps logits produced by the transformed model (indexed by
// encrypted token id) back to plaintext vocabulary order:
// dec[v] = enc[π(v)]. enc may hold several rows of VocabSize logits
// (one per position); each row is decrypted.
func (k *Key) DecryptLogits(enc []float32) ([]float32, error) {
	perm, _, err := k.vocabPerm()
	if err != nil {
		return nil, fmt.Errorf("ee: decrypt logits: %w", err)
	}
	n := len(perm)
	if len(enc) == 0 || len(enc)%n != 0 {
		return nil, fmt.Errorf("ee: decrypt logits: length %d is not a positive multiple of vocabulary size %d", len(enc), n)
	}
	dec := make([]float32, len(enc))
	for r := 0; r < len(enc); r += n {
		row, out := enc[r:r+n], dec[r:r+n]
		for v, p := range perm {
			out[v] = row[p]
		}
	}
	return dec, nil
}
