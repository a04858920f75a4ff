package ee_test

import (
	"crypto/rand"
	"fmt"
	"math"

	"github.com/hssee/hssee/ee"
	"github.com/hssee/hssee/model"
)

// The client makes a key, transforms the model once, and ships the EE model
// to the server; per request it encrypts token ids and decrypts logits.
func ExampleTransform() {
	base, err := model.Preset("tinystories-656k", 1) // random weights, real shape
	if err != nil {
		panic(err)
	}
	key, err := ee.GenerateKey(rand.Reader, ee.ModeRotate)
	if err != nil {
		panic(err)
	}
	eeModel, err := ee.Transform(base, key) // binds key to base
	if err != nil {
		panic(err)
	}

	prompt := []int{1, 400, 7, 1020}
	enc, _ := key.EncryptIDs(prompt) // client side

	server, _ := model.NewRunner(eeModel, 16) // server side: plain engine, EE weights
	encLogits, _ := server.Forward(enc)

	logits, _ := key.DecryptLogits(encLogits) // client side

	plain, _ := model.NewRunner(base, 16)
	want, _ := plain.Forward(prompt)
	var worst float64
	for i := range want {
		worst = math.Max(worst, math.Abs(float64(logits[i]-want[i])))
	}
	fmt.Println("equivariant:", worst < 1e-3)
	// Output: equivariant: true
}
