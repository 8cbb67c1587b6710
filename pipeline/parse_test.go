package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var testKinds = []string{"data pull", "train", "eval", "models register", "write", "fail", "meet"}

func parseString(t *testing.T, src string) (*Pipeline, error) {
	t.Helper()
	return Parse("p.yaml", []byte(src), ParseOptions{Dir: "/w", Home: "/home/k", Set: nil})
}

func TestParseSteps(t *testing.T) {
	src := `# a pipeline
vars:
  threads: 2
  data: ${KILN_HOME}/datasets/mnist
steps:
  pull:
    kind: data pull
    args: [mnist]
    outputs:
      dir: ${data}
  train:
    kind: train
    params:
      hidden: [256, 128]
      lr: 0.04
      threads: ${threads}
    inputs:
      data-dir: ${data}
    outputs:
      out: models/q
  register:
    kind: models   register
    args: [q, "${inputs.model}", "$$5"]
    inputs:
      model: models/q
    stdout: reg.txt
`
	p, err := parseString(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 3 || p.Steps[0].Name != "pull" || p.Steps[2].Kind != "models register" {
		t.Fatalf("steps %+v", p.Steps)
	}
	want := [][]string{
		{"data", "pull", "mnist", "--dir=/home/k/datasets/mnist"},
		{"train", "--hidden=256,128", "--lr=0.04", "--threads=2", "--data-dir=/home/k/datasets/mnist", "--out=/w/models/q"},
		{"models", "register", "q", "/w/models/q", "$5"},
	}
	for i, s := range p.Steps {
		if got := s.Command(); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("step %s: command %q, want %q", s.Name, got, want[i])
		}
	}
	if p.Steps[2].Stdout != "/w/reg.txt" || p.Steps[1].Pos.Line != 11 || p.Steps[1].KindPos.Line != 12 {
		t.Fatalf("stdout %q, train at line %d kind at %d", p.Steps[2].Stdout, p.Steps[1].Pos.Line, p.Steps[1].KindPos.Line)
	}
	// --set overrides a declared variable, and a key the file lacks is refused.
	p, err = Parse("p.yaml", []byte(src), ParseOptions{Dir: "/w", Home: "/h", Set: map[string]string{"threads": "7"}})
	if err != nil || p.Steps[1].Command()[3] != "--threads=7" {
		t.Fatalf("--set: %v %q", err, p.Steps[1].Command())
	}
	if _, err = Parse("p.yaml", []byte(src), ParseOptions{Dir: "/w", Set: map[string]string{"nope": "1"}}); err == nil || !strings.Contains(err.Error(), `no variable "nope"`) {
		t.Fatalf("--set unknown: %v", err)
	}
}

// TestParseErrors checks that each malformed file is refused with the
// line (and column) of the problem.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"empty", "", "p.yaml:1: empty pipeline"},
		{"syntax", "steps:\n  a: [\n", "p.yaml:2: YAML: did not find expected node content"},
		{"syntax on a line yaml.v3 miscounts", "steps:\n  a:\n    kind: train\n    params: {lr: ${rate}}\n", "p.yaml:4: YAML: did not find expected ',' or '}'"},
		{"syntax on line 1, where yaml.v3 gives no line", "vars: {x: ${y}}\nsteps:\n  a: {kind: train}\n", "p.yaml:1: YAML: did not find expected ',' or '}'"},
		{"not a mapping", "- a\n", "p.yaml:1:1: a pipeline file is a mapping"},
		{"no steps", "vars: {}\n", "p.yaml:1:1: no steps"},
		{"unknown top field", "stages: {}\nsteps: {a: {kind: train}}\n", `p.yaml:1:1: unknown field "stages"`},
		{"duplicate step", "steps:\n  a:\n    kind: train\n  a:\n    kind: eval\n", `p.yaml:4:3: duplicate step name "a" (first defined at p.yaml:2:3)`},
		{"no kind", "steps:\n  a:\n    args: [x]\n", `p.yaml:2:3: step "a": no kind:`},
		{"unknown step field", "steps:\n  a:\n    kind: train\n    deps: [x]\n", `p.yaml:4:5: step "a": unknown field "deps"`},
		{"bad name", "steps:\n  'a b':\n    kind: train\n", `p.yaml:2:3: step name "a b"`},
		{"unknown var", "steps:\n  a:\n    kind: train\n    params: {lr: '${rate}'}\n", "p.yaml:4:18: unknown variable ${rate}"},
		{"lone dollar", "steps:\n  a:\n    kind: train\n    args: [a$b]\n", "p.yaml:4:12: \"a$b\": a lone $"},
		{"port in params", "steps:\n  a:\n    kind: train\n    params: {x: '${inputs.d}'}\n    inputs: {d: f}\n", "unknown variable ${inputs.d}"},
		{"unknown port in args", "steps:\n  a:\n    kind: train\n    args: ['${inputs.e}']\n    inputs: {d: f}\n", "p.yaml:4:12: unknown variable ${inputs.e}"},
		{"nested param", "steps:\n  a:\n    kind: train\n    params:\n      x: {y: 1}\n", "p.yaml:5:10: params.x: want a value or a list of values, not a mapping"},
		{"null param", "steps:\n  a:\n    kind: train\n    params:\n      x:\n", "p.yaml:5:9: params.x: no value"},
		{"duplicate input", "steps:\n  a:\n    kind: train\n    inputs:\n      d: x\n      d: y\n", `p.yaml:6:7: step "a": duplicate inputs name "d"`},
		{"empty output", "steps:\n  a:\n    kind: train\n    outputs:\n      d: ''\n", `p.yaml:5:10: step "a": outputs.d: want one path`},
		{"args not list", "steps:\n  a:\n    kind: train\n    args: x\n", `p.yaml:4:11: step "a": args: want a list`},
		{"alias", "vars: &v {a: 1}\nsteps:\n  a:\n    kind: train\n    params: *v\n", "anchors and aliases are not supported"},
		{"steps a list", "steps:\n  - kind: train\n", "p.yaml:2:3: steps: want a mapping"},
		{"no steps at all", "steps: {}\n", "p.yaml:1:8: steps: the pipeline has no steps"},
	}
	for _, c := range cases {
		_, err := parseString(t, c.src)
		var el ErrorList
		if !errors.As(err, &el) {
			t.Errorf("%s: error %v is not an ErrorList", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error\n%v\nwant it to contain %q", c.name, err, c.want)
		}
	}
}

