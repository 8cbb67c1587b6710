package serve

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// binaryFP32 finds a non-finite element wherever it is, and only then:
// every position in short and odd lengths, every kind of infinity and
// NaN, and the largest finite numbers, which share all but one exponent
// bit with them.
func TestBinaryFP32NonFinite(t *testing.T) {
	bad := []uint32{0x7f800000, 0xff800000, 0x7fc00000, 0xffffffff, 0x7f800001, 0x7fbfffff}
	good := []uint32{0, 0x80000000, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0x00000001, 0x7f000000, 0x00800000}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 19; n++ {
		for pos := -1; pos < n; pos++ {
			b := make([]byte, 4*n)
			want := make([]float32, n)
			for i := range n {
				v := good[rng.IntN(len(good))]
				if i == pos {
					v = bad[rng.IntN(len(bad))]
				}
				binary.LittleEndian.PutUint32(b[4*i:], v)
				want[i] = math.Float32frombits(v)
			}
			got, err := binaryFP32(b, int64(n), "x")
			if pos < 0 {
				if err != nil {
					t.Fatalf("n=%d, all finite: %v", n, err)
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n=%d: element %d is %v, want %v", n, i, got[i], want[i])
					}
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("x[%d]", pos)) {
				t.Fatalf("n=%d, non-finite at %d: error %v", n, pos, err)
			}
		}
	}
	if got, err := binaryFP32(nil, 0, "x"); err != nil || len(got) != 0 {
		t.Errorf("no elements: %v %v", got, err)
	}
	if _, err := binaryFP32(make([]byte, 7), 2, "x"); err == nil || !strings.Contains(err.Error(), "binary_data_size") {
		t.Errorf("7 bytes for 2 elements: %v", err)
	}
}

func BenchmarkBinaryFP32(b *testing.B) {
	const n = 16 * 784
	raw := make([]byte, 4*n)
	for i := range n {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(i%256)/255))
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := binaryFP32(raw, n, "x"); err != nil {
			b.Fatal(err)
		}
	}
}

// A binary input's buffer is sized by its shape only once its bytes are
// there: a 100-byte body that claims 2^26 elements is refused without
// the 256 MiB its shape would take.
func TestPooledDecodeChecksBytesBeforeAllocating(t *testing.T) {
	hdr := []byte(`{"inputs":[{"name":"input","shape":[67108864],"datatype":"FP32","parameters":{"binary_data_size":0}}]}`)
	var wp wordPool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeREST(hdr, len(hdr), "m", "", nil, &wp)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "binary_data_size") {
		t.Fatalf("error %v, want one naming binary_data_size", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("decoding a %d-byte body allocated %d bytes", len(hdr), got)
	}
}
