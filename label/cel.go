package label

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
	"gopkg.in/yaml.v3"
)

// ErrOutsideClasses is wrapped by every error about a label outside the
// declared classes.
var ErrOutsideClasses = errors.New("label outside the declared classes")

// Spec is the YAML declaration of labeling functions:
//
//	classes: [HAM, SPAM]          # class ids are the positions: HAM = 0, SPAM = 1
//	multi_label: false            # true: each function names the class it speaks about
//	lists:                        # named string lists, usable in expressions
//	  promo: [subscribe, channel]
//	functions:
//	  - name: keyword_subscribe
//	    expr: 'has_any_word(r.CONTENT, promo) ? SPAM : ABSTAIN'
//	  - name: short_comment
//	    expr: 'word_count(r.CONTENT) < 5 ? HAM : ABSTAIN'
//
// An expression is CEL over the record r (a map from field name to value)
// and returns a class id (an int, or a class name constant such as SPAM),
// a class name as a string, or ABSTAIN (CEL's conditional wants both
// branches of one type: write dyn("SPAM") to mix a name with ABSTAIN). In
// a multi-label spec each function
// has a class: field and returns PRESENT, ABSENT or ABSTAIN. See
// CELHelpers for the helper functions.
type Spec struct {
	Classes    []string            `yaml:"classes"`
	MultiLabel bool                `yaml:"multi_label"`
	Lists      map[string][]string `yaml:"lists"`
	Functions  []SpecLF            `yaml:"functions"`
}

// SpecLF declares one labeling function.
type SpecLF struct {
	Name        string    `yaml:"name"`
	Expr        yaml.Node `yaml:"expr"`
	Class       string    `yaml:"class"`
	Description string    `yaml:"description"`
}

// CELHelpers documents the functions that labeling-function expressions may
// call, beyond CEL's standard library (size, matches, contains, startsWith,
// endsWith, int, double, string, has) and cel-go's string extensions
// (lowerAscii, split, trim, replace, indexOf, ...).
const CELHelpers = `lower(s) string                 NFKC-normalised lower case (full-width letters become plain)
has_word(s, w) bool             s has the word w (case-insensitive, whole words)
has_any_word(s, list) bool      s has any of the words
has_all_words(s, list) bool     s has every one of the words
has_any(s, list) bool           lower(s) contains any of the substrings
count_matches(s, re) int        number of non-overlapping matches of the RE2 pattern re
word_count(s) int               number of words
upper_ratio(s) double           fraction of letters in upper case
polarity(s) double              lexicon sentiment in [-1, 1]
num(x) double                   x as a number: ints, doubles, and strings that parse
in_range(x, lo, hi) bool        lo <= num(x) <= hi`

// ParseSpec parses and compiles a YAML spec. source names the file in
// error messages. Every expression is compiled before the functions can
// run; all compile errors are returned together, each with the function's
// name and its position (the file's line and the expression's column).
func ParseSpec(b []byte, source string) (*Set, error) {
	var sp Spec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&sp); err != nil {
		return nil, fmt.Errorf("labeling functions %s: %w", source, err)
	}
	return sp.Compile(source)
}

// LoadSpec reads and compiles a YAML spec file.
func LoadSpec(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("labeling functions: %w", err)
	}
	return ParseSpec(b, path)
}

var celIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// celReserved are names a class or list may not take.
var celReserved = wordSet(`r ABSTAIN PRESENT ABSENT true false null in as break const continue else for
	function if import let loop package namespace return var void`)

