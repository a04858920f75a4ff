package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/hssee/hssee"

// layer ranks the module's top-level groups as docs/ARCHITECTURE.md draws
// them: a package may import its own group and groups of lower rank only.
var layer = []struct {
	prefix string
	rank   int
}{
	{"proto", 0}, {"kernel", 0}, {"internal", 0},
	{"hss/internal", 0}, // before "hss": the AES layer sits below hss and hss/fss
	{"hss/hsstest", 2},  // before "hss": test and experiment harnesses over hss, imported by no production package
	{"hss", 1}, {"model", 1},
	{"ee", 2},
	{"secure", 3},
	{"dealer", 4},
	{"infer", 5},
	{"party/dealersvc", 7}, // before "party": the longest prefix wins
	{"party", 6},
	{"cmd", 8},
	{"experiments", 9},
}

// group returns the group of a module-relative package path and its rank.
func group(rel string) (string, int, bool) {
	for _, l := range layer {
		if rel == l.prefix || strings.HasPrefix(rel, l.prefix+"/") {
			return l.prefix, l.rank, true
		}
	}
	return "", 0, false
}

// imports lists every package of the module with its direct (non-test)
// imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \",\"}}", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	g := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, "|")
		g[pkg] = nil
		if deps != "" {
			g[pkg] = strings.Split(deps, ",")
		}
	}
	return g
}

func TestLayering(t *testing.T) {
	g := imports(t)
	if len(g) < 30 {
		t.Fatalf("go list found only %d packages", len(g))
	}
	for pkg, deps := range g {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		pg, pr, ok := group(rel)
		if !ok {
			t.Errorf("%s: in no layer of docs/ARCHITECTURE.md (add it to the table in this test and the doc)", rel)
			continue
		}
		for _, d := range deps {
			if d == "testing" && !strings.HasSuffix(rel, "test") {
				t.Errorf("%s imports testing: only test-helper packages (…test: sharedtest, kerneltest) may", rel)
			}
			grpc := d == "google.golang.org/grpc" || strings.HasPrefix(d, "google.golang.org/grpc/")
			if grpc && pg != "party" && pg != "party/dealersvc" && pg != "cmd" && pg != "proto" {
				t.Errorf("%s imports %s: only party/ and cmd/ touch gRPC", rel, d)
			}
			if !strings.HasPrefix(d, module+"/") {
				continue
			}
			drel := strings.TrimPrefix(d, module+"/")
			dg, dr, ok := group(drel)
			switch {
			case !ok:
				continue // reported for the package itself
			case dg == pg:
			case dr >= pr:
				t.Errorf("%s (layer %s) imports %s (layer %s): imports point downward only", rel, pg, drel, dg)
			}
			if dg == "experiments" && pg != "experiments" {
				t.Errorf("%s imports %s: nothing imports experiments/", rel, drel)
			}
			if dg == "proto" && pg != "party" && pg != "party/dealersvc" && pg != "cmd" && pg != "proto" {
				t.Errorf("%s imports %s: only party/ and cmd/ use the wire types", rel, drel)
			}
			if rel == "party" && dg == "dealer" {
				t.Errorf("party imports %s: the parties consume material as hss keys and never link the dealer", drel)
			}
		}
	}
}

// The test itself: an upward import is caught.
func TestLayeringRules(t *testing.T) {
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"hss", "model", false}, {"model", "hss", false}, {"secure", "hss", true}, {"hss", "kernel/ring", true},
		{"party", "infer", true}, {"infer", "party", false}, {"party/dealersvc", "party", true},
		{"party", "party/dealersvc", false}, {"cmd/client", "party", true}, {"dealer", "infer", false},
	} {
		fg, fr, _ := group(c.from)
		tg, tr, _ := group(c.to)
		if ok := fg == tg || tr < fr; ok != c.ok {
			t.Errorf("%s -> %s: allowed %v, want %v", c.from, c.to, ok, c.ok)
		}
	}
}
