module github.com/hssee/hssee

go 1.26.8

require (
	github.com/cloudflare/circl v1.6.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)
