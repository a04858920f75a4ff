package netem

import (
	"runtime"
	"time"
)

const (
	// timerMargin: waits longer than this are first shortened with a Go
	// timer (millisecond granularity) to about this much.
	timerMargin = 2 * time.Millisecond
	// The spin lead is kept within [minLead, maxLead].
	minLead = 5 * time.Microsecond
	maxLead = 100 * time.Microsecond
)

// sleeper waits until due times with better precision than a Go timer:
// a timer for the long part of a wait, a thread-blocking precise sleep
// (nanosleep on Linux) until lead before the due time, then spinning.
type sleeper struct {
	t    *time.Timer
	lead time.Duration // tracks a high quantile of the precise sleep's overshoot
}

func newSleeper() *sleeper {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &sleeper{t: t, lead: 50 * time.Microsecond}
}

func (s *sleeper) stop() { s.t.Stop() }

// until returns when time.Now() is not before due (true) or when done is
// closed (false; checked between the stages of a wait).
func (s *sleeper) until(due time.Time, done <-chan struct{}) bool {
	for {
		d := time.Until(due)
		if d <= 0 {
			return true
		}
		select {
		case <-done:
			return false
		default:
		}
		switch {
		case d > timerMargin+time.Millisecond:
			s.t.Reset(d - timerMargin)
			select {
			case <-s.t.C:
			case <-done:
				s.t.Stop()
				return false
			}
		case d > s.lead:
			target := due.Add(-s.lead)
			preciseSleep(time.Until(target))
			s.adapt(time.Since(target))
		default:
			for time.Now().Before(due) {
				runtime.Gosched()
			}
			return true
		}
	}
}

// adapt moves the lead towards an observed overshoot: quickly up, slowly
// down, so that it settles near the 90th percentile.
func (s *sleeper) adapt(over time.Duration) {
	if over > s.lead {
		s.lead += (over - s.lead) / 4
	} else {
		s.lead -= (s.lead - over) / 32
	}
	s.lead = min(max(s.lead, minLead), maxLead)
}
