package safetensors

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readerPy is an independent safetensors reader written from the format's
// description in Python's standard library; it prints each tensor's name,
// dtype, shape and values.
const readerPy = `
import json, struct, sys, array
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
hdr = json.loads(b[8:8 + n])
meta = hdr.pop("__metadata__", {})
data = b[8 + n:]
for name in sorted(hdr):
    e = hdr[name]
    lo, hi = e["data_offsets"]
    code = {"F32": "f", "I64": "q"}[e["dtype"]]
    vals = array.array(code, data[lo:hi])
    print(name, e["dtype"], e["shape"], " ".join(repr(v) for v in vals))
print("meta", json.dumps(meta, sort_keys=True))
`

// TestReadableByAnotherReader writes a file with Kiln and reads it back
// with an independent Python reader in a child process.
func TestReadableByAnotherReader(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed; skipping the cross-reader check")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := WriteFile(path, sample(), map[string]string{"model": "mlp"}); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "read.py")
	os.WriteFile(script, []byte(readerPy), 0o644)
	out, err := exec.Command(py, script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python reader failed: %v\n%s", err, out)
	}
	want := strings.Join([]string{
		"0.bias F32 [2] 0.25 -0.5",
		"0.weight F32 [2, 3] 1.0 -2.0 3.5 4.0 5.0 6.0",
		"labels I64 [3] 3 -1 7",
		"scalar F32 [] 42.0",
		`meta {"model": "mlp"}`,
	}, "\n")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("python reader saw\n%s\nwant\n%s", got, want)
	}
}
