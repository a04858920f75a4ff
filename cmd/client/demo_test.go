package main

import (
	"strings"
	"testing"

	"github.com/hssee/hssee/internal/sharedtest"
)

// The tour with the dealer service: three servers in process, HSS-EE equal
// to plaintext, the material made by the service, the client sending only
// its input shares.
func TestDemoDealerService(t *testing.T) {
	out := mustClient(t, "demo", "-model", sharedtest.TinyStories(t), "-n", "6", "-dealer", "service")
	for _, want := range []string{"dealer service at 127.0.0.1:", "agreement:  HSS-EE output identical to plaintext",
		"made by the dealer service and streamed to the parties", "client:     sent 0.01 MB"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := client(t, "demo", "-dealer", "elsewhere"); err == nil {
		t.Fatal("demo -dealer elsewhere accepted")
	}
}
