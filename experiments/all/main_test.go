package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	asParty() // the test binary doubles as party0 and party1
	os.Exit(m.Run())
}

// TestSmoke runs every experiment on the smallest grid and checks the
// outputs exist: results.md, results.json and every plot it links.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the experiment programs")
	}
	out := t.TempDir()
	var log strings.Builder
	o := &options{scale: smoke, out: out, log: &log}
	if err := run(o); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.EE == nil || r.Latency == nil || r.Network == nil || r.Costs == nil || r.Fidelity == nil || r.SubSecond == nil || r.Deploy == nil {
		t.Fatalf("missing experiments in %s", b)
	}
	if len(r.Latency.Points) == 0 || r.Latency.Points[0].DecodeOnlineMS <= 0 || r.Latency.Points[0].PrefillCost.Rounds == 0 {
		t.Fatalf("latency: %+v", r.Latency.Points)
	}
	if r.Fidelity.TeacherForced.Positions == 0 {
		t.Fatalf("fidelity: %+v", r.Fidelity)
	}
	mdb, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mdb), "\n") {
		if i := strings.Index(line, "]("); strings.HasPrefix(line, "![") && i > 0 {
			png := strings.TrimSuffix(line[i+2:], ")")
			if st, err := os.Stat(filepath.Join(out, png)); err != nil || st.Size() < 1000 {
				t.Errorf("plot %s: %v", png, err)
			}
		}
	}
	if !strings.Contains(string(mdb), "## 6.") || !strings.Contains(string(mdb), "## 7.") {
		t.Errorf("results.md lacks experiment 6 or 7:\n%s", mdb)
	}
	sum := summary(&r)
	for _, want := range []string{"| 1 |", "| 2 |", "| 4 |", "| 5 |", "| 6 |", "| 7 |"} {
		if !strings.Contains(sum, want) {
			t.Errorf("README summary lacks the row of experiment %s:\n%s", want, sum)
		}
	}
	if p := r.Deploy.Result.Points; len(p) == 0 || p[0].Cold.PrefillMS <= 0 || p[0].Warm.DecodeMS <= 0 || p[0].Cold.DealerBytes == 0 ||
		r.Deploy.Result.Baseline == nil {
		t.Errorf("deploy: %+v", r.Deploy.Result)
	}
}

func TestFit(t *testing.T) {
	var pts []latencyPoint
	for i, macs := range []float64{1e8, 5e8, 2e9, 4e9} {
		d := int64(i+1) << 28
		pts = append(pts, latencyPoint{PrefillMACs: macs, PrefillCost: costJSON{Dealer: d, Rounds: 100},
			PrefillOnlineMS: 3*macs/1e9 + 2*float64(d)/(1<<30), DecodeMACs: macs / 10, DecodeCost: costJSON{Dealer: d / 10, Rounds: 100},
			DecodeOnlineMS: 3*macs/1e10 + 0.2*float64(d)/(1<<30)})
	}
	f := fitCompute(pts)
	if f.PerGMAC < 2.99 || f.PerGMAC > 3.01 || f.PerDealerGiB < 1.99 || f.PerDealerGiB > 2.01 || f.PerRound > 1e-3 {
		t.Fatalf("fit %+v, want 3 ms/GMAC, 2 ms/GiB, 0 per round", f)
	}
}
