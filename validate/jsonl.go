package validate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ComputeJSONL returns the statistics of a JSON Lines stream: one object
// per line, a column per key (columns may appear part-way; rows without a
// key count as missing there). null is missing; numbers, strings and
// booleans are values, classified as CSV fields are (so "12" counts as a
// number); arrays and objects count as strings of their JSON text. A line
// that is not a JSON object is an error naming the line.
func ComputeJSONL(r io.Reader, name string, maxLine int) (*Stats, error) {
	if maxLine <= 0 {
		maxLine = defaultMaxRecord
	}
	br := bufio.NewReaderSize(r, 1<<20)
	s := NewStats(nil)
	rules := valueRules{}
	var line int64
	var long []byte
	seen := map[string]bool{}
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], b...)
			for err == bufio.ErrBufferFull {
				if len(long) > maxLine {
					return nil, &ReadError{File: name, Line: line + 1, Err: fmt.Errorf("%w: over %d bytes", ErrRecordTooLong, maxLine)}
				}
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if len(b) > 0 {
			line++
			if len(b) > maxLine {
				return nil, &ReadError{File: name, Line: line, Err: fmt.Errorf("%w: over %d bytes", ErrRecordTooLong, maxLine)}
			}
			if t := bytes.TrimSpace(b); len(t) > 0 {
				clear(seen)
				if perr := addJSONObject(s, t, &rules, seen); perr != nil {
					return nil, &ReadError{File: name, Line: line, Err: perr}
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &ReadError{File: name, Line: line, Err: err}
		}
	}
	return s, nil
}

// addJSONObject adds one JSON object's fields as a row.
func addJSONObject(s *Stats, b []byte, rules *valueRules, seen map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("want a JSON object per line")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		key := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		if seen[key] {
			return fmt.Errorf("key %q twice", key)
		}
		seen[key] = true
		f := s.feature(key)
		switch raw[0] {
		case 'n':
		case '"':
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return fmt.Errorf("field %q: %w", key, err)
			}
			f.addField([]byte(str), rules)
		case 't', 'f', '{', '[':
			f.addString(raw)
		default:
			f.addField(raw, rules)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return errors.New("text after the object")
	}
	s.Rows++
	return nil
}
