package model

import "testing"

func BenchmarkPresetStories110M(b *testing.B) {
	for b.Loop() {
		if _, err := Preset("stories110M", 1); err != nil {
			b.Fatal(err)
		}
	}
}
