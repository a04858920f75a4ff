package party

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/hssee/hssee/hss"
	"github.com/hssee/hssee/model"
	pb "github.com/hssee/hssee/proto/hsseepb"
)

// Fuzz targets for every decoder of bytes from the network in this package.
// Each must return an error (never panic) on malformed input and respect
// its size limits.

func keySeeds(f *testing.F) {
	rng := hss.NewPRG([32]byte{9})
	k0, _, err := hss.GenMul(rng, 3, 48)
	if err != nil {
		f.Fatal(err)
	}
	t0, _, err := hss.GenLinear(rng, 2, 2, 12, 48)
	if err != nil {
		f.Fatal(err)
	}
	var b []byte
	for _, k := range []hss.MarshalKey{k0, t0} {
		if b, err = AppendKey(b, k); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte{5, 't', 'r', 'u', 'n', 'c', 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
}

func FuzzReadKeys(f *testing.F) {
	keySeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, n, err := readKeys(bytes.NewReader(data), 0, 1<<16)
		if err != nil {
			return
		}
		if n > 1<<16 {
			t.Fatalf("read %d payload bytes over the limit", n)
		}
		// What decodes re-encodes to the same bytes.
		var out []byte
		for _, k := range keys {
			if out, err = AppendKey(out, k); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out, data) {
			t.Fatal("keys do not re-encode to their frames")
		}
	})
}

func FuzzDecodeVectors(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		if u, err := decodeU32s(nil, data); err == nil && !bytes.Equal(appendU32s(nil, u), data) {
			t.Fatal("u32 round trip")
		}
		if u, err := decodeU64s(nil, data); err == nil && !bytes.Equal(appendU64s(nil, u), data) {
			t.Fatal("u64 round trip")
		}
		if v, err := decodeF32s(nil, data); err == nil && len(appendF32s(nil, v)) != len(data) {
			t.Fatal("f32 round trip")
		}
	})
}

func FuzzSessionID(f *testing.F) {
	f.Add("00112233445566778899aabbccddeeff")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := parseSessionHex(s); err == nil && id.String() != s && id.String() != bytesLower(s) {
			t.Fatal("session id round trip")
		}
		if id, err := parseSessionID([]byte(s)); err == nil && string(id[:]) != s {
			t.Fatal("raw session id round trip")
		}
	})
}

func bytesLower(s string) string { return string(bytes.ToLower([]byte(s))) }

// FuzzPeerFrames decodes a sequence of length-prefixed PeerFrame messages
// and reassembles them into one round's message.
func FuzzPeerFrames(f *testing.F) {
	one, _ := proto.Marshal(&pb.PeerFrame{Data: []byte("abc"), Last: true})
	hello, _ := proto.Marshal(&pb.PeerFrame{Hello: &pb.Hello{Party: 1}})
	f.Add(append([]byte{byte(len(one))}, one...))
	f.Add(append([]byte{byte(len(hello))}, hello...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg []byte
		for len(data) > 0 {
			n := min(int(data[0]), len(data)-1)
			var fr pb.PeerFrame
			if err := proto.Unmarshal(data[1:1+n], &fr); err != nil {
				return
			}
			data = data[1+n:]
			var done bool
			var err error
			if msg, done, err = addFrame(msg, &fr, 64); err != nil {
				return
			}
			if len(msg) > 64 {
				t.Fatal("message over the limit")
			}
			if done {
				return
			}
		}
	})
}

// FuzzRunRequest decodes a RunRequest and checks it as party 1 and party 0
// of an hss session and as an ee server would.
func FuzzRunRequest(f *testing.F) {
	ok, _ := proto.Marshal(&pb.RunRequest{Rows: 1, Shares: make([]byte, 8*128), Last: true})
	f.Add(ok)
	ee, _ := proto.Marshal(&pb.RunRequest{Rows: 2, Ids: []uint32{1, 5000}, Last: true})
	f.Add(ee)
	m, err := model.Preset("tinystories-656k", 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r pb.RunRequest
		if err := proto.Unmarshal(data, &r); err != nil {
			return
		}
		for _, c := range []struct {
			id   int
			mode string
		}{{0, ModeHSS}, {1, ModeHSS}, {0, ModeEE}} {
			s := &Server{cfg: Config{ID: c.id, Mode: c.mode, Model: m}}
			ss := &session{mode: c.mode, maxSeq: 32}
			eof := func() (*pb.RunRequest, error) { return nil, errors.New("end of stream") }
			p, err := s.readPass(ss, &r, eof)
			if err != nil {
				continue
			}
			switch {
			case p.rows < 1 || p.pos0+p.rows > 32:
				t.Fatal("accepted a pass out of range")
			case c.mode == ModeHSS && c.id == 1 && len(p.shares) != p.rows*m.Config.Dim:
				t.Fatal("accepted shares of the wrong length")
			case c.mode == ModeHSS && c.id == 0 && len(p.seed) != 32:
				t.Fatal("accepted a bad seed")
			case c.mode == ModeEE && len(p.ids) != p.rows:
				t.Fatal("accepted the wrong number of ids")
			}
		}
	})
}
