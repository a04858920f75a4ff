package hss

import "fmt"

// rider carries one gate's opening in another gate's round: the next Exchange on the wrapped
// transport sends the caller's message followed by extra and splits the peer's reply the same way
// (both parties wrap alike and openings are symmetric, so the peer's message has the same layout).
// Later exchanges pass through. Two independent openings then cost one round ("run independent gates
// in the same round"); each part is still a value plus its own fresh mask.
type rider struct {
	Transport
	extra []byte // sent with the next exchange
	got   []byte // the peer's extra, once received
	used  bool
}

func (r *rider) Exchange(send []byte) ([]byte, error) {
	if r.used {
		return r.Transport.Exchange(send)
	}
	r.used = true
	msg := make([]byte, 0, len(send)+len(r.extra))
	msg = append(append(msg, send...), r.extra...)
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

// riding returns a party like p whose next exchange also carries extra (see rider).
func (p *Party) riding(extra []byte) (*Party, *rider) {
	r := &rider{Transport: p.T, extra: extra}
	return &Party{ID: p.ID, T: r, Fx: p.Fx, Keys: p.Keys}, r
}
