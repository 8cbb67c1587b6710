package label

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/internal/vfs/errorfs"
)

func testMatrix(t *testing.T) *Matrix {
	t.Helper()
	L, err := FromDense([][]int{
		{0, -1, 1},
		{-1, -1, -1},
		{1, 1, 1},
		{2, -1, 0},
	}, 3, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	L.Classes = []string{"x", "y", "z"}
	return L
}

func TestMatrixDenseRoundTrip(t *testing.T) {
	L := testMatrix(t)
	want := [][]int{{0, -1, 1}, {-1, -1, -1}, {1, 1, 1}, {2, -1, 0}}
	if got := L.Dense(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Dense = %v, want %v", got, want)
	}
	if L.NNZ() != 7 || !reflect.DeepEqual(L.CoveredRows(), []int{0, 2, 3}) {
		t.Fatalf("nnz %d, covered %v", L.NNZ(), L.CoveredRows())
	}
	sub := L.SelectLFs([]int{0, 2})
	if got := sub.Dense(); !reflect.DeepEqual(got, [][]int{{0, 1}, {-1, -1}, {1, 1}, {2, 0}}) {
		t.Fatalf("SelectLFs = %v", got)
	}
	both, err := Concat(L, L.SelectRows([]int{3, 0}))
	if err != nil {
		t.Fatal(err)
	}
	if got := both.Dense(); !reflect.DeepEqual(got, append(want, want[3], want[0])) {
		t.Fatalf("Concat = %v", got)
	}
}

func TestMatrixVoteOutsideClasses(t *testing.T) {
	_, err := FromDense([][]int{{0, 3}}, 2, []string{"a", "b"})
	if err == nil || !strings.Contains(err.Error(), `"b" voted 3`) {
		t.Fatalf("FromDense with a vote of 3 for 2 classes: %v", err)
	}
	L := testMatrix(t)
	L.Votes[0] = 5
	if err := L.Validate(); err == nil || !strings.Contains(err.Error(), "outside the classes") {
		t.Fatalf("Validate: %v", err)
	}
}

func TestMatrixEncodeDecode(t *testing.T) {
	for _, L := range []*Matrix{testMatrix(t), {N: 0, M: 0, K: 2, Names: []string{}, RowPtr: []int64{0}}} {
		var buf bytes.Buffer
		if err := L.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeMatrix(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Dense(), L.Dense()) || !reflect.DeepEqual(got.Names, L.Names) || !reflect.DeepEqual(got.Classes, L.Classes) {
			t.Fatalf("round trip changed the matrix: %+v vs %+v", got, L)
		}
	}
	ml := testMatrix(t).SelectLFs([]int{0, 1})
	ml.Tasks = []int{2, 0}
	ml.Votes = []int16{0, 1, 1, 1}
	var buf bytes.Buffer
	if err := ml.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMatrix(buf.Bytes())
	if err != nil || !reflect.DeepEqual(got.Tasks, []int{2, 0}) {
		t.Fatalf("multi-label round trip: %v, tasks %v", err, got.Tasks)
	}
	// Every single-byte corruption is caught (by the checksum at least).
	b := buf.Bytes()
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x5a
		if _, err := DecodeMatrix(c); !errors.Is(err, errCorrupt) {
			t.Fatalf("byte %d flipped: err %v", i, err)
		}
	}
	if _, err := DecodeMatrix(b[:len(b)-1]); err == nil {
		t.Fatal("truncated file decoded")
	}
}

// TestMatrixSaveFailsHalfWay walks the atomic write through every failure
// point: the old file must survive intact and no temporary may be left.
func TestMatrixSaveFailsHalfWay(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "L.klm")
	old := testMatrix(t).SelectRows([]int{0})
	if err := old.Save(path); err != nil {
		t.Fatal(err)
	}
	oldBytes, _ := os.ReadFile(path)
	L := testMatrix(t)
	for fail := 0; ; fail++ {
		fs := errorfs.New(fail)
		err := saveMatrix(fs, path, L)
		if err == nil {
			if fail == 0 {
				t.Fatal("no operation was counted")
			}
			break
		}
		if !errors.Is(err, errorfs.ErrInjected) {
			t.Fatalf("fail at %d: unexpected error %v", fail, err)
		}
		got, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatal(rerr)
		}
		// The rename is the commit point: a failure after it (the
		// directory sync) leaves the new file; before it, the old one.
		if _, derr := DecodeMatrix(got); derr != nil || (!bytes.Equal(got, oldBytes) && !strings.Contains(err.Error(), "sync")) {
			t.Fatalf("fail at %d (%v): file torn or changed", fail, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("fail at %d: %d files left in the directory", fail, len(entries))
		}
	}
	back, err := LoadMatrix(path)
	if err != nil || !reflect.DeepEqual(back.Dense(), L.Dense()) {
		t.Fatalf("after a clean save: %v", err)
	}
}

func FuzzDecodeMatrix(f *testing.F) {
	var buf bytes.Buffer
	L, _ := FromDense([][]int{{0, -1, 1}, {-1, -1, -1}, {1, 1, 0}}, 2, nil)
	L.Encode(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("KILNLM\x00\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMatrix(b)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded an invalid matrix: %v", err)
		}
		var out bytes.Buffer
		if err := m.Encode(&out); err != nil {
			t.Fatal(err)
		}
		again, err := DecodeMatrix(out.Bytes())
		if err != nil || !reflect.DeepEqual(again.Dense(), m.Dense()) {
			t.Fatalf("re-encoding changed the matrix: %v", err)
		}
	})
}
