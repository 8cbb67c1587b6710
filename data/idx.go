// Package data reads data sets and feeds them to training: the IDX format
// of MNIST and Fashion-MNIST (raw or gzip), CSV files, image classification
// data sets held in memory, a loader that shuffles, batches, preprocesses
// in parallel and prefetches, and `kiln data pull`, which fetches a data set
// with SHA-256 checks.
//
// The package works on plain []float32 and []int32 and does not depend on
// Kiln's tensor package, so that it sits below the compute layers.
//
// IDX layout (big-endian throughout):
//
//	+------+------+------+-------+---------------------+------------------+
//	| 0x00 | 0x00 | type | ndims | ndims × uint32 size | values, row-major |
//	+------+------+------+-------+---------------------+------------------+
//
// type is 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
// 0x0E float64.
package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// IDX element types.
const (
	IDXUint8   byte = 0x08
	IDXInt8    byte = 0x09
	IDXInt16   byte = 0x0B
	IDXInt32   byte = 0x0C
	IDXFloat32 byte = 0x0D
	IDXFloat64 byte = 0x0E
)

// MaxIDXBytes caps the data size an IDX header may declare (4 GiB), so that
// a corrupt header cannot make the reader allocate without bound.
const MaxIDXBytes = 4 << 30

var idxSize = map[byte]int{IDXUint8: 1, IDXInt8: 1, IDXInt16: 2, IDXInt32: 4, IDXFloat32: 4, IDXFloat64: 8}

// IDX is a decoded IDX file: its element type, dimensions and the raw
// big-endian values.
type IDX struct {
	Type byte
	Dims []int
	Data []byte
}

// Len returns the number of values.
func (x *IDX) Len() int {
	n := 1
	for _, d := range x.Dims {
		n *= d
	}
	return n
}

// ReadIDX reads an IDX file, gzip-compressed or not (detected from its first
// bytes, not its name).
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read idx: %w", err)
	}
	defer f.Close()
	return DecodeIDX(f, path)
}

// DecodeIDX decodes an IDX stream, gunzipping it when it starts with the
// gzip magic; name is used in errors.
func DecodeIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read idx %s: gzip: %w", name, err)
		}
		defer zr.Close()
		x, err := decodeIDX(zr, name)
		if err != nil {
			return nil, err
		}
		// Read to the end so that gzip checks its CRC and length trailer.
		if n, err := io.Copy(io.Discard, zr); err != nil {
			return nil, fmt.Errorf("read idx %s: gzip: %w", name, err)
		} else if n > 0 {
			return nil, fmt.Errorf("read idx %s: %d bytes after the data its dimensions %v declare", name, n, x.Dims)
		}
		return x, nil
	}
	x, err := decodeIDX(br, name)
	if err != nil {
		return nil, err
	}
	if n, _ := io.Copy(io.Discard, br); n > 0 {
		return nil, fmt.Errorf("read idx %s: %d bytes after the data its dimensions %v declare", name, n, x.Dims)
	}
	return x, nil
}

func decodeIDX(r io.Reader, name string) (*IDX, error) {
	var hdr [4]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read idx %s: truncated header: %d of 4 bytes", name, n)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, fmt.Errorf("read idx %s: bad magic %02x %02x, want 00 00 (not an IDX file)", name, hdr[0], hdr[1])
	}
	size, ok := idxSize[hdr[2]]
	if !ok {
		return nil, fmt.Errorf("read idx %s: unknown element type 0x%02x", name, hdr[2])
	}
	nd := int(hdr[3])
	if nd == 0 {
		return nil, fmt.Errorf("read idx %s: zero dimensions", name)
	}
	dims := make([]int, nd)
	total := uint64(size)
	for i := range dims {
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("read idx %s: truncated header: dimension %d of %d missing", name, i+1, nd)
		}
		dims[i] = int(binary.BigEndian.Uint32(b[:]))
		total *= uint64(dims[i])
		if total > MaxIDXBytes {
			return nil, fmt.Errorf("read idx %s: dimensions %v declare more than %d bytes of data", name, dims[:i+1], MaxIDXBytes)
		}
	}
	// Read in chunks so that a lying header costs no more memory than the
	// data actually present.
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, int64(total))
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read idx %s: %w", name, err)
	}
	if uint64(n) != total {
		return nil, fmt.Errorf("read idx %s: truncated: want %d bytes of data for dimensions %v, got %d", name, total, dims, n)
	}
	return &IDX{Type: hdr[2], Dims: dims, Data: buf.Bytes()}, nil
}

// Float32s converts the values to float32.
func (x *IDX) Float32s() ([]float32, error) {
	n := x.Len()
	out := make([]float32, n)
	d := x.Data
	be := binary.BigEndian
	switch x.Type {
	case IDXUint8:
		for i := range out {
			out[i] = float32(d[i])
		}
	case IDXInt8:
		for i := range out {
			out[i] = float32(int8(d[i]))
		}
	case IDXInt16:
		for i := range out {
			out[i] = float32(int16(be.Uint16(d[2*i:])))
		}
	case IDXInt32:
		for i := range out {
			out[i] = float32(int32(be.Uint32(d[4*i:])))
		}
	case IDXFloat32:
		for i := range out {
			out[i] = math.Float32frombits(be.Uint32(d[4*i:]))
		}
	case IDXFloat64:
		for i := range out {
			out[i] = float32(math.Float64frombits(be.Uint64(d[8*i:])))
		}
	default:
		return nil, fmt.Errorf("idx: unknown element type 0x%02x", x.Type)
	}
	return out, nil
}

// EncodeIDX writes values as an uncompressed IDX stream of the given type
// (IDXUint8 or IDXFloat32) and dimensions.
func EncodeIDX(w io.Writer, typ byte, dims []int, values []float32) error {
	n := 1
	for _, d := range dims {
		n *= d
	}
	if n != len(values) || len(dims) == 0 || len(dims) > 255 {
		return fmt.Errorf("write idx: %d values for dimensions %v", len(values), dims)
	}
	bw := bufio.NewWriter(w)
	bw.Write([]byte{0, 0, typ, byte(len(dims))})
	for _, d := range dims {
		binary.Write(bw, binary.BigEndian, uint32(d))
	}
	switch typ {
	case IDXUint8:
		for _, v := range values {
			bw.WriteByte(byte(max(0, min(255, v))))
		}
	case IDXFloat32:
		for _, v := range values {
			binary.Write(bw, binary.BigEndian, math.Float32bits(v))
		}
	default:
		return fmt.Errorf("write idx: unsupported type 0x%02x", typ)
	}
	return bw.Flush()
}
