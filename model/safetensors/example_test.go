package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/hssee/hssee/model/safetensors"
)

func ExampleWrite() {
	var buf bytes.Buffer
	err := safetensors.Write(&buf, []safetensors.Tensor{
		{Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}},
		{Name: "h", Shape: []int{3}, Data: []float32{0.5, 65504, 3e-8}, DType: safetensors.F16},
	}, map[string]string{"format": "pt"})
	if err != nil {
		panic(err)
	}
	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		panic(err)
	}
	for _, name := range f.Names() {
		data, shape, _ := f.Float32(name)
		info, _ := f.Info(name)
		fmt.Println(name, info.DType, shape, data)
	}
	// Output:
	// h F16 [3] [0.5 65504 5.9604645e-08]
	// w F32 [2 2] [1 2 3 4]
}
