// Package idle is the idle rule of the servers' sessions (a party's and
// the dealer service's): a session is idle while no stream is in progress,
// since its last event, and is reaped once idle for longer than a timeout.
package idle

import (
	"sync"
	"time"
)

// Activity is a session's streams in progress and the time of its last
// event. It is safe for concurrent use.
type Activity struct {
	mu   sync.Mutex
	busy int
	last time.Time
}

// New is the activity of a session opened at now.
func New(now time.Time) *Activity { return &Activity{last: now} }

// Touch records an event now, with delta streams started (+1) or ended
// (−1).
func (a *Activity) Touch(delta int) {
	a.mu.Lock()
	a.busy += delta
	a.last = time.Now()
	a.mu.Unlock()
}

// Hold counts delta streams as in progress (+1) or no longer (−1) without
// an event: a request waiting for material is not idle.
func (a *Activity) Hold(delta int) {
	a.mu.Lock()
	a.busy += delta
	a.mu.Unlock()
}

// Idle is how long the session has been idle at now: zero while a stream
// is in progress.
func (a *Activity) Idle(now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy > 0 {
		return 0
	}
	return now.Sub(a.last)
}
