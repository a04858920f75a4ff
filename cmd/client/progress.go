package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// stageLine shows the step a long command is in ("transforming the
// weights", "prefill") as one line on standard error, rewritten with the
// elapsed time while the step runs longer than a second, and cleared when
// it ends. A nil *stageLine shows nothing (-quiet, or not a terminal).
type stageLine struct {
	w     io.Writer
	after time.Duration // show a step once it has run this long
	tick  time.Duration

	mu    sync.Mutex
	what  string
	start time.Time
	shown int // length of the line on screen
	stop  chan struct{}
	done  chan struct{}
}

// newStageLine returns a display on w, or nil when on is false.
func newStageLine(w io.Writer, on bool) *stageLine {
	if !on {
		return nil
	}
	return &stageLine{w: w, after: time.Second, tick: 200 * time.Millisecond}
}

// Stage ends the current step and starts showing what.
func (s *stageLine) Stage(what string) {
	if s == nil {
		return
	}
	s.Done()
	s.mu.Lock()
	s.what, s.start = what, time.Now()
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	stop, done := s.stop, s.done
	s.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(s.tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.draw()
			}
		}
	}()
}

func (s *stageLine) draw() {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := time.Since(s.start)
	if el < s.after {
		return
	}
	line := fmt.Sprintf("[%s: %.1f s]", s.what, el.Seconds())
	pad := max(s.shown-len(line), 0)
	fmt.Fprintf(s.w, "\r%s%s\r", line, strings.Repeat(" ", pad))
	s.shown = len(line)
}

// Done ends the current step and clears its line.
func (s *stageLine) Done() {
	if s == nil {
		return
	}
	s.mu.Lock()
	stop, done := s.stop, s.done
	s.stop, s.done = nil, nil
	s.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shown > 0 {
		fmt.Fprintf(s.w, "\r%s\r", strings.Repeat(" ", s.shown))
		s.shown = 0
	}
}
