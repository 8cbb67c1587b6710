package data_test

import (
	"bytes"
	"fmt"

	"github.com/kiln-ml/kiln/data"
)

// A 2×3 image of uint8 pixels as an IDX stream: magic 00 00, type 08,
// two dimensions, the sizes 2 and 3 as big-endian uint32, then six values.
func ExampleDecodeIDX() {
	raw := []byte{
		0x00, 0x00, 0x08, 0x02,
		0x00, 0x00, 0x00, 0x02,
		0x00, 0x00, 0x00, 0x03,
		0, 128, 255,
		1, 2, 3,
	}
	x, err := data.DecodeIDX(bytes.NewReader(raw), "image.idx")
	if err != nil {
		fmt.Println(err)
		return
	}
	v, _ := x.Float32s()
	fmt.Printf("type 0x%02x, dims %v, values %v\n", x.Type, x.Dims, v)

	// The same stream cut short names the file and what is missing.
	_, err = data.DecodeIDX(bytes.NewReader(raw[:15]), "image.idx")
	fmt.Println(err)
	// Output:
	// type 0x08, dims [2 3], values [0 128 255 1 2 3]
	// read idx image.idx: truncated: want 6 bytes of data for dimensions [2 3], got 3: unexpected EOF
}
