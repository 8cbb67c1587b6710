package label

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// matrixMagic opens every label matrix file; its last byte is the format
// version.
var matrixMagic = [8]byte{'K', 'I', 'L', 'N', 'L', 'M', 0, 1}

const (
	flagMultiLabel = 1 << 0
	flagClasses    = 1 << 1
	matrixHeader   = 32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode writes m in the label matrix format described in the package
// documentation.
func (m *Matrix) Encode(w io.Writer) error {
	if err := m.Validate(); err != nil {
		return err
	}
	var buf bytes.Buffer
	var hdr [matrixHeader]byte
	copy(hdr[:8], matrixMagic[:])
	binary.LittleEndian.PutUint64(hdr[8:], uint64(m.N))
	binary.LittleEndian.PutUint32(hdr[16:], uint32(m.M))
	binary.LittleEndian.PutUint32(hdr[20:], uint32(m.K))
	if m.Tasks != nil {
		hdr[24] |= flagMultiLabel
	}
	if m.Classes != nil {
		hdr[24] |= flagClasses
	}
	buf.Write(hdr[:])
	var tmp [binary.MaxVarintLen64]byte
	uv := func(x uint64) { buf.Write(tmp[:binary.PutUvarint(tmp[:], x)]) }
	str := func(s string) { uv(uint64(len(s))); buf.WriteString(s) }
	for _, s := range m.Names {
		str(s)
	}
	for _, s := range m.Classes {
		str(s)
	}
	for _, t := range m.Tasks {
		uv(uint64(t))
	}
	for i := 0; i < m.N; i++ {
		cols, votes := m.Row(i)
		uv(uint64(len(cols)))
		prev := int32(-1)
		for e, c := range cols {
			uv(uint64(c - prev - 1))
			uv(uint64(votes[e]))
			prev = c
		}
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], crc32.Checksum(buf.Bytes(), castagnoli))
	buf.Write(sum[:])
	_, err := w.Write(buf.Bytes())
	return err
}

// Save writes m to path atomically: a reader sees the old file or the whole
// new one, never a torn write.
func (m *Matrix) Save(path string) error { return saveMatrix(vfs.OS, path, m) }

func saveMatrix(fs vfs.FS, path string, m *Matrix) error {
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		return fmt.Errorf("save label matrix %s: %w", path, err)
	}
	if err := vfs.WriteFileAtomic(fs, path, buf.Bytes()); err != nil {
		return fmt.Errorf("save label matrix %s: %w", path, err)
	}
	return nil
}

// LoadMatrix reads a label matrix written by Save.
func LoadMatrix(path string) (*Matrix, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load label matrix: %w", err)
	}
	m, err := DecodeMatrix(b)
	if err != nil {
		return nil, fmt.Errorf("load label matrix %s: %w", path, err)
	}
	return m, nil
}

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("corrupt label matrix")

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", errCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uvarint(limit uint64, what string) uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint for %s", what)
		return 0
	}
	if x > limit {
		d.fail("%s %d exceeds %d", what, x, limit)
		return 0
	}
	d.off += n
	return x
}

func (d *decoder) str(what string) string {
	n := d.uvarint(uint64(len(d.b)-d.off), what+" length")
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}

// DecodeMatrix parses a label matrix from b, checking its checksum, shape
// and every vote.
func DecodeMatrix(b []byte) (*Matrix, error) {
	if len(b) < matrixHeader+4 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", errCorrupt, len(b))
	}
	if !bytes.Equal(b[:8], matrixMagic[:]) {
		return nil, fmt.Errorf("%w: bad magic % x (want % x)", errCorrupt, b[:8], matrixMagic[:])
	}
	body := b[:len(b)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, stored %08x", errCorrupt, got, want)
	}
	n := binary.LittleEndian.Uint64(body[8:])
	mm := binary.LittleEndian.Uint32(body[16:])
	k := binary.LittleEndian.Uint32(body[20:])
	flags := body[24]
	for _, r := range body[25:matrixHeader] {
		if r != 0 {
			return nil, fmt.Errorf("%w: reserved header bytes are not zero", errCorrupt)
		}
	}
	rest := uint64(len(body) - matrixHeader)
	// Every row takes at least one byte and every name one byte, which
	// bounds what a hostile header can make us allocate.
	if n > rest || uint64(mm) > rest || k < 1 || k > MaxClasses || flags&^(flagMultiLabel|flagClasses) != 0 {
		return nil, fmt.Errorf("%w: header %d rows, %d functions, %d classes, flags %#x do not fit %d bytes", errCorrupt, n, mm, k, flags, len(b))
	}
	m := &Matrix{N: int(n), M: int(mm), K: int(k)}
	d := &decoder{b: body, off: matrixHeader}
	m.Names = make([]string, m.M)
	for j := range m.Names {
		m.Names[j] = d.str("name")
	}
	if flags&flagClasses != 0 {
		m.Classes = make([]string, m.K)
		for c := range m.Classes {
			m.Classes[c] = d.str("class name")
		}
	}
	if flags&flagMultiLabel != 0 {
		m.Tasks = make([]int, m.M)
		for j := range m.Tasks {
			m.Tasks[j] = int(d.uvarint(uint64(m.K-1), "task"))
		}
	}
	hi := uint64(m.K - 1)
	if m.Tasks != nil {
		hi = 1
	}
	m.RowPtr = make([]int64, 1, m.N+1)
	for i := 0; i < m.N && d.err == nil; i++ {
		cnt := d.uvarint(uint64(m.M), "row length")
		prev := int64(-1)
		for e := uint64(0); e < cnt && d.err == nil; e++ {
			c := prev + 1 + int64(d.uvarint(math.MaxInt32, "column gap"))
			if c >= int64(m.M) {
				d.fail("row %d: labeling function %d of %d", i, c, m.M)
			}
			v := d.uvarint(hi, "vote")
			m.Cols = append(m.Cols, int32(c))
			m.Votes = append(m.Votes, int16(v))
			prev = c
		}
		m.RowPtr = append(m.RowPtr, int64(len(m.Cols)))
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(body) {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(body)-d.off)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return m, nil
}
