package validate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// CSVOptions say how CSV files are read. The zero value reads RFC 4180
// files with a header row, comma-separated, where an empty field is
// missing.
type CSVOptions struct {
	// Comma separates fields (default ',').
	Comma Char `yaml:"comma,omitempty" json:"comma,omitempty"`
	// Comment, when not 0, starts a line that is skipped.
	Comment Char `yaml:"comment,omitempty" json:"comment,omitempty"`
	// TrimLeadingSpace drops spaces and tabs at the start of each field
	// (for "a, b" files such as UCI Adult).
	TrimLeadingSpace bool `yaml:"trim_leading_space,omitempty" json:"trim_leading_space,omitempty"`
	// Columns, when set, names the columns of files without a header row.
	Columns []string `yaml:"columns,omitempty" json:"columns,omitempty"`
	// Nulls lists field values that mean missing besides the empty field
	// (for example "?" or "NA").
	Nulls []string `yaml:"nulls,omitempty" json:"nulls,omitempty"`
	// MaxRecordBytes bounds one record (default 16 MiB); a longer one is
	// an error naming its line.
	MaxRecordBytes int `yaml:"max_record_bytes,omitempty" json:"max_record_bytes,omitempty"`
}

const defaultMaxRecord = 16 << 20

// Char is one ASCII character, written in YAML and JSON as a
// one-character string ("|", not 124).
type Char byte

// MarshalYAML writes the character as a string.
func (c Char) MarshalYAML() (any, error) { return string(rune(c)), nil }

// UnmarshalYAML reads a one-character ASCII string.
func (c *Char) UnmarshalYAML(n *yaml.Node) error {
	if len(n.Value) != 1 || n.Value[0] >= utf8.RuneSelf {
		return fmt.Errorf("line %d: want one ASCII character, got %q", n.Line, n.Value)
	}
	*c = Char(n.Value[0])
	return nil
}

// MarshalJSON writes the character as a string.
func (c Char) MarshalJSON() ([]byte, error) { return json.Marshal(string(rune(c))) }

// UnmarshalJSON reads a one-character ASCII string.
func (c *Char) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if len(s) != 1 || s[0] >= utf8.RuneSelf {
		return fmt.Errorf("want one ASCII character, got %q", s)
	}
	*c = Char(s[0])
	return nil
}

func (o *CSVOptions) comma() byte {
	if o.Comma == 0 {
		return ','
	}
	return byte(o.Comma)
}

func (o *CSVOptions) maxRecord() int {
	if o.MaxRecordBytes <= 0 {
		return defaultMaxRecord
	}
	return o.MaxRecordBytes
}

// ErrQuote is the cause of a CSV error in quoting: an unterminated quoted
// field, a quote inside an unquoted field, or text after a closing quote.
var ErrQuote = errors.New("bad quoting")

// ErrRecordTooLong is the cause of a CSV error for a record over
// CSVOptions.MaxRecordBytes.
var ErrRecordTooLong = errors.New("record too long")

// ReadError is an error at a place in a data file.
type ReadError struct {
	File string
	Line int64 // 1-based; 0 when the error has no place
	Err  error
}

