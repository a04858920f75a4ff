package hss

import (
	"encoding"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
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
//
// A queue made by NewFeed is filled while it is consumed: Take waits for
// the next key until the feeder pushes it or ends the feed (Feed, End),
// and Feed waits while the queue holds more than its byte limit, so a
// producer (a network stream of dealer material) is held back by the
// consumer (the pass) and memory stays bounded.
type Material struct {
	mu    sync.Mutex
	keys  []Key
	next  int
	taken int

	// Feed mode (NewFeed): cond signals pushes, takes and the end.
	cond    *sync.Cond
	feed    bool
	ended   bool
	endErr  error
	queued  int64 // bytes of keys pushed and not yet taken
	limit   int64
	waiting time.Time // when a Take began waiting for a key (zero: none waits)
}

// NewMaterial returns a queue holding keys in order.
func NewMaterial(keys ...Key) *Material {
	return &Material{keys: append([]Key(nil), keys...)}
}

// NewFeed returns an empty queue that a producer fills with Feed and
// closes with End while a consumer takes from it. Feed waits while more
// than limit bytes (Key.Size) are queued (limit <= 0: no bound).
func NewFeed(limit int64) *Material {
	m := &Material{feed: true, limit: limit}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// Push appends k to the queue.
func (m *Material) Push(k Key) {
	m.mu.Lock()
	m.keys = append(m.keys, k)
	if m.feed {
		m.queued += int64(k.Size())
		m.cond.Broadcast()
	}
	m.mu.Unlock()
}

// ErrFeedEnded is returned by Feed once the feed has ended (the consumer
// gave up, or End was called).
var ErrFeedEnded = errors.New("hss: material feed ended")

// Feed appends k to a feed, first waiting while the queue holds more than
// its limit. It fails once the feed has ended.
func (m *Material) Feed(k Key) error {
	if !m.feed {
		m.Push(k)
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for !m.ended && m.limit > 0 && m.queued > 0 && m.queued+int64(k.Size()) > m.limit {
		m.cond.Wait()
	}
	if m.ended {
		return ErrFeedEnded
	}
	m.keys = append(m.keys, k)
	m.queued += int64(k.Size())
	m.cond.Broadcast()
	return nil
}

// End closes a feed: no key follows. With a nil err the queue ends
// normally (a Take past the last key reports exhaustion); otherwise every
// later Take, and a Take that waits, fails with err, and keys still queued
// are dropped. The first End wins; ending a plain queue drops its keys on
// a non-nil err.
func (m *Material) End(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ended {
		return
	}
	m.ended, m.endErr = true, err
	if err != nil {
		for i := m.next; i < len(m.keys); i++ {
			m.keys[i] = nil
		}
		m.keys, m.next, m.queued = nil, 0, 0
	}
	if m.cond != nil {
		m.cond.Broadcast()
	}
}

// Waiting reports since when a Take (or Drain) has been waiting for a key
// or the end of a feed (the zero time when none waits).
func (m *Material) Waiting() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.waiting
}

// Drain waits until a feed has ended and returns the number of keys left
// untaken and the error it ended with; while it waits, Waiting reports it
// as a consumer waiting for the feed. On a plain queue it returns at once.
func (m *Material) Drain() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.feed && !m.ended {
		m.waiting = time.Now()
		for !m.ended {
			m.cond.Wait()
		}
		m.waiting = time.Time{}
	}
	return len(m.keys) - m.next, m.endErr
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
	if m.feed && m.next >= len(m.keys) && !m.ended {
		m.waiting = time.Now()
		for m.next >= len(m.keys) && !m.ended {
			m.cond.Wait()
		}
		m.waiting = time.Time{}
	}
	if m.endErr != nil {
		return nil, fmt.Errorf("hss: %s: %w", kind, m.endErr)
	}
	if m.next >= len(m.keys) {
		return nil, fmt.Errorf("hss: %s: material exhausted after %d keys", kind, m.taken)
	}
	k := m.keys[m.next]
	if m.feed && k != nil {
		m.queued -= int64(k.Size())
		m.cond.Broadcast()
	}
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

// RegisterKey makes kind decodable by NewKey (and so by ReadKeyFrame). newKey returns an empty
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
