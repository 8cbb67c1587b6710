// Package rowdelete removes the rows of a CSV file that match a CEL
// expression, rewriting the file atomically: the deletion half of
// `kiln data delete`, for example erasing one person's records.
//
// The expression sees each row as the map r (r["zip code"]) and every
// column whose name is an identifier as a variable of its own
// (age > 40 && name == "ann"). A column's values are typed from the whole
// file: int when every non-empty value parses as an integer, else double
// when every one parses as a number, else bool when every one is true or
// false, else string; an empty value is null. Spaces after a separator
// are not part of a name or value (in "39, State-gov" the second field is
// "State-gov", as the data package reads Adult). Kept rows are copied byte
// for byte, so quoting, line endings and spacing survive.
package rowdelete

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// Kind is a column's inferred type.
type Kind int

// Column kinds, from the narrowest.
const (
	Int Kind = iota
	Double
	Bool
	String
)

// String returns the kind's name: int, double, bool or string.
func (k Kind) String() string { return [...]string{"int", "double", "bool", "string"}[k] }

// Result says what Delete did.
type Result struct {
	Header  []string `json:"header"`
	Kinds   []string `json:"kinds"`
	Rows    int64    `json:"rows"`
	Removed int64    `json:"removed"`
	Kept    int64    `json:"kept"`
	// Rewritten is false when no row matched and the file was left as it
	// was.
	Rewritten bool `json:"rewritten"`
}

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var reserved = map[string]bool{"r": true, "true": true, "false": true, "null": true, "in": true, "as": true, "break": true,
	"const": true, "continue": true, "else": true, "for": true, "function": true, "if": true, "import": true, "let": true,
	"loop": true, "namespace": true, "package": true, "return": true, "var": true, "void": true}

// Predicate is a compiled row filter.
type Predicate struct {
	header []string
	kinds  []Kind
	vars   []bool // whether column i is also a variable of its own
	prg    cel.Program
}

// Compile compiles expr against the columns of header with their kinds.
func Compile(header []string, kinds []Kind, expr string) (*Predicate, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("where: empty expression")
	}
	opts := []cel.EnvOption{cel.Variable("r", cel.MapType(cel.StringType, cel.DynType)), ext.Strings(), cel.CrossTypeNumericComparisons(true)}
	p := &Predicate{header: header, kinds: kinds, vars: make([]bool, len(header))}
	seen := map[string]bool{}
	for i, h := range header {
		if seen[h] {
			return nil, fmt.Errorf("where: column %q appears twice in the header", h)
		}
		seen[h] = true
		if ident.MatchString(h) && !reserved[h] {
			p.vars[i] = true
			opts = append(opts, cel.Variable(h, cel.DynType))
		}
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("where: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("where %q: %w", expr, iss.Err())
	}
	if k := ast.OutputType(); k != cel.BoolType && k != cel.DynType {
		return nil, fmt.Errorf("where %q: the expression gives %s, want bool", expr, k)
	}
	if p.prg, err = env.Program(ast, cel.EvalOptions(cel.OptOptimize)); err != nil {
		return nil, fmt.Errorf("where %q: %w", expr, err)
	}
	return p, nil
}

// Match evaluates the predicate on one record.
func (p *Predicate) Match(rec []string) (bool, error) {
	row := make(map[string]any, len(rec))
	act := make(map[string]any, len(rec)+1)
	for i, s := range rec {
		v := value(s, p.kinds[i])
		row[p.header[i]] = v
		if p.vars[i] {
			act[p.header[i]] = v
		}
	}
	act["r"] = row
	out, _, err := p.prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("the expression gave %v (%s), want bool", out, out.Type())
	}
	return bool(b), nil
}

func value(s string, k Kind) any {
	if s == "" {
		return types.NullValue
	}
	switch k {
	case Int:
		v, _ := strconv.ParseInt(s, 10, 64)
		return v
	case Double:
		v, _ := strconv.ParseFloat(s, 64)
		return v
	case Bool:
		return s == "true"
	}
	return s
}

// InferKinds reads every record of a CSV stream after its header and
// returns the header and each column's kind.
func InferKinds(r io.Reader, source string) ([]string, []Kind, error) {
	cr := newCSV(r)
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("%s: empty file: want a header line naming the columns", source)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: header: %w", source, err)
	}
	header = append([]string(nil), header...)
	canInt := make([]bool, len(header))
	canFloat := make([]bool, len(header))
	canBool := make([]bool, len(header))
	for i := range header {
		canInt[i], canFloat[i], canBool[i] = true, true, true
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", source, err)
		}
		for i, s := range rec {
			if s == "" {
				continue
			}
			if canInt[i] {
				if _, err := strconv.ParseInt(s, 10, 64); err != nil {
					canInt[i] = false
				}
			}
			if canFloat[i] {
				if _, err := strconv.ParseFloat(s, 64); err != nil {
					canFloat[i] = false
				}
			}
			if canBool[i] && s != "true" && s != "false" {
				canBool[i] = false
			}
		}
	}
	kinds := make([]Kind, len(header))
	for i := range header {
		switch {
		case canInt[i]:
			kinds[i] = Int
		case canFloat[i]:
			kinds[i] = Double
		case canBool[i]:
			kinds[i] = Bool
		default:
			kinds[i] = String
		}
	}
	return header, kinds, nil
}