// TestValidateErrors is the must-show: a cycle, an unknown kind, a
// missing input and a duplicate name are each refused before anything
// runs, with the file and line.
func TestValidateErrors(t *testing.T) {
	dir := t.TempDir()
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	os.WriteFile(filepath.Join(dir, "raw.csv"), []byte("x\n"), 0o644)
	cases := []struct {
		name, src string
		want      []string
	}{
		{"cycle", `steps:
  a:
    kind: write
    inputs: {in: c.txt}
    outputs: {out: a.txt}
  b:
    kind: write
    inputs: {in: a.txt}
    outputs: {out: b.txt}
  c:
    kind: write
    inputs: {in: b.txt}
    outputs: {out: c.txt}
  d:
    kind: write
    inputs: {in: raw.csv}
    outputs: {out: d.txt}
`, []string{"p.yaml:2:3: cycle: a (p.yaml:2:3) → b (p.yaml:6:3) → c (p.yaml:10:3) → a"}},
		{"self", "steps:\n  a:\n    kind: write\n    inputs: {in: out}\n    outputs: {out: out/x}\n",
			[]string{`p.yaml:4:18: step "a": input ` + dir + `/out is its own output out`}},
		{"unknown kind", "steps:\n  a:\n    kind: trian\n", []string{`p.yaml:3:11: step "a": unknown step kind "trian" (known: data pull, eval, fail, meet, models register, train, write)`}},
		{"missing input", "steps:\n  a:\n    kind: write\n    inputs:\n      in: nothere.csv\n",
			[]string{`p.yaml:5:11: step "a": missing input ` + dir + `/nothere.csv: no step produces it`}},
		{"duplicate name", "steps:\n  a:\n    kind: write\n  a:\n    kind: write\n", []string{`p.yaml:4:3: duplicate step name "a"`}},
		{"overlapping outputs", "steps:\n  a:\n    kind: write\n    outputs: {out: m}\n  b:\n    kind: write\n    outputs: {out: m/w}\n",
			[]string{`p.yaml:7:20: step "b": output ` + dir + `/m/w overlaps output ` + dir + `/m of step "a" (p.yaml:4:20)`}},
		{"all at once", "steps:\n  a:\n    kind: nope\n    inputs: {in: gone}\n  b:\n    kind: write\n    stdout: gone2\n    inputs: {in: gone3}\n",
			[]string{"p.yaml:3:11: step \"a\": unknown step kind", "p.yaml:4:18: step \"a\": missing input", "p.yaml:8:18: step \"b\": missing input"}},
	}
	for _, c := range cases {
		p, err := Parse("p.yaml", []byte(c.src), ParseOptions{Dir: dir})
		if err == nil {
			_, err = Validate(p, ValidateOptions{Kinds: testKinds, Exists: exists})
		}
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error\n%v\nwant it to contain %q", c.name, err, w)
			}
		}
		if el, ok := err.(ErrorList); !ok || len(el) != len(c.want) {
			t.Errorf("%s: %d errors, want %d:\n%v", c.name, len(el), len(c.want), err)
		}
	}
}

func TestValidateEdges(t *testing.T) {
	dir := t.TempDir()
	src := `steps:
  pull:
    kind: data pull
    outputs: {dir: data/mnist}
  train:
    kind: train
    inputs: {data-dir: data/mnist}
    outputs: {out: models/m}
  eval:
    kind: eval
    inputs: {model: models/m/model.json, data-dir: data}
    stdout: reports/eval.json
  report:
    kind: write
    inputs: {in: reports}
    outputs: {out: summary.txt}
`
	p, err := Parse("p.yaml", []byte(src), ParseOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	g, err := Validate(p, ValidateOptions{Kinds: testKinds})
	if err != nil {
		t.Fatal(err)
	}
	// An input inside an output folder, or a folder holding an output,
	// depends on its producer.
	want := [][]int{nil, {0}, {0, 1}, {2}}
	if !reflect.DeepEqual(g.Deps, want) {
		t.Fatalf("deps %v, want %v", g.Deps, want)
	}
	// Only keeps the named steps and what they read from, re-indexed.
	sub, err := g.Only([]string{"eval"})
	if err != nil || len(sub.Steps) != 3 || sub.Steps[2].Name != "eval" || !reflect.DeepEqual(sub.Deps, [][]int{nil, {0}, {0, 1}}) {
		t.Fatalf("Only(eval): %v %v", sub, err)
	}
	sub, err = g.Only([]string{"pull"})
	if err != nil || len(sub.Steps) != 1 || sub.Deps[0] != nil {
		t.Fatalf("Only(pull): %+v %v", sub, err)
	}
	if _, err := g.Only([]string{"nope"}); err == nil || !strings.Contains(err.Error(), `no step "nope" (steps: pull, train, eval, report)`) {
		t.Fatalf("Only(nope): %v", err)
	}
}
