package hss

import "fmt"

// Params are the parameters a secure inference runs at, which the dealer and both parties must share:
// the fixed-point precision and the ring width of the linear layers. Build them with NewParams (or
// start from DefaultParams) so that they are validated once; every backend (secure.NewExec and what
// sits above it: infer, party, dealer, the commands and experiments) takes a Params. Only Frac travels
// on the wire (session and dealer Open requests); Width is not negotiated, so servers run at
// DefaultParams().Width.
type Params struct {
	// Frac is the number of fractional bits of the fixed-point encoding (Fixed).
	Frac uint `json:"frac"`
	// Width is the ring width (bits) at which the linear layers' truncations open their masked
	// values. The gates are exact for values |v| < 2^(Width−2) in units of their fractional
	// precision, so a product (2·Frac fractional bits) may reach 2^(Width−2−2·Frac) in real units: at
	// Width 48 and Frac 14, 2^18, far beyond what norms and projections produce (the attention
	// block's output, which Wo reads untruncated, is held to 2^(62 − Frac − SMVFrac), 2^11 at Frac
	// 14), and each opened value costs Width bits instead of 64. The attention's q, k and v are
	// truncated at their own width, Frac + ScoreBits with ScaledFrac − Frac fractional bits to drop,
	// after ScaleRows opened them at its own: they must stay below 2^AttnRange in real units; the
	// scores are computed at ScoreBits.
	Width uint `json:"width"`
}

// The ranges NewParams and Validate accept.
const (
	// MinFrac and MaxFrac bound Frac: the norms' rsqrt lookup accepts Frac in [8, 14] (softmax and the
	// activations [8, 20]), and a linear layer on an untruncated product (truncate-reduce at width 64)
	// holds |x·wᵀ| < 2^(62−3·Frac) in real units, 2^20 at Frac 14.
	MinFrac = 8
	MaxFrac = 14
	// MaxWidth is the ring's width.
	MaxWidth = 64
	// WidthHeadroom is the least Width − 2·Frac: a truncation needs |v| < 2^(Width−2), and the
	// attention scores (2·Frac fractional bits before their truncation at Width) must reach the
	// softmax's input range 2^6, so Width ≥ 2·Frac + 2 + 6.
	WidthHeadroom = 8
)

// DefaultParams returns the parameters of HSS inference: 14 fractional bits (the most the norms'
// gates accept; when it was chosen, on tinystories-656k, 12 bits left the first-step logits up to
// 0.059 from plain and 7 of 10 greedy 48-token continuations identical, 14 bits 0.030 and 9 of 10)
// and width 48. The gate measurements of experiments/gates are taken at 12 bits (its gatesFrac).
func DefaultParams() Params { return Params{Frac: 14, Width: 48} }

// NewParams returns the parameters with frac fractional bits at ring width width, validated.
func NewParams(frac, width uint) (Params, error) {
	p := Params{Frac: frac, Width: width}
	return p, p.Validate()
}

// WithFrac returns p with frac fractional bits, validated (a -frac flag over the default width).
func (p Params) WithFrac(frac uint) (Params, error) { return NewParams(frac, p.Width) }

// Validate reports whether the parameters are usable: MinFrac ≤ Frac ≤ MaxFrac and
// 2·Frac + WidthHeadroom ≤ Width ≤ MaxWidth.
func (p Params) Validate() error {
	if p.Frac < MinFrac || p.Frac > MaxFrac {
		return fmt.Errorf("hss: params: frac %d out of range [%d,%d] (the range of the norms' gates)", p.Frac, MinFrac, MaxFrac)
	}
	if p.Width > MaxWidth {
		return fmt.Errorf("hss: params: width %d above the ring's %d bits", p.Width, MaxWidth)
	}
	if p.Width < 2*p.Frac+WidthHeadroom {
		return fmt.Errorf("hss: params: width %d below 2·frac+%d = %d (products, with 2·frac fractional bits, must reach the softmax's range 2^6)",
			p.Width, WidthHeadroom, 2*p.Frac+WidthHeadroom)
	}
	return nil
}

// Fixed returns the fixed-point encoding with Frac fractional bits.
func (p Params) Fixed() Fixed { return Fixed{Frac: p.Frac} }

// String formats the parameters as "frac F, width W".
func (p Params) String() string { return fmt.Sprintf("frac %d, width %d", p.Frac, p.Width) }
