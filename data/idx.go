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
	"strings"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// IDX element types: the third byte of an IDX file.
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
const MaxIDXBytes int64 = 4 << 30

// idxReadChunk is the most DecodeIDX allocates ahead of the data it has
// read when it cannot know how much data the stream holds (gzip, pipes).
const idxReadChunk = 4 << 20

// IDXWidth returns the size in bytes of one value of element type typ, or
// 0 for an unknown type.
func IDXWidth(typ byte) int {
	switch typ {
	case IDXUint8, IDXInt8:
		return 1
	case IDXInt16:
		return 2
	case IDXInt32, IDXFloat32:
		return 4
	case IDXFloat64:
		return 8
	}
	return 0
}

// IDX is a decoded IDX file: its element type, dimensions and the values as
// stored (big-endian, row-major). len(Data) is always Len() × IDXWidth(Type).
type IDX struct {
	Type byte
	Dims []int
	Data []byte
}

// Len returns the number of values: the product of the dimensions.
func (x *IDX) Len() int {
	n := 1
	for _, d := range x.Dims {
		n *= d
	}
	return n
}

// ReadIDX reads an IDX file, gzip-compressed or not (told by its first two
// bytes, 1f 8b, not by its name). Errors name the file.
func ReadIDX(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read idx: %w", err)
	}
	defer f.Close()
	return DecodeIDX(f, path)
}

// DecodeIDX decodes one IDX stream, gunzipping it when it starts with the
// gzip magic; name is used in errors. The header must be well formed
// (magic 00 00, a known type, at least one dimension), the declared data
// must fit MaxIDXBytes and be present in full, and nothing may follow it.
// A stream that ends early gives an error wrapping io.ErrUnexpectedEOF.
//
// When r can tell how many bytes it holds (an *os.File, *bytes.Reader,
// *strings.Reader), an uncompressed stream is checked against that before
// anything is allocated.
func DecodeIDX(r io.Reader, name string) (*IDX, error) {
	remain := remaining(r)
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read idx %s: gzip: %w", name, err)
		}
		defer zr.Close()
		x, err := decodeIDX(zr, name, -1)
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
	x, err := decodeIDX(br, name, remain)
	if err != nil {
		return nil, err
	}
	if n, _ := io.Copy(io.Discard, br); n > 0 {
		return nil, fmt.Errorf("read idx %s: %d bytes after the data its dimensions %v declare", name, n, x.Dims)
	}
	return x, nil
}

// remaining returns how many bytes r has left to read, or -1 when it
// cannot tell.
func remaining(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		return int64(v.Len())
	case *os.File:
		st, err := v.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return -1
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return st.Size() - pos
	}
	return -1
}

// decodeIDX reads the header and data from r; remain is how many bytes r
// holds, or -1 when unknown.
func decodeIDX(r io.Reader, name string, remain int64) (*IDX, error) {
	var hdr [4]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read idx %s: truncated header: %d of 4 bytes: %w", name, n, io.ErrUnexpectedEOF)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, fmt.Errorf("read idx %s: bad magic %02x %02x, want 00 00 (not an IDX file)", name, hdr[0], hdr[1])
	}
	width := IDXWidth(hdr[2])
	if width == 0 {
		return nil, fmt.Errorf("read idx %s: unsupported element type 0x%02x (want 08, 09, 0B, 0C, 0D or 0E)", name, hdr[2])
	}
	nd := int(hdr[3])
	if nd == 0 {
		return nil, fmt.Errorf("read idx %s: zero dimensions in the header", name)
	}
	dims := make([]int, nd)
	total := int64(width)
	var b [4]byte
	for i := range dims {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("read idx %s: truncated header: dimension %d of %d missing: %w", name, i+1, nd, io.ErrUnexpectedEOF)
		}
		dims[i] = int(binary.BigEndian.Uint32(b[:]))
		// Compare before multiplying, so that the product cannot overflow.
		if d := int64(dims[i]); d != 0 && total > MaxIDXBytes/d {
			return nil, fmt.Errorf("read idx %s: dimensions %v declare more than %d bytes of data", name, dims[:i+1], MaxIDXBytes)
		}
		total *= int64(dims[i])
	}
	if remain >= 0 {
		have := remain - 4 - 4*int64(nd)
		if have < total {
			return nil, fmt.Errorf("read idx %s: truncated: want %d bytes of data for dimensions %v, got %d: %w", name, total, dims, have, io.ErrUnexpectedEOF)
		}
		data := make([]byte, total)
		if n, err := io.ReadFull(r, data); err != nil {
			return nil, fmt.Errorf("read idx %s: truncated: want %d bytes of data for dimensions %v, got %d: %w", name, total, dims, n, io.ErrUnexpectedEOF)
		}
		return &IDX{Type: hdr[2], Dims: dims, Data: data}, nil
	}
	// The stream's length is unknown: grow the buffer as data arrives, so a
	// lying header costs no more memory than the data actually present.
	var buf bytes.Buffer
	buf.Grow(int(min(total, idxReadChunk)))
	n, err := io.CopyN(&buf, r, total)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read idx %s: after %d of %d bytes of data: %w", name, n, total, err)
	}
	if n != total {
		return nil, fmt.Errorf("read idx %s: truncated: want %d bytes of data for dimensions %v, got %d: %w", name, total, dims, n, io.ErrUnexpectedEOF)
	}
	return &IDX{Type: hdr[2], Dims: dims, Data: buf.Bytes()}, nil
}

