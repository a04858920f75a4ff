package secure

import (
	"fmt"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
)

// Pass runs one forward pass of m at position pos0 on this party's input
// shares x [rows × m.Config.Dim] with the peer, through p (its transport,
// encoding and material), and returns its shares of the last position's
// logits. p's encoding must be the executor's (p.Fx = e.Params().Fixed()). The pass must consume its material exactly: a queue must be
// empty after it, and a feed (material that arrives while the pass runs)
// must end with nothing left; anything else means the dealer's walk and
// the party's differ. It is the one pass of both the in-process parties
// (infer.Local) and a deployed party (party.Server). e must be an Exec
// over b.
func (e *Exec) Pass(b *Party, m *model.Model, p *hss.Party, x []uint64, rows, pos0 int) ([]uint64, error) {
	if e.b != Backend(b) {
		return nil, fmt.Errorf("secure: pass: the executor does not run over this backend")
	}
	if p.Fx != e.fx {
		return nil, fmt.Errorf("secure: pass: the party encodes with frac %d, the executor runs at %v", p.Fx.Frac, e.prm)
	}
	b.P = p
	out, err := model.Forward[Tensor](e, m, Tensor{Rows: rows, Cols: m.Config.Dim, V: x}, rows, pos0, true)
	if err != nil {
		return nil, err
	}
	left, err := p.Keys.Drain()
	switch {
	case err != nil:
		return nil, err
	case left != 0:
		return nil, fmt.Errorf("%d keys of dealer material left unused (dealer and party walks differ)", left)
	}
	return out.V, nil
}
