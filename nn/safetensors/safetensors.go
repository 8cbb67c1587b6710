// Package safetensors reads and writes the safetensors weight format used by
// Hugging Face and PyTorch tooling, written from its specification:
//
//	+----------------+------------------------------+----------------------+
//	| N (8 bytes,    | header: N bytes of UTF-8     | data: the tensors'   |
//	| little-endian  | JSON, padded with spaces     | raw little-endian    |
//	| uint64)        |                              | bytes, back to back  |
//	+----------------+------------------------------+----------------------+
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets":
// [begin, end]}, offsets counted from the first byte of the data section;
// the optional key "__metadata__" maps strings to strings. The tensors must
// cover the data section exactly, without gaps or overlaps.
//
// The reader trusts nothing in the file: the header length is checked
// against the file size and a cap, every offset against the data size and
// the tensor's shape and dtype, so a corrupt or truncated file gives an
// error naming what is wrong rather than a panic or a huge allocation.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// MaxHeader is the largest header the reader accepts (100 MB, as the
// reference implementation).
const MaxHeader = 100 << 20

// Tensor is one named tensor of a file: its dtype ("F32", "F64", "F16",
// "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"), shape and raw
// little-endian bytes.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// File is the content of a safetensors file, tensors in data order.
type File struct {
	Tensors  []Tensor
	Metadata map[string]string
}

var dtypeSize = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
	"U16": 2, "U32": 4, "U64": 8,
}

// Get returns the tensor called name, or nil.
func (f *File) Get(name string) *Tensor {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i]
		}
	}
	return nil
}

// Numel returns the number of elements the shape holds.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32s converts the tensor's values to float32, whatever its numeric
// dtype.
func (t *Tensor) Float32s() ([]float32, error) {
	n := t.Numel()
	out := make([]float32, n)
	d := t.Data
	le := binary.LittleEndian
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(d[4*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(d[8*i:])))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(d[2*i:])) << 16)
		}
	case "F16":
		for i := range out {
			out[i] = half(le.Uint16(d[2*i:]))
		}
	case "I64":
		for i := range out {
			out[i] = float32(int64(le.Uint64(d[8*i:])))
		}
	case "I32":
		for i := range out {
			out[i] = float32(int32(le.Uint32(d[4*i:])))
		}
	case "I8":
		for i := range out {
			out[i] = float32(int8(d[i]))
		}
	case "U8", "BOOL":
		for i := range out {
			out[i] = float32(d[i])
		}
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: cannot convert dtype %s to float32", t.Name, t.DType)
	}
	return out, nil
}

// half converts an IEEE 754 binary16 value to float32.
func half(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / 1024 / 16384
		if sign != 0 {
			return -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// F32 returns a Tensor of dtype F32 holding values with the given shape.
func F32(name string, values []float32, shape ...int) Tensor {
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: "F32", Shape: append([]int{}, shape...), Data: b}
}

// I64 returns a Tensor of dtype I64.
func I64(name string, values []int64, shape ...int) Tensor {
	b := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: "I64", Shape: append([]int{}, shape...), Data: b}
}

