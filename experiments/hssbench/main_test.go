package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestRunSmall(t *testing.T) {
	var out strings.Builder
	res, err := run(config{preset: "tinystories-656k", seed: 1, promptLen: 6, decode: 2, runs: 1, frac: 14}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.HSSPrefillMS <= 0 || res.HSSDecodeMS <= 0 || res.PrefillRounds <= 0 || res.DecodeOnlineB <= 0 ||
		res.PrefillDealerB <= 0 || res.DecodeRatio <= 0 || res.MaxAbsLogitDiff > 0.05 {
		t.Fatalf("result %+v", res)
	}
	if !strings.Contains(out.String(), "| prefill 6 tokens |") {
		t.Fatalf("table:\n%s", out.String())
	}
	// A simulated link: every round pays at least the one-way delay.
	slow, err := run(config{preset: "tinystories-656k", seed: 1, promptLen: 2, decode: 1, runs: 1, frac: 14, rtt: 2 * time.Millisecond}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if slow.HSSDecodeMS < float64(slow.DecodeRounds)*1.0 {
		t.Fatalf("decode %.2f ms for %d rounds over a 2 ms RTT link", slow.HSSDecodeMS, slow.DecodeRounds)
	}
	for _, c := range []config{{}, {preset: "nope", promptLen: 1, decode: 1, runs: 1}, {preset: "tinystories-656k", promptLen: 600, decode: 1, runs: 1}} {
		if _, err := run(c, io.Discard); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
