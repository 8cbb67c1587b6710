package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample() []Tensor {
	return []Tensor{
		F32("0.weight", []float32{1, -2, 3.5, 4, 5, 6}, 2, 3),
		F32("0.bias", []float32{0.25, -0.5}, 2),
		I64("labels", []int64{3, -1, 7}, 3),
		F32("scalar", []float32{42}),
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	meta := map[string]string{"model": "mlp"}
	if err := Write(&buf, sample(), meta); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if hl := binary.LittleEndian.Uint64(b); hl%8 != 0 {
		t.Fatalf("header length %d not padded to 8", hl)
	}
	f, err := Decode(b, "mem")
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["model"] != "mlp" {
		t.Fatalf("metadata %v", f.Metadata)
	}
	if got := f.Names(); got != "0.weight, 0.bias, labels, scalar" {
		t.Fatalf("order %q", got)
	}
	w, _ := f.Get("0.weight").Float32s()
	if w[2] != 3.5 || len(w) != 6 {
		t.Fatalf("weights %v", w)
	}
	l, _ := f.Get("labels").Float32s()
	if l[1] != -1 || l[2] != 7 {
		t.Fatalf("labels %v", l)
	}
	if s := f.Get("scalar"); len(s.Shape) != 0 || s.Numel() != 1 {
		t.Fatalf("scalar shape %v", s.Shape)
	}
}

// TestReadsForeignFile decodes bytes laid out by hand the way the reference
// Python implementation writes them (sorted keys, metadata first).
func TestReadsForeignFile(t *testing.T) {
	hdr := `{"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}`
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(len(hdr)))
	buf.WriteString(hdr)
	buf.Write([]byte{0x00, 0x3c, 0x00, 0xc0}) // F16 1.0, -2.0
	buf.Write([]byte{0x80, 0x3f})             // BF16 1.0
	f, err := Decode(buf.Bytes(), "foreign")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Get("a").Float32s()
	b, _ := f.Get("b").Float32s()
	if a[0] != 1 || a[1] != -2 || b[0] != 1 {
		t.Fatalf("a=%v b=%v", a, b)
	}
}

func TestCorruptFiles(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample(), nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	hl := int(binary.LittleEndian.Uint64(good))
	mk := func(hdr string, data int) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
		b.WriteString(hdr)
		b.Write(make([]byte, data))
		return b.Bytes()
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"short header", good[:8+hl/2], "truncated"},
		{"truncated data", good[:len(good)-3], "outside"},
		{"trailing data", append(append([]byte{}, good...), 1, 2, 3, 4), "after the last tensor"},
		{"huge header", func() []byte { b := make([]byte, 16); binary.LittleEndian.PutUint64(b, 1<<40); return b }(), "exceeds"},
		{"not json", mk("not json", 0), "does not start"},
		{"bad json", mk("{\"a\":", 0), "not a JSON object"},
		{"unknown dtype", mk(`{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}`, 1), "unknown dtype"},
		{"size mismatch", mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8 bytes"},
		{"negative shape", mk(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "invalid shape"},
		{"gap", mk(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), "gap"},
		{"overlap", mk(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), "overlaps"},
		{"extra field", mk(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1), "bad entry"},
		{"bad metadata", mk(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
	}
	for _, c := range cases {
		_, err := Decode(c.b, "w.safetensors")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "w.safetensors") {
			t.Errorf("%s: error %v, want one naming the file and containing %q", c.name, err, c.want)
		}
	}
}

func TestWriteRejectsBadTensors(t *testing.T) {
	bad := [][]Tensor{
		{{Name: "a", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}},
		{{Name: "a", DType: "X", Shape: []int{1}, Data: make([]byte, 4)}},
		{F32("a", []float32{1}, 1), F32("a", []float32{1}, 1)},
		{F32("__metadata__", []float32{1}, 1)},
	}
	for i, ts := range bad {
		if err := Write(&bytes.Buffer{}, ts, nil); err == nil {
			t.Errorf("case %d: write succeeded", i)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := WriteFile(path, sample(), nil); err != nil {
		t.Fatal(err)
	}
	// A failing write (invalid tensor) leaves the old file and no temporary.
	if err := WriteFile(path, []Tensor{{Name: "x", DType: "F32", Shape: []int{3}}}, nil); err == nil {
		t.Fatal("invalid write succeeded")
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatalf("old file damaged: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries after a failed write, want 1", len(ents))
	}
}

func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, sample(), map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add([]byte{})
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b, "fuzz")
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same tensors.
		var out bytes.Buffer
		if err := Write(&out, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Decode(out.Bytes(), "again")
		if err != nil {
			t.Fatalf("decode of re-encoded file: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors, then %d", len(file.Tensors), len(again.Tensors))
		}
		for _, tt := range file.Tensors {
			if _, err := tt.Float32s(); err != nil && tt.DType != "U16" && tt.DType != "U32" && tt.DType != "U64" {
				t.Fatalf("convert %s: %v", tt.DType, err)
			}
		}
	})
}