// Filter copies the CSV stream in to out without the records for which
// p matches, byte for byte, and counts them. raw must read the same bytes
// as in, from the start; the copy is cut at the csv reader's offsets.
func Filter(in, raw io.Reader, out io.Writer, p *Predicate, source string) (Result, error) {
	res := Result{Header: p.header}
	for _, k := range p.kinds {
		res.Kinds = append(res.Kinds, k.String())
	}
	cr := newCSV(in)
	if _, err := cr.Read(); err != nil {
		return res, fmt.Errorf("%s: header: %w", source, err)
	}
	var prev int64
	if _, err := io.CopyN(out, raw, cr.InputOffset()); err != nil {
		return res, fmt.Errorf("%s: copy header: %w", source, err)
	}
	prev = cr.InputOffset()
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, fmt.Errorf("%s: %w", source, err)
		}
		line, _ := cr.FieldPos(0)
		res.Rows++
		hit, err := p.Match(rec)
		if err != nil {
			for i, f := range rec {
				if f == "" && p.kinds[i] != String {
					return res, fmt.Errorf("%s:%d: where: %w (column %q is empty here, which is null: test %s != null first)", source, line, err, p.header[i], p.header[i])
				}
			}
			return res, fmt.Errorf("%s:%d: where: %w", source, line, err)
		}
		n := cr.InputOffset() - prev
		prev = cr.InputOffset()
		if hit {
			res.Removed++
			_, err = io.CopyN(io.Discard, raw, n)
		} else {
			res.Kept++
			_, err = io.CopyN(out, raw, n)
		}
		if err != nil {
			return res, fmt.Errorf("%s: copy: %w", source, err)
		}
	}
	// Anything after the last record (a trailing blank line) is kept.
	if _, err := io.Copy(out, raw); err != nil {
		return res, fmt.Errorf("%s: copy: %w", source, err)
	}
	return res, nil
}

// Delete removes the rows of the CSV file at path that match expr and
// rewrites it atomically through fsys (temporary file in the same folder,
// fsync, rename, folder fsync), keeping its mode. When no row matches the
// file is not touched. On error the file is unchanged and no temporary is
// left.
func Delete(fsys vfs.FS, path, expr string) (Result, error) {
	return DeleteWith(fsys, path, expr, nil)
}

// DeleteWith is Delete that calls before, when it is not nil, once the
// rows to remove are counted (Removed > 0) and before the file is
// written: the caller records the deletion ahead of it, so that a crash
// during or after the rewrite never leaves a deletion unrecorded. An error
// from before stops the deletion with the file untouched.
func DeleteWith(fsys vfs.FS, path, expr string, before func(Result) error) (res Result, err error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	header, kinds, err := InferKinds(f, path)
	f.Close()
	if err != nil {
		return Result{}, err
	}
	p, err := Compile(header, kinds, expr)
	if err != nil {
		return Result{}, err
	}
	// A first pass counts the matches without writing.
	in, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	raw, err := os.Open(path)
	if err != nil {
		in.Close()
		return Result{}, err
	}
	res, err = Filter(in, raw, io.Discard, p, path)
	in.Close()
	raw.Close()
	if err != nil || res.Removed == 0 {
		return res, err
	}
	if before != nil {
		if err := before(res); err != nil {
			return res, err
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return res, err
	}
	tmp, err := fsys.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			fsys.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(fi.Mode().Perm()); err != nil {
		return res, err
	}
	if in, err = os.Open(path); err != nil {
		return res, err
	}
	defer in.Close()
	if raw, err = os.Open(path); err != nil {
		return res, err
	}
	defer raw.Close()
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if res, err = Filter(in, raw, bw, p, path); err != nil {
		return res, err
	}
	if err = bw.Flush(); err != nil {
		return res, err
	}
	if err = tmp.Sync(); err != nil {
		return res, err
	}
	if err = tmp.Close(); err != nil {
		return res, err
	}
	if err = fsys.Rename(tmp.Name(), path); err != nil {
		return res, err
	}
	res.Rewritten = true
	return res, fsys.SyncDir(filepath.Dir(path))
}
