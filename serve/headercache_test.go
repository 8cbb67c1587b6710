package serve

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// binaryBody returns a binary-extension body for rows of x and the length
// of its JSON header.
func binaryBody(x []float32, rows int) ([]byte, int) {
	hdr := fmt.Sprintf(`{"inputs":[{"name":"input","shape":[%d,784],"datatype":"FP32","parameters":{"binary_data_size":%d}}],`+
		`"outputs":[{"name":"class","parameters":{"binary_data":true}}]}`, rows, 4*len(x))
	b := []byte(hdr)
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b, len(hdr)
}

// The header cache decodes exactly what the uncached decoder does, keeps
// requests that share a header apart, and does not remember a request's
// changes to what it was given.
func TestHeaderCacheDecodesAsUncached(t *testing.T) {
	var c headerCache
	for i := range 3 {
		x := images(2, uint64(i))
		body, n := binaryBody(x, 2)
		want, err := DecodeRESTRequest(body, n, "m", "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeREST(body, n, "m", "", &c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d: cached decode %+v, uncached %+v", i, got, want)
		}
		if !reflect.DeepEqual(got.Inputs[0].Data, x) {
			t.Fatalf("request %d: data not this request's", i)
		}
		got.Inputs[0].Shape[0] = 99 // must not reach the next request
	}
	if len(c.m) != 1 {
		t.Fatalf("%d headers cached for one header, want 1", len(c.m))
	}
	// A cached header that fails the checks after parsing fails every time.
	bad := []byte(`{"inputs":[{"name":"input","shape":[1,784],"datatype":"FP99","parameters":{"binary_data_size":0}}]}`)
	for range 2 {
		if _, err := decodeREST(bad, len(bad), "m", "", &c, nil); err == nil {
			t.Fatal("unknown datatype accepted from the cache")
		}
	}
	// The cache stays bounded.
	for i := range 3 * headerCacheEntries {
		body, n := binaryBody(images(1, 1), 1)
		body = append([]byte(fmt.Sprintf(`{"id":"%d",`, i)), body[1:]...)
		if _, err := decodeREST(body, n+len(fmt.Sprintf(`"id":"%d",`, i)), "m", "", &c, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) > headerCacheEntries {
		t.Fatalf("%d headers cached, bound %d", len(c.m), headerCacheEntries)
	}
}