// Error formats the error as "FILE:LINE: cause".
func (e *ReadError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the cause.
func (e *ReadError) Unwrap() error { return e.Err }

// csvScanner splits a byte stream into records without allocating per
// field: fields are slices of its buffer (or, for quoted fields, of a
// scratch buffer), valid until the next call. Lines without a quote take
// a fast path that finds the separators eight bytes at a time (splitLine).
type csvScanner struct {
	r        io.Reader
	name     string
	comma    byte
	comment  byte
	trim     bool
	max      int
	buf      []byte
	pos, end int
	base     int64 // offset in the stream of buf[0]
	eof      bool
	line     int64 // physical line number at pos
	fields   [][]byte
	scratch  []byte
	offs     []int
	progress func(int64)
}

func newCSVScanner(r io.Reader, name string, o *CSVOptions, firstLine int64) *csvScanner {
	return &csvScanner{
		r: r, name: name, comma: o.comma(), comment: byte(o.Comment), trim: o.TrimLeadingSpace,
		max: o.maxRecord(), buf: make([]byte, 1<<20), line: firstLine,
	}
}

func (s *csvScanner) errAt(line int64, format string, args ...any) error {
	return &ReadError{File: s.name, Line: line, Err: fmt.Errorf(format, args...)}
}

// fill moves the unread bytes to the front and reads more, growing the
// buffer up to the record limit.
func (s *csvScanner) fill() error {
	if s.pos > 0 {
		copy(s.buf, s.buf[s.pos:s.end])
		s.end -= s.pos
		s.base += int64(s.pos)
		s.pos = 0
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= s.max {
			return &ReadError{File: s.name, Line: s.line, Err: fmt.Errorf("%w: over %d bytes", ErrRecordTooLong, s.max)}
		}
		nb := make([]byte, min(2*len(s.buf), s.max))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[s.end:])
	s.end += n
	if s.progress != nil {
		s.progress(int64(n))
	}
	if err == io.EOF {
		s.eof = true
	} else if err != nil {
		return &ReadError{File: s.name, Line: s.line, Err: err}
	}
	return nil
}

// next returns the next record's fields and the line it starts on, or
// io.EOF.
func (s *csvScanner) next() ([][]byte, int64, error) {
	searched := 0
	for {
		nl := bytes.IndexByte(s.buf[s.pos+searched:s.end], '\n')
		if nl < 0 && !s.eof {
			searched = s.end - s.pos
			if err := s.fill(); err != nil {
				return nil, 0, err
			}
			continue
		}
		if nl < 0 && s.pos == s.end {
			return nil, 0, io.EOF
		}
		lineEnd := s.end
		next := s.end
		if nl >= 0 {
			lineEnd = s.pos + searched + nl
			next = lineEnd + 1
		}
		searched = 0
		line := s.buf[s.pos:lineEnd]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 || (s.comment != 0 && line[0] == s.comment) {
			s.pos = next
			s.line++
			continue
		}
		if bytes.IndexByte(line, '"') >= 0 {
			return s.quoted()
		}
		s.fields = s.fields[:0]
		if !s.trim {
			s.fields = splitLine(s.fields, line, s.comma)
		} else {
			for {
				line = trimLeft(line)
				i := bytes.IndexByte(line, s.comma)
				if i < 0 {
					s.fields = append(s.fields, line)
					break
				}
				s.fields = append(s.fields, line[:i])
				line = line[i+1:]
			}
		}
		at := s.line
		s.pos = next
		s.line++
		return s.fields, at, nil
	}
}

// splitLine appends line's fields, separated by comma, to fields. Fields
// are short, so it finds the separators eight bytes at a time (an exact
// per-byte equality test on a 64-bit word) rather than by a call to
// IndexByte a field.
func splitLine(fields [][]byte, line []byte, comma byte) [][]byte {
	const lo7, ones = 0x7f7f7f7f7f7f7f7f, 0x0101010101010101
	pat := uint64(comma) * ones
	start, j := 0, 0
	for ; j+8 <= len(line); j += 8 {
		x := binary.LittleEndian.Uint64(line[j:]) ^ pat
		// High bit of each byte of m set exactly where x's byte is 0.
		m := ^(((x & lo7) + lo7) | x | lo7)
		for m != 0 {
			k := j + bits.TrailingZeros64(m)>>3
			fields = append(fields, line[start:k])
			start = k + 1
			m &= m - 1
		}
	}
	for ; j < len(line); j++ {
		if line[j] == comma {
			fields = append(fields, line[start:j])
			start = j + 1
		}
	}
	return append(fields, line[start:])
}

// offset returns the stream offset of the next unread record.
func (s *csvScanner) offset() int64 { return s.base + int64(s.pos) }

func trimLeft(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

var errNeedMore = errors.New("need more input")

// quoted parses a record that holds a quote, reading more input when a
// quoted field runs past the buffer.
func (s *csvScanner) quoted() ([][]byte, int64, error) {
	for {
		n, lines, err := s.parseQuoted()
		if err == errNeedMore {
			if s.eof {
				return nil, 0, s.errAt(s.line, "%w: quoted field not terminated before the end of the file", ErrQuote)
			}
			if err := s.fill(); err != nil {
				return nil, 0, err
			}
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		at := s.line
		s.pos += n
		s.line += 1 + lines
		s.fields = s.fields[:0]
		for i := 0; i+1 < len(s.offs); i++ {
			s.fields = append(s.fields, s.scratch[s.offs[i]:s.offs[i+1]])
		}
		return s.fields, at, nil
	}
}

// parseQuoted parses one record at s.pos into scratch, returning the bytes
// it spans and the newlines inside quoted fields.
func (s *csvScanner) parseQuoted() (int, int64, error) {
	b := s.buf[s.pos:s.end]
	s.scratch = s.scratch[:0]
	s.offs = append(s.offs[:0], 0)
	var lines int64
	i := 0
	for {
		if s.trim {
			for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
				i++
			}
		}
		if i < len(b) && b[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(b[i:], '"')
				if j < 0 {
					return 0, 0, errNeedMore
				}
				lines += int64(bytes.Count(b[i:i+j], []byte{'\n'}))
				s.scratch = append(s.scratch, b[i:i+j]...)
				i += j + 1
				if i == len(b) && !s.eof {
					return 0, 0, errNeedMore
				}
				if i < len(b) && b[i] == '"' {
					s.scratch = append(s.scratch, '"')
					i++
					continue
				}
				break
			}
			s.offs = append(s.offs, len(s.scratch))
			switch {
			case i == len(b):
				return i, lines, nil
			case b[i] == s.comma:
				i++
				continue
			case b[i] == '\n':
				return i + 1, lines, nil
			case b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n':
				return i + 2, lines, nil
			case b[i] == '\r' && i+1 == len(b) && !s.eof:
				return 0, 0, errNeedMore
			}
			return 0, 0, s.errAt(s.line+lines, "%w: %q after a closing quote in field %d", ErrQuote, b[i], len(s.offs)-1)
		}
		k := i
		for k < len(b) && b[k] != s.comma && b[k] != '\n' {
			k++
		}
		if k == len(b) && !s.eof {
			return 0, 0, errNeedMore
		}
		f := b[i:k]
		if k < len(b) && b[k] == '\n' && len(f) > 0 && f[len(f)-1] == '\r' {
			f = f[:len(f)-1]
		}
		if bytes.IndexByte(f, '"') >= 0 {
			return 0, 0, s.errAt(s.line+lines, "%w: bare quote in unquoted field %d", ErrQuote, len(s.offs))
		}
		s.scratch = append(s.scratch, f...)
		s.offs = append(s.offs, len(s.scratch))
		if k == len(b) {
			return k, lines, nil
		}
		if b[k] == '\n' {
			return k + 1, lines, nil
		}
		i = k + 1
	}
}
