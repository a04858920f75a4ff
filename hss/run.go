package hss

import (
	"errors"
	"fmt"
	"sync"
)

// RunPair runs f for party 0 and party 1 concurrently over an in-memory Pipe, with the given encoding
// and material, and returns each party's traffic. If either side fails the pipe is closed so the
// other side cannot block; the errors of both sides are joined. It is meant for tests, experiments and
// in-process use.
func RunPair(fx Fixed, m0, m1 *Material, f func(p *Party) error) (s0, s1 Stats, err error) {
	t0, t1 := Pipe()
	return RunPairOver(t0, t1, fx, m0, m1, f)
}

// RunPairOver is RunPair over given transports (for example WithLink-wrapped Pipe ends).
func RunPairOver(t0, t1 Transport, fx Fixed, m0, m1 *Material, f func(p *Party) error) (s0, s1 Stats, err error) {
	parties := [2]*Party{{ID: 0, T: t0, Fx: fx, Keys: m0}, {ID: 1, T: t1, Fx: fx, Keys: m1}}
	var errs [2]error
	var wg sync.WaitGroup
	for i, p := range parties {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					errs[i] = fmt.Errorf("party %d: panic: %v", i, r)
				}
				if errs[i] != nil {
					if c, ok := p.T.(interface{ Close() error }); ok {
						c.Close()
					}
				}
			}()
			if e := f(p); e != nil {
				errs[i] = fmt.Errorf("party %d: %w", i, e)
			}
		}()
	}
	wg.Wait()
	return t0.Stats(), t1.Stats(), errors.Join(errs[0], errs[1])
}
