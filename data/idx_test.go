package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
)

// onlyReader hides a reader's Len and Stat, so DecodeIDX cannot tell how
// much data follows (as for a pipe).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(b []byte) (int, error) { return o.r.Read(b) }

func TestIDXRoundTripEveryType(t *testing.T) {
	cases := []struct {
		typ  byte
		vals []float32
	}{
		{IDXUint8, []float32{0, 1, 2, 127, 200, 255}},
		{IDXInt8, []float32{-128, -1, 0, 1, 100, 127}},
		{IDXInt16, []float32{-32768, -300, 0, 7, 300, 32767}},
		{IDXInt32, []float32{-2147483648, -70000, 0, 1, 70000, 1 << 24}},
		{IDXFloat32, []float32{-1.5, 0, 1e-7, 3.25, float32(math.Inf(1)), 1e30}},
		{IDXFloat64, []float32{-1.5, 0, 1e-7, 3.25, -2, 1e30}},
	}
	for _, c := range cases {
		for _, gz := range []bool{false, true} {
			b := encode(t, c.typ, []int{2, 3}, c.vals, gz)
			for _, r := range []io.Reader{bytes.NewReader(b), onlyReader{bytes.NewReader(b)}} {
				x, err := DecodeIDX(r, "mem")
				if err != nil {
					t.Fatalf("type %#x gz=%v: %v", c.typ, gz, err)
				}
				got, err := x.Float32s()
				if err != nil || x.Type != c.typ || fmt.Sprint(x.Dims) != "[2 3]" || fmt.Sprint(got) != fmt.Sprint(c.vals) {
					t.Fatalf("type %#x gz=%v: %v %v %v", c.typ, gz, x.Dims, got, err)
				}
				if len(x.Data) != 6*IDXWidth(c.typ) {
					t.Fatalf("type %#x: %d data bytes", c.typ, len(x.Data))
				}
				ints, err := x.Int32s()
				isInt := c.typ != IDXFloat32 && c.typ != IDXFloat64
				if isInt != (err == nil) {
					t.Fatalf("type %#x: Int32s error %v", c.typ, err)
				}
				for i := range ints {
					if float32(ints[i]) != c.vals[i] {
						t.Fatalf("type %#x: Int32s %v", c.typ, ints)
					}
				}
			}
		}
	}
	x, _ := NewIDX(IDXUint8, []int{3}, []float32{4, 5, 6})
	if u, err := x.Uint8s(); err != nil || fmt.Sprint(u) != "[4 5 6]" {
		t.Fatalf("Uint8s %v %v", u, err)
	}
	x, _ = NewIDX(IDXInt8, []int{1}, []float32{-4})
	if _, err := x.Uint8s(); err == nil {
		t.Fatal("Uint8s of int8 values")
	}
}

func TestIDXErrors(t *testing.T) {
	good := encode(t, IDXUint8, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}, false)
	huge := []byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "truncated header: 0 of 4 bytes"},
		{"bad magic", append([]byte{1}, good[1:]...), "bad magic 01 00"},
		{"bad type", []byte{0, 0, 0x42, 1, 0, 0, 0, 1, 0}, "unsupported element type 0x42"},
		{"zero dims", []byte{0, 0, 8, 0}, "zero dimensions"},
		{"short dims", good[:6], "dimension 1 of 2 missing"},
		{"truncated data", good[:len(good)-2], "truncated: want 6 bytes of data for dimensions [2 3], got 4"},
		{"trailing data", append(append([]byte(nil), good...), 7, 7), "2 bytes after the data"},
		{"huge header", huge, "declare more than 4294967296 bytes"},
		{"bad gzip", []byte{0x1f, 0x8b, 1, 2, 3}, "gzip"},
		{"truncated gzip", gzipBytes(good)[:20], "f.idx"},
		{"gzip trailing", gzipBytes(append(append([]byte(nil), good...), 9)), "1 bytes after the data"},
	}
	for _, c := range cases {
		for _, r := range []io.Reader{bytes.NewReader(c.b), onlyReader{bytes.NewReader(c.b)}} {
			_, err := DecodeIDX(r, "f.idx")
			wantErr(t, c.name, err, c.want, "f.idx")
		}
	}
	// A short stream is an unexpected EOF that callers can test for.
	_, err := DecodeIDX(bytes.NewReader(good[:len(good)-1]), "f.idx")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated data: %v does not wrap io.ErrUnexpectedEOF", err)
	}
	// A gzip stream cut before its trailer is refused.
	gz := encode(t, IDXUint8, []int{100}, make([]float32, 100), true)
	_, err = DecodeIDX(bytes.NewReader(gz[:len(gz)-4]), "t.gz")
	wantErr(t, "gzip without trailer", err, "t.gz")
}

// TestIDXLyingHeaderAllocatesLittle checks that a header declaring ~4 GiB
// over a few bytes of data costs an error, not the declared allocation,
// whether the reader knows its length or not, raw or gzipped.
func TestIDXLyingHeaderAllocatesLittle(t *testing.T) {
	lie := []byte{0, 0, 8, 2, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 1, 2, 3}
	for _, b := range [][]byte{lie, gzipBytes(lie)} {
		for _, r := range []io.Reader{bytes.NewReader(b), onlyReader{bytes.NewReader(b)}} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := DecodeIDX(r, "lie.idx")
			runtime.ReadMemStats(&after)
			wantErr(t, "lying header", err, "truncated: want 4294836225 bytes", "got 3")
			if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
				t.Fatalf("decoding a lying header allocated %d bytes", d)
			}
		}
	}
}

