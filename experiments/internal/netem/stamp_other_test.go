//go:build !linux

package netem

const maxStampAgeForTest = 0