type entry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// Write encodes tensors (in the given order) and metadata to w.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := make(map[string]any, len(tensors)+1)
	off := 0
	for _, t := range tensors {
		size, ok := dtypeSize[t.DType]
		if !ok {
			return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		if t.Name == "__metadata__" || t.Name == "" {
			return fmt.Errorf("safetensors: invalid tensor name %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		if want := t.Numel() * size; want != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes, have %d", t.Name, t.Shape, t.DType, want, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = entry{DType: t.DType, Shape: shape, DataOffsets: [2]int{off, off + len(t.Data)}}
		off += len(t.Data)
	}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: encode header: %w", err)
	}
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, bytes.Repeat([]byte{' '}, pad)...)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(js)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// Decode parses a whole safetensors file held in b; name is used in errors.
// The returned tensors' Data alias b.
func Decode(b []byte, name string) (*File, error) {
	fail := func(format string, args ...any) (*File, error) {
		return nil, fmt.Errorf("safetensors %s: %s", name, fmt.Sprintf(format, args...))
	}
	if len(b) < 8 {
		return fail("truncated: %d bytes, want at least 8 for the header length", len(b))
	}
	hl := binary.LittleEndian.Uint64(b)
	if hl > MaxHeader {
		return fail("header length %d exceeds the %d-byte limit", hl, MaxHeader)
	}
	if hl > uint64(len(b)-8) {
		return fail("truncated: header length %d but only %d bytes follow", hl, len(b)-8)
	}
	hdr := b[8 : 8+hl]
	if len(bytes.TrimSpace(hdr)) == 0 || hdr[0] != '{' {
		return fail("header does not start with '{'")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return fail("header is not a JSON object: %v", err)
	}
	data := b[8+hl:]
	f := &File{}
	type span struct {
		begin, end int
		name       string
	}
	var spans []span
	for key, msg := range raw {
		if key == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return fail("__metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		var e entry
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return fail("tensor %q: bad entry: %v", key, err)
		}
		size, ok := dtypeSize[e.DType]
		if !ok {
			return fail("tensor %q: unknown dtype %q", key, e.DType)
		}
		n := 1
		for _, dim := range e.Shape {
			if dim < 0 || (dim > 0 && n > math.MaxInt32/dim) {
				return fail("tensor %q: invalid shape %v", key, e.Shape)
			}
			n *= dim
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > len(data) {
			return fail("tensor %q: offsets [%d, %d] outside the %d-byte data section", key, begin, end, len(data))
		}
		if end-begin != n*size {
			return fail("tensor %q: shape %v of %s needs %d bytes, offsets give %d", key, e.Shape, e.DType, n*size, end-begin)
		}
		f.Tensors = append(f.Tensors, Tensor{Name: key, DType: e.DType, Shape: e.Shape, Data: data[begin:end:end]})
		spans = append(spans, span{begin, end, key})
	}
	sort.Slice(spans, func(i, j int) bool {
		return spans[i].begin < spans[j].begin || spans[i].begin == spans[j].begin && spans[i].end < spans[j].end
	})
	pos := 0
	for _, s := range spans {
		if s.begin != pos {
			if s.begin < pos {
				return fail("tensor %q overlaps the tensor before it", s.name)
			}
			return fail("gap in the data section before tensor %q (bytes %d to %d)", s.name, pos, s.begin)
		}
		pos = s.end
	}
	if pos != len(data) {
		return fail("%d bytes of data after the last tensor", len(data)-pos)
	}
	begin := make(map[string]int, len(spans))
	for _, s := range spans {
		begin[s.name] = s.begin
	}
	sort.SliceStable(f.Tensors, func(i, j int) bool {
		bi, bj := begin[f.Tensors[i].Name], begin[f.Tensors[j].Name]
		if bi != bj {
			return bi < bj
		}
		return len(f.Tensors[i].Data) < len(f.Tensors[j].Data) // empty tensors first
	})
	return f, nil
}

// ReadFile reads and decodes the safetensors file at path.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return Decode(b, path)
}

// WriteFile writes tensors to path atomically: into a temporary file in the
// same directory, synced, then renamed over path, so that a reader never sees
// a half-written file and a failure leaves the old file intact.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return WriteFileFS(vfs.OS, path, tensors, metadata)
}

// WriteFileFS is WriteFile on the given filesystem.
func WriteFileFS(fs vfs.FS, path string, tensors []Tensor, metadata map[string]string) error {
	var buf bytes.Buffer
	if err := Write(&buf, tensors, metadata); err != nil {
		return err
	}
	if err := vfs.WriteFileAtomic(fs, path, buf.Bytes()); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	return nil
}

// Names returns the tensor names in data order, for messages.
func (f *File) Names() string {
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}
