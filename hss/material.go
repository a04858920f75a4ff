package hss

import (
	"encoding"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
)

// Key is one gate's correlated randomness for one party. Kind names the gate ("trunc", "mul", ...),
// Len is the number of elements it serves, Size the number of bytes it occupies on the wire or on disk.
type Key interface {
	Kind() string
	Len() int
	Size() int
}

// MarshalKey is a Key that can be serialised; every key type registered with RegisterKey is one.
type MarshalKey interface {
	Key
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// Consumable marks a key as used. Embed it (by value) in a key type that is used through a pointer:
// Material then refuses to hand out the same key object twice, even from different queues.
type Consumable struct{ used atomic.Bool }

func (c *Consumable) consume() bool { return c.used.CompareAndSwap(false, true) }

type consumer interface{ consume() bool }

// Material is the ordered queue of keys one party consumes. It is safe for concurrent use, but gates
// must take keys in the order the dealer generated them.
type Material struct {
	mu    sync.Mutex
	keys  []Key
	next  int
	taken int
}

// NewMaterial returns a queue holding keys in order.
func NewMaterial(keys ...Key) *Material {
	return &Material{keys: append([]Key(nil), keys...)}
}

// Push appends k to the queue.
func (m *Material) Push(k Key) {
	m.mu.Lock()
	m.keys = append(m.keys, k)
	m.mu.Unlock()
}

// Remaining returns the number of keys not yet taken.
func (m *Material) Remaining() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys) - m.next
}

// Take pops the next key, which must have the given kind and length. A wrong kind or length, an empty
// queue or a key that was already taken is an error naming the gate; the key is consumed in every case
// except exhaustion, so a desynchronised party cannot silently continue.
func (m *Material) Take(kind string, n int) (Key, error) {
	if m == nil {
		return nil, fmt.Errorf("hss: %s: no material", kind)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next >= len(m.keys) {
		return nil, fmt.Errorf("hss: %s: material exhausted after %d keys", kind, m.taken)
	}
	k := m.keys[m.next]
	m.keys[m.next] = nil
	m.next++
	m.taken++
	if m.next > 1024 && m.next*2 > len(m.keys) { // drop the consumed prefix
		m.keys = append(m.keys[:0:0], m.keys[m.next:]...)
		m.next = 0
	}
	if k == nil {
		return nil, fmt.Errorf("hss: %s: material key %d is nil", kind, m.taken)
	}
	if k.Kind() != kind || k.Len() != n {
		return nil, fmt.Errorf("hss: %s: material key %d is %q for %d elements, want %q for %d", kind, m.taken, k.Kind(), k.Len(), kind, n)
	}
	if c, ok := k.(consumer); ok && !c.consume() {
		return nil, fmt.Errorf("hss: %s: material key %d was already used", kind, m.taken)
	}
	return k, nil
}

// TakeAs is Take followed by a check that the key has concrete type K.
func TakeAs[K Key](m *Material, kind string, n int) (K, error) {
	var zero K
	k, err := m.Take(kind, n)
	if err != nil {
		return zero, err
	}
	kk, ok := k.(K)
	if !ok {
		return zero, fmt.Errorf("hss: %s: material key has type %T, want %T", kind, k, zero)
	}
	return kk, nil
}

var registry = struct {
	sync.RWMutex
	m map[string]func() MarshalKey
}{m: map[string]func() MarshalKey{}}

// RegisterKey makes kind decodable by NewKey (and so by the dealer's Bundle). newKey returns an empty
// key to UnmarshalBinary into. Registering a kind twice panics (a programming error at init time).
func RegisterKey(kind string, newKey func() MarshalKey) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[kind]; dup {
		panic("hss: RegisterKey: duplicate kind " + kind)
	}
	registry.m[kind] = newKey
}

// NewKey returns an empty key of the registered kind.
func NewKey(kind string) (MarshalKey, error) {
	registry.RLock()
	f, ok := registry.m[kind]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("hss: key: unknown kind %q", kind)
	}
	return f(), nil
}

// KeyKinds lists the registered kinds, sorted.
func KeyKinds() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.m))
	for k := range registry.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