// Compile compiles the spec's expressions into a Set. source names the
// spec in error messages.
func (sp *Spec) Compile(source string) (*Set, error) {
	if len(sp.Classes) == 0 {
		return nil, fmt.Errorf("labeling functions %s: no classes declared", source)
	}
	opts := []cel.EnvOption{
		cel.Variable("r", cel.MapType(cel.StringType, cel.DynType)),
		cel.Constant("ABSTAIN", cel.IntType, types.Int(Abstain)),
		ext.Strings(),
		// word_count(s) > 0.5 and polarity(s) < 0 read naturally.
		cel.CrossTypeNumericComparisons(true),
	}
	opts = append(opts, helperFunctions()...)
	classIdx := map[string]int{}
	for c, name := range sp.Classes {
		if _, dup := classIdx[name]; dup || name == "" {
			return nil, fmt.Errorf("labeling functions %s: class %q is empty or declared twice", source, name)
		}
		classIdx[name] = c
		if !sp.MultiLabel && celIdent.MatchString(name) && !celReserved[name] {
			opts = append(opts, cel.Constant(name, cel.IntType, types.Int(c)))
		}
	}
	if sp.MultiLabel {
		opts = append(opts, cel.Constant("PRESENT", cel.IntType, types.Int(1)), cel.Constant("ABSENT", cel.IntType, types.Int(0)))
	}
	for name, list := range sp.Lists {
		if !celIdent.MatchString(name) || celReserved[name] {
			return nil, fmt.Errorf("labeling functions %s: list name %q is not a usable identifier", source, name)
		}
		if _, clash := classIdx[name]; clash {
			return nil, fmt.Errorf("labeling functions %s: list %q has a class's name", source, name)
		}
		opts = append(opts, cel.Constant(name, cel.ListType(cel.StringType), types.NewStringList(types.DefaultTypeAdapter, list)))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("labeling functions %s: %w", source, err)
	}
	set := &Set{Classes: sp.Classes, MultiLabel: sp.MultiLabel}
	var errs []error
	for j, f := range sp.Functions {
		where := fmt.Sprintf("%s:%d", source, f.Expr.Line)
		if f.Name == "" {
			errs = append(errs, fmt.Errorf("%s: labeling function %d has no name", where, j))
			continue
		}
		if strings.TrimSpace(f.Expr.Value) == "" || f.Expr.Kind != yaml.ScalarNode {
			errs = append(errs, fmt.Errorf("%s: labeling function %q has no expr string", where, f.Name))
			continue
		}
		if sp.MultiLabel {
			c, ok := classIdx[f.Class]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: labeling function %q: multi-label functions need class: one of %v, got %q", where, f.Name, sp.Classes, f.Class))
				continue
			}
			set.Tasks = append(set.Tasks, c)
		} else if f.Class != "" {
			errs = append(errs, fmt.Errorf("%s: labeling function %q: class: is only for multi_label specs", where, f.Name))
			continue
		}
		ast, iss := env.Compile(f.Expr.Value)
		if iss != nil && iss.Err() != nil {
			for _, e := range iss.Errors() {
				errs = append(errs, fmt.Errorf("%s: labeling function %q: expression line %d, column %d: %s",
					source+":"+strconv.Itoa(f.Expr.Line+exprLineOffset(f.Expr)+e.Location.Line()-1), f.Name,
					e.Location.Line(), e.Location.Column()+1, e.Message))
			}
			continue
		}
		switch k := ast.OutputType().Kind(); k {
		case types.IntKind, types.StringKind, types.DynKind:
		default:
			errs = append(errs, fmt.Errorf("%s: labeling function %q: expression returns %s, want int (a class or ABSTAIN) or a class name string", where, f.Name, ast.OutputType()))
			continue
		}
		prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: labeling function %q: %w", where, f.Name, err))
			continue
		}
		set.LFs = append(set.LFs, &celLF{name: f.Name, expr: f.Expr.Value, prg: prg, classes: classIdx, multi: sp.MultiLabel})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := set.Validate(); err != nil {
		return nil, fmt.Errorf("labeling functions %s: %w", source, err)
	}
	return set, nil
}

// exprLineOffset is 1 for block scalars (| or >), whose text starts on the
// line after the key.
func exprLineOffset(n yaml.Node) int {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return 1
	}
	return 0
}

// celLF is a labeling function compiled from a CEL expression. Programs are
// safe for concurrent use.
type celLF struct {
	name    string
	expr    string
	prg     cel.Program
	classes map[string]int
	multi   bool
}

func (f *celLF) Name() string { return f.name }

// recordVars binds the variable r to a record without building a map per
// evaluation.
type recordVars struct{ r Record }

func (a recordVars) ResolveName(name string) (any, bool) {
	if name == "r" {
		return map[string]any(a.r), true
	}
	return nil, false
}

func (recordVars) Parent() interpreter.Activation { return nil }

func (f *celLF) Label(r Record) (int, error) {
	out, _, err := f.prg.Eval(recordVars{r})
	if err != nil {
		return Abstain, err
	}
	switch v := out.(type) {
	case types.Int:
		if int64(v) < math.MinInt32 || int64(v) > math.MaxInt32 {
			return Abstain, fmt.Errorf("%w: %d", ErrOutsideClasses, int64(v))
		}
		return int(v), nil
	case types.String:
		if f.multi {
			return Abstain, fmt.Errorf("%w: multi-label functions return PRESENT, ABSENT or ABSTAIN, got %q", ErrOutsideClasses, string(v))
		}
		c, ok := f.classes[string(v)]
		if !ok {
			return Abstain, fmt.Errorf("%w: %q", ErrOutsideClasses, string(v))
		}
		return c, nil
	default:
		return Abstain, fmt.Errorf("expression returned %s, want an int or a class name", out.Type())
	}
}

