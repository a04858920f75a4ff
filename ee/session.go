package ee

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hssee/hssee/model"
)

const labelSessionPerm = "hssee/ee/v1/session-vocab-perm"

// Session is a per-session EE key: a fresh vocabulary permutation σ composed
// on top of a bound long-term key k. Token t travels as σ(π(t)); the
// session's model is the long-term EE model with only its embedding and
// LM-head rows moved (row π(t) to row σ(π(t))), so
//
//	s.DecryptLogits(F'_s(s.EncryptIDs(p))) = k.DecryptLogits(F'(k.EncryptIDs(p))) = F(p)
//
// The session's tables are the long-term ones with rows moved, bit for bit
// (nothing is recomputed), so its logits equal the long-term key's up to the
// engine's summation order.
//
// What it buys: the id streams of two sessions are under independent
// substitutions, so an observer who sees encrypted ids and logits but not
// the session's embedding and LM-head rows cannot pool frequency statistics
// across sessions; each session stands alone, and a short session gives a
// frequency attack too few tokens. What it does not buy: within one session
// it is still a substitution cipher, and a party that holds the session's
// rows (an ee-mode server does: it looks ids up in them) re-aligns every
// session with the long-term EE model, or with any other session, by exact
// row matching. See SECURITY.md.
//
// Cost per session: SessionFloats(cfg) float32s (VocabSize×Dim for the
// embedding, as many again for an untied LM head) to build and ship.
type Session struct {
	key      *Key
	secret   [SecretSize]byte
	vocab    int
	sigma    []int // σ over encrypted ids
	enc, dec []int // τ = σ∘π and τ⁻¹ over token ids
}

// NewSession draws a session permutation from rand (crypto/rand.Reader in
// production) on top of k, which must be bound (see Transform).
func NewSession(k *Key, rand io.Reader) (*Session, error) {
	if k == nil || rand == nil {
		return nil, errors.New("ee: new session: nil key or random source")
	}
	perm, _, err := k.vocabPerm()
	if err != nil {
		return nil, fmt.Errorf("ee: new session: %w", err)
	}
	s := &Session{key: k, vocab: len(perm)}
	if _, err := io.ReadFull(rand, s.secret[:]); err != nil {
		return nil, fmt.Errorf("ee: new session: %w", err)
	}
	if s.secret == ([SecretSize]byte{}) {
		return nil, errors.New("ee: new session: random source returned all zeros")
	}
	s.sigma = newStream(&s.secret, labelSessionPerm, s.vocab).perm(s.vocab)
	s.enc = make([]int, s.vocab)
	for t, p := range perm {
		s.enc[t] = s.sigma[p]
	}
	s.dec = invertPerm(s.enc)
	return s, nil
}

// Key returns the long-term key the session is built on.
func (s *Session) Key() *Key { return s.key }

// SessionFloats is the number of float32s a session's embedding and LM
// head hold: VocabSize×Dim, twice that when the head is untied (rotate-mode
// EE models always are).
func SessionFloats(cfg model.Config) int64 {
	n := int64(cfg.VocabSize) * int64(cfg.Dim)
	if !cfg.TiedEmbed {
		n *= 2
	}
	return n
}

// Model returns the session's model: eeModel (the long-term EE model made
// by Transform under s.Key()) with its embedding and LM-head rows moved by
// σ. Every other tensor is shared with eeModel, not copied; a tied head
// stays tied.
func (s *Session) Model(eeModel *model.Model) (*model.Model, error) {
	if eeModel == nil {
		return nil, errors.New("ee: session model: nil model")
	}
	cfg := eeModel.Config
	if cfg.VocabSize != s.vocab {
		return nil, fmt.Errorf("ee: session model: vocabulary size %d, the session's key has %d", cfg.VocabSize, s.vocab)
	}
	if err := eeModel.Check(); err != nil {
		return nil, fmt.Errorf("ee: session model: %w", err)
	}
	out := *eeModel
	out.Embed = moveRows(eeModel.Embed, s.sigma, cfg.Dim)
	if cfg.TiedEmbed {
		out.LMHead = out.Embed
	} else {
		out.LMHead = moveRows(eeModel.LMHead, s.sigma, cfg.Dim)
	}
	return &out, nil
}

// moveRows returns a copy of w ([len(p)][d]) with row i moved to row p[i].
func moveRows(w []float32, p []int, d int) []float32 {
	out := make([]float32, len(w))
	for i, dst := range p {
		copy(out[dst*d:(dst+1)*d], w[i*d:(i+1)*d])
	}
	return out
}

// EncryptIDs maps plaintext token ids to session ids: out[i] = σ(π(ids[i])).
func (s *Session) EncryptIDs(ids []int) ([]int, error) {
	return mapIDs("ee: session encrypt ids", ids, s.enc)
}

// DecryptIDs inverts EncryptIDs.
func (s *Session) DecryptIDs(ids []int) ([]int, error) {
	return mapIDs("ee: session decrypt ids", ids, s.dec)
}

// DecryptLogits maps logits of the session model (indexed by session id)
// back to plaintext order, dec[v] = enc[σ(π(v))], row by row as
// Key.DecryptLogits does.
func (s *Session) DecryptLogits(enc []float32) ([]float32, error) {
	n := s.vocab
	if len(enc) == 0 || len(enc)%n != 0 {
		return nil, fmt.Errorf("ee: session decrypt logits: length %d is not a positive multiple of vocabulary size %d", len(enc), n)
	}
	dec := make([]float32, len(enc))
	for r := 0; r < len(enc); r += n {
		row, out := enc[r:r+n], dec[r:r+n]
		for v, p := range s.enc {
			out[v] = row[p]
		}
	}
	return dec, nil
}

// String describes the session without revealing any secret.
func (s *Session) String() string {
	if s == nil {
		return "ee.Session(nil)"
	}
	return fmt.Sprintf("ee.Session{key=%s}", s.key.ID())
}

// GoString is String.
func (s *Session) GoString() string { return s.String() }

// Format prints String for every verb.
func (s *Session) Format(f fmt.State, verb rune) { formatAs(f, verb, s.String()) }

// LogValue implements slog.LogValuer.
func (s *Session) LogValue() slog.Value { return slog.StringValue(s.String()) }
