package stats

import (
	"os"
	"strings"
)

// CPU describes this machine's processor from /proc/cpuinfo: its model
// name, and whether it has AVX-512 F and VAES (the fast lookup and matmul
// kernels; nil where /proc/cpuinfo is unreadable).
func CPU() (name string, avx512 *bool) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "", nil
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		switch {
		case ok && strings.TrimSpace(k) == "model name" && name == "":
			name = strings.TrimSpace(v)
		case ok && strings.TrimSpace(k) == "flags" && avx512 == nil:
			f := " " + v + " "
			has := strings.Contains(f, " avx512f ") && strings.Contains(f, " vaes ")
			avx512 = &has
		}
	}
	return name, avx512
}