// helperFunctions declares the helpers listed in CELHelpers. The regular
// expression cache belongs to the environment being built, not to the
// package.
func helperFunctions() []cel.EnvOption {
	var reCache sync.Map
	str := func(v ref.Val) (string, bool) { s, ok := v.(types.String); return string(s), ok }
	strList := func(v ref.Val) ([]string, ref.Val) {
		l, ok := v.(traits.Lister)
		if !ok {
			return nil, types.NewErr("want a list of strings, got %s", v.Type())
		}
		n := int(l.Size().(types.Int))
		out := make([]string, n)
		for i := 0; i < n; i++ {
			s, ok := l.Get(types.Int(i)).(types.String)
			if !ok {
				return nil, types.NewErr("want a list of strings")
			}
			out[i] = string(s)
		}
		return out, nil
	}
	words := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, w := range Words(s) {
			m[w] = true
		}
		return m
	}
	S, D, I, B, L := cel.StringType, cel.DoubleType, cel.IntType, cel.BoolType, cel.ListType(cel.StringType)
	unaryS := func(name string, out *cel.Type, fn func(string) ref.Val) cel.EnvOption {
		return cel.Function(name, cel.Overload(name+"_string", []*cel.Type{S}, out, cel.UnaryBinding(func(v ref.Val) ref.Val {
			s, _ := str(v)
			return fn(s)
		})))
	}
	wordsFn := func(name string, all bool) cel.EnvOption {
		return cel.Function(name, cel.Overload(name+"_string_list", []*cel.Type{S, L}, B, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
			s, _ := str(a)
			list, errv := strList(b)
			if errv != nil {
				return errv
			}
			have := words(s)
			for _, w := range list {
				if have[strings.ToLower(w)] != all {
					return types.Bool(!all)
				}
			}
			return types.Bool(all)
		})))
	}
	return []cel.EnvOption{
		unaryS("lower", S, func(s string) ref.Val { return types.String(Fold(s)) }),
		unaryS("word_count", I, func(s string) ref.Val { return types.Int(len(Words(s))) }),
		unaryS("upper_ratio", D, func(s string) ref.Val { return types.Double(UpperRatio(s)) }),
		unaryS("polarity", D, func(s string) ref.Val { return types.Double(Polarity(s)) }),
		cel.Function("has_word", cel.Overload("has_word_string_string", []*cel.Type{S, S}, B, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
			s, _ := str(a)
			w, _ := str(b)
			for _, x := range Words(s) {
				if x == strings.ToLower(w) {
					return types.True
				}
			}
			return types.False
		}))),
		wordsFn("has_any_word", false),
		wordsFn("has_all_words", true),
		cel.Function("has_any", cel.Overload("has_any_string_list", []*cel.Type{S, L}, B, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
			s, _ := str(a)
			list, errv := strList(b)
			if errv != nil {
				return errv
			}
			s = Fold(s)
			for _, sub := range list {
				if strings.Contains(s, Fold(sub)) {
					return types.True
				}
			}
			return types.False
		}))),
		cel.Function("count_matches", cel.Overload("count_matches_string_string", []*cel.Type{S, S}, I, cel.BinaryBinding(func(a, b ref.Val) ref.Val {
			s, _ := str(a)
			pat, _ := str(b)
			re, ok := reCache.Load(pat)
			if !ok {
				c, err := regexp.Compile(pat)
				if err != nil {
					return types.NewErr("count_matches: %v", err)
				}
				re, _ = reCache.LoadOrStore(pat, c)
			}
			return types.Int(len(re.(*regexp.Regexp).FindAllStringIndex(s, -1)))
		}))),
		cel.Function("num", cel.Overload("num_dyn", []*cel.Type{cel.DynType}, D, cel.UnaryBinding(func(v ref.Val) ref.Val {
			x, err := toNumber(v)
			if err != nil {
				return types.WrapErr(err)
			}
			return types.Double(x)
		}))),
		cel.Function("in_range", cel.Overload("in_range_dyn_double_double", []*cel.Type{cel.DynType, D, D}, B, cel.FunctionBinding(func(args ...ref.Val) ref.Val {
			x, err := toNumber(args[0])
			if err != nil {
				return types.WrapErr(err)
			}
			lo, hi := float64(args[1].(types.Double)), float64(args[2].(types.Double))
			return types.Bool(lo <= x && x <= hi)
		}))),
	}
}

// toNumber converts a CEL value to float64: ints, uints, doubles, and
// strings that parse as numbers.
func toNumber(v ref.Val) (float64, error) {
	switch x := v.(type) {
	case types.Int:
		return float64(x), nil
	case types.Uint:
		return float64(x), nil
	case types.Double:
		return float64(x), nil
	case types.String:
		f, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64)
		if err != nil {
			return 0, fmt.Errorf("num: %q is not a number", string(x))
		}
		return f, nil
	case types.Bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("num: %s is not a number", v.Type())
}
