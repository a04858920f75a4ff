package ee

import (
	"encoding/hex"
	"fmt"
	"sync"
)

// publicBases maps the fingerprints (model.Fingerprint) of base models
// whose weights are published to their names. A key bound to one of them
// gives ee mode no secrecy against the server: weight matching against the
// public weights recovers the vocabulary permutation exactly (measured in
// experiments/attacks).
var (
	publicMu    sync.RWMutex
	publicBases = map[[32]byte]string{
		mustFP("10c65365c38f68cfb54d6fa8d002282d0a1b9eb8b1c78be06770afb7ea5713fb"): "TinyStories-656K (raincandy-u/TinyStories-656K, as loaded from Hugging Face format)",
	}
)

func mustFP(s string) [32]byte {
	var fp [32]byte
	if b, err := hex.DecodeString(s); err != nil || len(b) != 32 {
		panic("ee: bad fingerprint literal")
	} else {
		copy(fp[:], b)
	}
	return fp
}

// RegisterPublicBase records that the base model with fingerprint fp has
// public weights (name is shown in warnings). Tools that load a checkpoint
// from a public hub should register it.
func RegisterPublicBase(fp [32]byte, name string) {
	publicMu.Lock()
	defer publicMu.Unlock()
	publicBases[fp] = name
}

// PublicBase reports whether k is bound to a base model known to have
// public weights, and its name.
func PublicBase(k *Key) (string, bool) {
	if k == nil {
		return "", false
	}
	fp, ok := k.ModelFingerprint()
	if !ok {
		return "", false
	}
	publicMu.RLock()
	defer publicMu.RUnlock()
	name, ok := publicBases[fp]
	return name, ok
}

// PublicBaseWarning returns a one-line warning for running ee mode (a single
// server, no secret sharing) with k when k's base model is known to be
// public, and "" otherwise. It never mentions the secret.
func PublicBaseWarning(k *Key) string {
	name, ok := PublicBase(k)
	if !ok {
		return ""
	}
	return fmt.Sprintf("warning: EE key %s is bound to a public base model (%s): a server holding the EE model recovers the "+
		"key by matching it against the public weights and reads every token id; ee mode does not keep this prompt "+
		"private, use -mode hss (see SECURITY.md)", k.ID(), name)
}
