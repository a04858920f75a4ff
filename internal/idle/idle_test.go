package idle

import (
	"testing"
	"time"
)

func TestActivity(t *testing.T) {
	t0 := time.Now()
	a := New(t0)
	if d := a.Idle(t0.Add(time.Minute)); d != time.Minute {
		t.Fatalf("idle %v a minute after opening, want 1m", d)
	}
	a.Hold(1)
	if d := a.Idle(t0.Add(time.Hour)); d != 0 {
		t.Fatalf("idle %v while a stream is in progress", d)
	}
	a.Hold(-1)
	a.Touch(1)
	a.Touch(-1)
	if d := a.Idle(time.Now().Add(time.Second)); d <= 0 || d > time.Minute {
		t.Fatalf("idle %v a second after the last event", d)
	}
}