// Float32s converts the values to float32 (int32 and float64 values lose
// precision beyond float32's 24-bit mantissa).
func (x *IDX) Float32s() ([]float32, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	out := make([]float32, x.Len())
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
	}
	return out, nil
}

// Uint8s returns the values of a uint8 file. The slice is x.Data itself,
// not a copy.
func (x *IDX) Uint8s() ([]uint8, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	if x.Type != IDXUint8 {
		return nil, fmt.Errorf("idx: values are of type 0x%02x, not uint8 (0x08)", x.Type)
	}
	return x.Data, nil
}

// Int32s returns the values of an integer file (uint8, int8, int16 or
// int32) as int32.
func (x *IDX) Int32s() ([]int32, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	out := make([]int32, x.Len())
	d := x.Data
	be := binary.BigEndian
	switch x.Type {
	case IDXUint8:
		for i := range out {
			out[i] = int32(d[i])
		}
	case IDXInt8:
		for i := range out {
			out[i] = int32(int8(d[i]))
		}
	case IDXInt16:
		for i := range out {
			out[i] = int32(int16(be.Uint16(d[2*i:])))
		}
	case IDXInt32:
		for i := range out {
			out[i] = int32(be.Uint32(d[4*i:]))
		}
	default:
		return nil, fmt.Errorf("idx: values are of type 0x%02x, not an integer type", x.Type)
	}
	return out, nil
}

// check reports an IDX whose fields disagree (one built by hand).
func (x *IDX) check() error {
	w := IDXWidth(x.Type)
	if w == 0 {
		return fmt.Errorf("idx: unsupported element type 0x%02x", x.Type)
	}
	if len(x.Dims) == 0 || len(x.Dims) > 255 {
		return fmt.Errorf("idx: %d dimensions, want 1 to 255", len(x.Dims))
	}
	total := int64(w)
	for _, d := range x.Dims {
		if d < 0 || d > math.MaxUint32 {
			return fmt.Errorf("idx: dimension %d outside 0..2³²-1 in %v", d, x.Dims)
		}
		if d != 0 && total > MaxIDXBytes/int64(d) {
			return fmt.Errorf("idx: dimensions %v exceed %d bytes", x.Dims, MaxIDXBytes)
		}
		total *= int64(d)
	}
	if int64(len(x.Data)) != total {
		return fmt.Errorf("idx: %d bytes of data for dimensions %v of %d-byte values, want %d", len(x.Data), x.Dims, w, total)
	}
	return nil
}