func TestReadIDXFile(t *testing.T) {
	dir := t.TempDir()
	raw := encode(t, IDXUint8, []int{4, 2}, []float32{1, 2, 3, 4, 5, 6, 7, 8}, false)
	p := filepath.Join(dir, "no-suffix-but-gzip")
	os.WriteFile(p, gzipBytes(raw), 0o644)
	x, err := ReadIDX(p)
	if err != nil || fmt.Sprint(x.Dims) != "[4 2]" {
		t.Fatalf("gzip detected by content: %v %v", x, err)
	}
	p = filepath.Join(dir, "cut.idx")
	os.WriteFile(p, raw[:len(raw)-3], 0o644)
	_, err = ReadIDX(p)
	wantErr(t, "truncated file", err, p, "truncated: want 8 bytes of data for dimensions [4 2], got 5")
	_, err = ReadIDX(filepath.Join(dir, "missing"))
	wantErr(t, "missing file", err, "missing")
}

func TestNewIDXRejectsWhatDoesNotFit(t *testing.T) {
	cases := []struct {
		typ  byte
		dims []int
		vals []float32
		want string
	}{
		{IDXUint8, []int{2}, []float32{1, 256}, "value 1 (256) does not fit"},
		{IDXUint8, []int{2}, []float32{-1, 0}, "value 0 (-1)"},
		{IDXInt16, []int{1}, []float32{1.5}, "value 0 (1.5)"},
		{IDXInt8, []int{1}, []float32{float32(math.NaN())}, "value 0 (NaN)"},
		{IDXInt32, []int{1}, []float32{1 << 31}, "does not fit"},
		{IDXUint8, []int{2, 2}, []float32{1, 2, 3}, "3 values for dimensions [2 2]"},
		{IDXUint8, nil, nil, "0 dimensions"},
		{0x42, []int{1}, []float32{1}, "unsupported element type 0x42"},
	}
	for _, c := range cases {
		_, err := NewIDX(c.typ, c.dims, c.vals)
		wantErr(t, c.want, err, c.want)
	}
	// An IDX built by hand with inconsistent fields is refused, not read
	// out of bounds.
	bad := &IDX{Type: IDXFloat32, Dims: []int{3}, Data: make([]byte, 8)}
	if _, err := bad.Float32s(); err == nil {
		t.Fatal("Float32s of 8 bytes for 3 float32 values")
	}
	if err := bad.Encode(io.Discard); err == nil {
		t.Fatal("Encode of inconsistent IDX")
	}
}

func TestWriteIDX(t *testing.T) {
	dir := t.TempDir()
	x, err := NewIDX(IDXInt16, []int{2, 2}, []float32{-3, 4, 500, -600})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.idx", "a.idx.gz"} {
		p := filepath.Join(dir, name)
		if err := WriteIDX(p, x); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o644 {
			t.Fatalf("%s: mode %v %v, want 0644", name, st.Mode(), err)
		}
		b, _ := os.ReadFile(p)
		if gz := isGzip(b); gz != (name == "a.idx.gz") {
			t.Fatalf("%s: gzip %v", name, gz)
		}
		y, err := ReadIDX(p)
		if err != nil || y.Type != x.Type || !bytes.Equal(y.Data, x.Data) || fmt.Sprint(y.Dims) != "[2 2]" {
			t.Fatalf("%s: read back %+v %v", name, y, err)
		}
	}
}

// TestWriteIDXFailures fails each filesystem operation of WriteIDX in turn:
// the target keeps its old content and no temporary file is left.
func TestWriteIDXFailures(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.idx")
	old := []byte("old")
	x, _ := NewIDX(IDXUint8, []int{1000}, make([]float32, 1000))
	count := errorfs.New(-1)
	if err := writeIDX(count, p, x); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < count.Ops(); i++ {
		os.WriteFile(p, old, 0o644)
		fs := errorfs.New(i)
		err := writeIDX(fs, p, x)
		if !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("failing %s: %v", fs.Log[i], err)
		}
		got, _ := os.ReadFile(p)
		if fs.Log[i] != "syncdir" && !bytes.Equal(got, old) {
			t.Fatalf("failing %s tore the file (%d bytes)", fs.Log[i], len(got))
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("failing %s left %d entries", fs.Log[i], len(ents))
		}
	}
}

// FuzzDecodeIDX checks that any input either fails cleanly or decodes to
// an IDX whose fields agree and which encodes back to the same stream.
func FuzzDecodeIDX(f *testing.F) {
	f.Add(encode(f, IDXUint8, []int{2, 2}, []float32{1, 2, 3, 4}, false))
	f.Add(encode(f, IDXFloat32, []int{3}, []float32{1, 2, 3}, true))
	f.Add([]byte{0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeIDX(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		if len(x.Data) != x.Len()*IDXWidth(x.Type) {
			t.Fatalf("%d data bytes for dims %v type %#x", len(x.Data), x.Dims, x.Type)
		}
		if _, err := x.Float32s(); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := x.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if !isGzip(b) && !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("re-encoding changed the stream")
		}
		y, err := DecodeIDX(&out, "again")
		if err != nil || y.Type != x.Type || !bytes.Equal(y.Data, x.Data) || fmt.Sprint(y.Dims) != fmt.Sprint(x.Dims) {
			t.Fatalf("decode(encode(x)) differs: %v", err)
		}
	})
}
