package hss

import "fmt"

// rider carries one gate's opening in another gate's round: after skip exchanges that pass through,
// the next Exchange on the wrapped transport sends the caller's message followed by extra's (made
// then, so it may depend on what the earlier exchanges opened) and splits the peer's reply the same
// way (both parties wrap alike and openings are symmetric, so the peer's message has the same
// layout). Later exchanges pass through. Two independent openings then cost one round ("run
// independent gates in the same round"); each part is still a value plus its own fresh mask.
type rider struct {
	Transport
	skip  int
	extra func() ([]byte, error)
	got   []byte // the peer's extra, once received
	used  bool
}

func (r *rider) Exchange(send []byte) ([]byte, error) {
	if r.skip > 0 {
		r.skip--
		return r.Transport.Exchange(send)
	}
	if r.used {
		return r.Transport.Exchange(send)
	}
	r.used = true
	extra, err := r.extra()
	if err != nil {
		return nil, err
	}
	msg := make([]byte, 0, len(send)+len(extra))
	msg = append(append(msg, send...), extra...)
	recv, err := r.Transport.Exchange(msg)
	if err != nil {
		return nil, err
	}
	if len(recv) != len(msg) {
		return nil, fmt.Errorf("hss: ride: peer message of %d bytes, want %d", len(recv), len(msg))
	}
	r.got = append([]byte(nil), recv[len(send):]...)
	return recv[:len(send):len(send)], nil
}

// riding returns a party like p (the same material) whose exchange after its next skip exchanges
// also carries extra's message (see rider).
func (p *Party) riding(skip int, extra func() ([]byte, error)) (*Party, *rider) {
	r := &rider{Transport: p.T, skip: skip, extra: extra}
	return &Party{ID: p.ID, T: r, Fx: p.Fx, Keys: p.Keys}, r
}
