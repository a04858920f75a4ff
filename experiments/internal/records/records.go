// Package records holds the parts of the experiment programs' JSON lines
// that experiments/all reads back and writes again into results.json, so
// that the program and the reader spell them once. A type's fields, their
// order and their tags are the JSON of both sides: embed it where its
// fields stand (encoding/json writes an embedded struct's fields in its
// place).
package records

// EEMode is one EE mode's measurements (experiments/eebench).
type EEMode struct {
	Mode              string  `json:"mode"`
	VanillaMS         float64 `json:"vanilla_ms"` // median prefill+decode of one run
	EEMS              float64 `json:"ee_ms"`
	OverheadPct       float64 `json:"ee_overhead_pct"` // (EE / vanilla - 1) * 100, medians
	VanillaDecodeTokS float64 `json:"vanilla_decode_tok_s"`
	EEDecodeTokS      float64 `json:"ee_decode_tok_s"`
	TokenAgreementPct float64 `json:"token_agreement_pct"` // teacher-forced top-1, all positions
	MaxAbsLogitDiff   float64 `json:"max_abs_logit_diff"`
	GreedyIdentical   int     `json:"greedy_identical"` // prompts whose free-running continuation is identical
	Prompts           int     `json:"prompts"`
	PositionsCompared int     `json:"positions_compared"`
	GoldenGreedy      int     `json:"golden_greedy_match,omitempty"` // EE continuation == the reference implementation's
}

// EERun is an eebench run: the model, the settings and each mode's
// measurements.
type EERun struct {
	Model     string   `json:"model"`
	Params    int64    `json:"params"`
	Threads   int      `json:"threads"`
	PromptLen int      `json:"prompt_len"`
	Decode    int      `json:"decode"`
	Runs      int      `json:"runs"`
	Modes     []EEMode `json:"modes"`
}

// HSSTimes are experiments/hssbench's latencies in ms: the plain executor,
// and HSS-EE online (the parties) and offline (the dealer), for the prefill
// and per decoded token.
type HSSTimes struct {
	PlainPrefillMS  float64 `json:"plain_prefill_ms"`
	PlainDecodeMS   float64 `json:"plain_decode_ms_per_token"`
	HSSPrefillMS    float64 `json:"hss_prefill_online_ms"`
	HSSPrefillOffMS float64 `json:"hss_prefill_offline_ms"`
	HSSDecodeMS     float64 `json:"hss_decode_online_ms_per_token"`
	HSSDecodeOffMS  float64 `json:"hss_decode_offline_ms_per_token"`
}

// HSSCosts are experiments/hssbench's measured costs: online bytes, rounds
// and dealer bytes, for the prefill and per decoded token.
type HSSCosts struct {
	PrefillOnlineB int64 `json:"prefill_online_bytes"`
	PrefillRounds  int64 `json:"prefill_rounds"`
	PrefillDealerB int64 `json:"prefill_dealer_bytes"`
	DecodeOnlineB  int64 `json:"decode_online_bytes_per_token"`
	DecodeRounds   int64 `json:"decode_rounds_per_token"`
	DecodeDealerB  int64 `json:"decode_dealer_bytes_per_token"`
}

// DeployLinks are experiments/deploy's emulated links: the parties' link
// bandwidth, each party's link to the dealer, the client's link, and the
// RTTs between the parties it measures at.
type DeployLinks struct {
	PartyMbps   float64   `json:"party_mbps"`
	DealerRTTms float64   `json:"dealer_rtt_ms"`
	DealerMbps  float64   `json:"dealer_mbps"`
	ClientRTTms float64   `json:"client_rtt_ms"`
	ClientMbps  float64   `json:"client_mbps"`
	RTTs        []float64 `json:"rtts_ms"`
}

// DeploySession is one session experiments/deploy measured through the
// emulated links (its time to prepare apart: the program omits a zero one,
// results.json keeps it).
type DeploySession struct {
	PrefillMS   float64  `json:"prefill_ms"`          // the prompt's Forward, wall
	DecodeMS    float64  `json:"decode_ms_per_token"` // median over the decoded tokens
	DecodeMean  float64  `json:"decode_ms_mean"`
	ClientUp    int64    `json:"client_wire_up_bytes"`   // client → servers, TLS records and all
	ClientDown  int64    `json:"client_wire_down_bytes"` // servers → client
	ClientSent  int64    `json:"client_payload_sent_bytes"`
	ClientRecv  int64    `json:"client_payload_recv_bytes"`
	DealerWire  [2]int64 `json:"dealer_wire_bytes"` // dealer → party 0, party 1
	PeerWire    int64    `json:"peer_wire_bytes"`   // party 0 ↔ party 1, both ways
	DealerBytes int64    `json:"dealer_key_bytes"`  // material the parties consumed (key bytes)
	IDsEqual    bool     `json:"same_tokens_as_in_process"`
}

// DeployBaseline is experiments/deploy's client-aided run (the material
// made by the client and uploaded through its link), measured on a short
// prompt and modelled for the full one.
type DeployBaseline struct {
	PromptLen       int     `json:"prompt_len"`
	Decode          int     `json:"decode"`
	RTTms           float64 `json:"rtt_ms"`
	PrefillMS       float64 `json:"prefill_ms"`
	DecodeMS        float64 `json:"decode_ms_per_token"`
	ClientUp        int64   `json:"client_wire_up_bytes"`
	ModelFullPrefMS float64 `json:"model_full_prefill_ms"` // the -prompt-len prefill, modelled: material over the client link
	ModelFullDecMS  float64 `json:"model_full_decode_ms"`
}