// NewIDX builds an IDX of element type typ and dimensions dims from
// values. Integer types take only values they hold exactly (an integer in
// the type's range); a value that does not fit is an error naming its
// position, never silently rounded or clamped.
func NewIDX(typ byte, dims []int, values []float32) (*IDX, error) {
	w := IDXWidth(typ)
	if w == 0 {
		return nil, fmt.Errorf("new idx: unsupported element type 0x%02x", typ)
	}
	x := &IDX{Type: typ, Dims: append([]int(nil), dims...)}
	if len(dims) == 0 || len(dims) > 255 {
		return nil, fmt.Errorf("new idx: %d dimensions, want 1 to 255", len(dims))
	}
	if n := x.Len(); n != len(values) {
		return nil, fmt.Errorf("new idx: %d values for dimensions %v (%d values)", len(values), dims, n)
	}
	lo, hi := intRange(typ)
	x.Data = make([]byte, len(values)*w)
	be := binary.BigEndian
	for i, v := range values {
		if typ != IDXFloat32 && typ != IDXFloat64 && (v != float32(math.Trunc(float64(v))) || float64(v) < lo || float64(v) > hi) {
			return nil, fmt.Errorf("new idx: value %d (%v) does not fit type 0x%02x (integers %v..%v)", i, v, typ, lo, hi)
		}
		switch typ {
		case IDXUint8:
			x.Data[i] = uint8(v)
		case IDXInt8:
			x.Data[i] = byte(int8(v))
		case IDXInt16:
			be.PutUint16(x.Data[2*i:], uint16(int16(v)))
		case IDXInt32:
			be.PutUint32(x.Data[4*i:], uint32(int32(v)))
		case IDXFloat32:
			be.PutUint32(x.Data[4*i:], math.Float32bits(v))
		case IDXFloat64:
			be.PutUint64(x.Data[8*i:], math.Float64bits(float64(v)))
		}
	}
	if err := x.check(); err != nil {
		return nil, fmt.Errorf("new %w", err)
	}
	return x, nil
}

// intRange returns the range of an integer element type.
func intRange(typ byte) (lo, hi float64) {
	switch typ {
	case IDXUint8:
		return 0, math.MaxUint8
	case IDXInt8:
		return math.MinInt8, math.MaxInt8
	case IDXInt16:
		return math.MinInt16, math.MaxInt16
	case IDXInt32:
		// float32 holds every integer up to 2²⁴ exactly, and the largest
		// float32 below 2³¹ is 2³¹-128.
		return math.MinInt32, math.MaxInt32 - 127
	}
	return math.Inf(-1), math.Inf(1)
}

// Encode writes x as an uncompressed IDX stream.
func (x *IDX) Encode(w io.Writer) error {
	if err := x.check(); err != nil {
		return fmt.Errorf("write %w", err)
	}
	hdr := make([]byte, 4+4*len(x.Dims))
	hdr[2], hdr[3] = x.Type, byte(len(x.Dims))
	for i, d := range x.Dims {
		binary.BigEndian.PutUint32(hdr[4+4*i:], uint32(d))
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write idx: %w", err)
	}
	if _, err := w.Write(x.Data); err != nil {
		return fmt.Errorf("write idx: %w", err)
	}
	return nil
}

// EncodeIDX writes values as an uncompressed IDX stream of element type
// typ and dimensions dims, under NewIDX's rules.
func EncodeIDX(w io.Writer, typ byte, dims []int, values []float32) error {
	x, err := NewIDX(typ, dims, values)
	if err != nil {
		return err
	}
	return x.Encode(w)
}

// WriteIDX writes x to path atomically (a synced temporary file renamed
// into place), gzip-compressed when path ends in ".gz".
func WriteIDX(path string, x *IDX) error {
	return writeIDX(vfs.OS, path, x)
}

func writeIDX(fs vfs.FS, path string, x *IDX) error {
	var buf bytes.Buffer
	if strings.HasSuffix(path, ".gz") {
		zw := gzip.NewWriter(&buf)
		if err := x.Encode(zw); err != nil {
			return fmt.Errorf("write idx %s: %w", path, err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("write idx %s: %w", path, err)
		}
	} else if err := x.Encode(&buf); err != nil {
		return fmt.Errorf("write idx %s: %w", path, err)
	}
	if err := vfs.WriteFileAtomic(fs, path, buf.Bytes()); err != nil {
		return fmt.Errorf("write idx %s: %w", path, err)
	}
	return nil
}
