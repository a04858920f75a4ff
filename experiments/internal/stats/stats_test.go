package stats

import "testing"

func TestMedianRound(t *testing.T) {
	v := []float64{3, 1, 2}
	if Median(v) != 2 || v[0] != 3 || Median([]float64{4, 1, 3, 2}) != 2.5 || Median(nil) != 0 {
		t.Fatal("median")
	}
	if Round(1.23456, 2) != 1.23 || Round(-1.235, 1) != -1.2 || Round(2.5, 0) != 3 {
		t.Fatal("round")
	}
	if Size(512) != "512 B" || Size(1536) != "1.5 KiB" || Size(3<<20) != "3.00 MiB" || Size(1<<31) != "2.000 GiB" {
		t.Fatal("size")
	}
}
