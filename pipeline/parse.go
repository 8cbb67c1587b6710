package pipeline

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pipeline is a parsed pipeline file: its steps in file order, with every
// variable substituted and every path made absolute.
type Pipeline struct {
	// File is the file's name as given to Parse; positions name it.
	File string
	// Dir is the folder relative paths are resolved against.
	Dir string
	// Vars are the file's variables after --set overrides.
	Vars map[string]string
	// Steps are in the order the file lists them.
	Steps []*Step
}

// Step is one node of the DAG: a Kiln command with named inputs and
// outputs.
type Step struct {
	// Name is the step's key under steps:.
	Name string
	// Kind is the Kiln verb the step runs, such as "train" or "data pull".
	Kind string
	// Args are the verb's positional arguments and extra flags, in order,
	// with ${inputs.X} and ${outputs.X} replaced by the ports' paths.
	Args []string
	// Params are the verb's settings, passed as --key=value flags.
	Params []Param
	// Inputs are files or folders the step reads; Outputs those it writes.
	// A port not named in Args is passed as --NAME=PATH.
	Inputs  []Port
	Outputs []Port
	// Stdout, when not empty, is a file that receives the step's standard
	// output (written atomically when the step succeeds); it is an output.
	Stdout string
	// Pos is where the step's name is; KindPos where its kind is.
	Pos, KindPos, StdoutPos Pos

	inArgs map[string]bool // ports referenced in Args
}

// Param is one setting of a step.
type Param struct {
	Key, Value string
	Pos        Pos
}

// Port is a named input or output path of a step.
type Port struct {
	Name, Path string
	Pos        Pos
}

// ParseOptions are what Parse needs from outside the file.
type ParseOptions struct {
	// Dir is the folder relative paths are resolved against (usually the
	// pipeline file's folder). It must be absolute.
	Dir string
	// Home is the value of ${KILN_HOME}.
	Home string
	// Set overrides the file's vars; a key the file does not declare is an
	// error.
	Set map[string]string
}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	varRE  = regexp.MustCompile(`\$\{([^}]*)\}|\$\$|\$`)
)

// Parse reads a pipeline file. Every problem is reported with its
// file:line:col, all of them at once, as an ErrorList. Parse checks the
// file's own structure; Validate checks the DAG (kinds, inputs, cycles).
func Parse(file string, src []byte, opts ParseOptions) (*Pipeline, error) {
	var errs ErrorList
	at := func(n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Col: n.Column} }
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, ErrorList{yamlError(file, src, err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, ErrorList{{Pos: Pos{File: file, Line: 1}, Msg: "empty pipeline: want a mapping with steps:"}}
	}
	root := doc.Content[0]
	if bad := findAlias(root); bad != nil {
		return nil, ErrorList{{Pos: at(bad), Msg: "anchors and aliases are not supported in pipeline files"}}
	}
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{{Pos: at(root), Msg: "a pipeline file is a mapping with vars: and steps:"}}
	}
	p := &Pipeline{File: file, Dir: opts.Dir, Vars: map[string]string{}}
	var stepsNode *yaml.Node
	for _, kv := range pairs(root, file, &errs) {
		switch kv.key.Value {
		case "vars":
			p.Vars = parseVars(kv.val, file, opts, &errs)
		case "steps":
			stepsNode = kv.val
		default:
			errs.add(at(kv.key), "unknown field %q (want vars, steps)", kv.key.Value)
		}
	}
	for k := range opts.Set {
		if _, ok := p.Vars[k]; !ok {
			errs.add(Pos{File: file}, "--set %s: the file declares no variable %q under vars:", k, k)
		}
	}
	if stepsNode == nil {
		errs.add(at(root), "no steps: the file must list its steps under steps:")
		return nil, errs.err()
	}
	if stepsNode.Kind != yaml.MappingNode {
		errs.add(at(stepsNode), "steps: want a mapping of step name to step")
		return nil, errs.err()
	}
	sub := substituter{file: file, home: opts.Home, vars: p.Vars}
	seen := map[string]Pos{}
	for _, kv := range pairs(stepsNode, file, &errs) {
		name := kv.key.Value
		if first, dup := seen[name]; dup {
			errs.add(at(kv.key), "duplicate step name %q (first defined at %s)", name, first)
			continue
		}
		seen[name] = at(kv.key)
		if !nameRE.MatchString(name) {
			errs.add(at(kv.key), "step name %q: use letters, digits, '_', '-' and '.'", name)
		}
		if s := parseStep(name, kv.key, kv.val, file, opts.Dir, sub, &errs); s != nil {
			p.Steps = append(p.Steps, s)
		}
	}
	if len(seen) == 0 {
		errs.add(at(stepsNode), "steps: the pipeline has no steps")
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return p, nil
}

type pair struct{ key, val *yaml.Node }

// pairs returns a mapping's key/value pairs, reporting non-scalar keys.
func pairs(m *yaml.Node, file string, errs *ErrorList) []pair {
	var out []pair
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			errs.add(Pos{File: file, Line: k.Line, Col: k.Column}, "a key must be a plain name")
			continue
		}
		out = append(out, pair{k, v})
	}
	return out
}

func findAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return n
	}
	for _, c := range n.Content {
		if a := findAlias(c); a != nil {
			return a
		}
	}
	return nil
}

func parseVars(n *yaml.Node, file string, opts ParseOptions, errs *ErrorList) map[string]string {
	vars := map[string]string{}
	if n.Kind != yaml.MappingNode {
		errs.add(Pos{File: file, Line: n.Line, Col: n.Column}, "vars: want a mapping of name to value")
		return vars
	}
	base := substituter{file: file, home: opts.Home}
	for _, kv := range pairs(n, file, errs) {
		pos := Pos{File: file, Line: kv.key.Line, Col: kv.key.Column}
		name := kv.key.Value
		if !nameRE.MatchString(name) || name == "KILN_HOME" || strings.HasPrefix(name, "inputs.") || strings.HasPrefix(name, "outputs.") {
			errs.add(pos, "variable name %q is not allowed", name)
			continue
		}
		if _, dup := vars[name]; dup {
			errs.add(pos, "duplicate variable %q", name)
			continue
		}
		if v, ok := opts.Set[name]; ok {
			vars[name] = v
			continue
		}
		v, ok := scalar(kv.val, file, "vars."+name, errs)
		if ok {
			vars[name] = base.expand(v, kv.val, nil, errs)
		}
	}
	return vars
}

// scalar returns a scalar node's value, or a list of scalars joined by
// commas (the form Kiln's list flags take).
func scalar(n *yaml.Node, file, field string, errs *ErrorList) (string, bool) {
	pos := Pos{File: file, Line: n.Line, Col: n.Column}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			errs.add(pos, "%s: no value", field)
			return "", false
		}
		return n.Value, true
	case yaml.SequenceNode:
		parts := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				errs.add(Pos{File: file, Line: c.Line, Col: c.Column}, "%s: a list of plain values is expected", field)
				return "", false
			}
			parts = append(parts, c.Value)
		}
		return strings.Join(parts, ","), true
	}
	errs.add(pos, "%s: want a value or a list of values, not a mapping", field)
	return "", false
}

func parseStep(name string, key, n *yaml.Node, file, dir string, sub substituter, errs *ErrorList) *Step {
	at := func(n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Col: n.Column} }
	s := &Step{Name: name, Pos: at(key), inArgs: map[string]bool{}}
	if n.Kind != yaml.MappingNode {
		errs.add(at(n), "step %q: want a mapping with kind:, args:, params:, inputs:, outputs:", name)
		return nil
	}
	var argsNode *yaml.Node
	for _, kv := range pairs(n, file, errs) {
		field := kv.key.Value
		switch field {
		case "kind":
			s.KindPos = at(kv.val)
			if kv.val.Kind != yaml.ScalarNode || kv.val.Value == "" {
				errs.add(at(kv.val), "step %q: kind: want a Kiln command such as \"train\" or \"data pull\"", name)
				continue
			}
			s.Kind = strings.Join(strings.Fields(kv.val.Value), " ")
		case "args":
			argsNode = kv.val
		case "params":
			if kv.val.Kind != yaml.MappingNode {
				errs.add(at(kv.val), "step %q: params: want a mapping of flag name to value", name)
				continue
			}
			for _, p := range pairs(kv.val, file, errs) {
				if v, ok := scalar(p.val, file, "params."+p.key.Value, errs); ok {
					s.Params = append(s.Params, Param{Key: p.key.Value, Value: sub.expand(v, p.val, nil, errs), Pos: at(p.key)})
				}
			}
		case "inputs", "outputs":
			ports := parsePorts(name, field, kv.val, file, dir, sub, errs)
			if field == "inputs" {
				s.Inputs = ports
			} else {
				s.Outputs = ports
			}
		case "stdout":
			s.StdoutPos = at(kv.val)
			if v, ok := scalar(kv.val, file, "stdout", errs); ok && kv.val.Kind == yaml.ScalarNode {
				s.Stdout = absPath(dir, sub.expand(v, kv.val, nil, errs))
			} else if ok {
				errs.add(at(kv.val), "step %q: stdout: want one path", name)
			}
		default:
			errs.add(at(kv.key), "step %q: unknown field %q (want kind, args, params, inputs, outputs, stdout)", name, field)
		}
	}
	if s.KindPos.Line == 0 {
		errs.add(s.Pos, "step %q: no kind: (the Kiln command it runs, such as \"train\")", name)
	}
	seenParam := map[string]bool{}
	for _, p := range s.Params {
		if seenParam[p.Key] {
			errs.add(p.Pos, "step %q: duplicate param %q", name, p.Key)
		}
		seenParam[p.Key] = true
		if !nameRE.MatchString(p.Key) {
			errs.add(p.Pos, "step %q: param %q is not a flag name", name, p.Key)
		}
	}
	ports := map[string]string{}
	for _, p := range s.Inputs {
		ports["inputs."+p.Name] = p.Path
	}
	for _, p := range s.Outputs {
		ports["outputs."+p.Name] = p.Path
	}
	if argsNode != nil {
		if argsNode.Kind != yaml.SequenceNode {
			errs.add(at(argsNode), "step %q: args: want a list", name)
		} else {
			for _, a := range argsNode.Content {
				if a.Kind != yaml.ScalarNode || a.Tag == "!!null" {
					errs.add(at(a), "step %q: args: each argument is a plain value", name)
					continue
				}
				s.Args = append(s.Args, sub.expandPorts(a.Value, a, ports, s.inArgs, errs))
			}
		}
	}
	return s
}

func parsePorts(step, field string, n *yaml.Node, file, dir string, sub substituter, errs *ErrorList) []Port {
	at := func(n *yaml.Node) Pos { return Pos{File: file, Line: n.Line, Col: n.Column} }
	if n.Kind != yaml.MappingNode {
		errs.add(at(n), "step %q: %s: want a mapping of name to path", step, field)
		return nil
	}
	var ports []Port
	seen := map[string]bool{}
	for _, kv := range pairs(n, file, errs) {
		name := kv.key.Value
		if !nameRE.MatchString(name) {
			errs.add(at(kv.key), "step %q: %s name %q is not a flag name", step, field, name)
			continue
		}
		if seen[name] {
			errs.add(at(kv.key), "step %q: duplicate %s name %q", step, field, name)
			continue
		}
		seen[name] = true
		if kv.val.Kind != yaml.ScalarNode || kv.val.Value == "" || kv.val.Tag == "!!null" {
			errs.add(at(kv.val), "step %q: %s.%s: want one path", step, field, name)
			continue
		}
		path := sub.expand(kv.val.Value, kv.val, nil, errs)
		ports = append(ports, Port{Name: name, Path: absPath(dir, path), Pos: at(kv.val)})
	}
	return ports
}

func absPath(dir, p string) string {
	if p == "" {
		return ""
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}

// substituter expands ${NAME} references: KILN_HOME, the file's vars, and
// in args the step's ${inputs.X} and ${outputs.X}. $$ is a literal $.
type substituter struct {
	file string
	home string
	vars map[string]string
}

func (s substituter) expand(v string, n *yaml.Node, ports map[string]string, errs *ErrorList) string {
	return s.expandPorts(v, n, ports, nil, errs)
}

func (s substituter) expandPorts(v string, n *yaml.Node, ports map[string]string, used map[string]bool, errs *ErrorList) string {
	if !strings.Contains(v, "$") {
		return v
	}
	return varRE.ReplaceAllStringFunc(v, func(m string) string {
		switch m {
		case "$$":
			return "$"
		case "$":
			errs.add(Pos{File: s.file, Line: n.Line, Col: n.Column}, "%q: a lone $ (write $$ for a dollar sign, ${NAME} for a variable)", v)
			return m
		}
		name := strings.TrimSpace(m[2 : len(m)-1])
		if name == "KILN_HOME" {
			return s.home
		}
		if x, ok := s.vars[name]; ok {
			return x
		}
		if x, ok := ports[name]; ok {
			if used != nil {
				used[name] = true
			}
			return x
		}
		var known []string
		for k := range s.vars {
			known = append(known, k)
		}
		sort.Strings(known)
		hint := "KILN_HOME"
		if len(known) > 0 {
			hint += ", " + strings.Join(known, ", ")
		}
		if ports != nil {
			hint += ", or the step's inputs.NAME / outputs.NAME"
		}
		errs.add(Pos{File: s.file, Line: n.Line, Col: n.Column}, "unknown variable ${%s} (known: %s)", name, hint)
		return m
	})
}

// yamlError turns a YAML syntax error into an Error with its line. The
// line yaml.v3 gives is not always right: for some errors it counts from
// 0 (an unquoted ${x} in a flow mapping on line 4 says "line 3", and on
// line 1 gives no line), so the line is the first one at which a prefix
// of the file fails with the same error, and yaml.v3's only when no
// prefix does.
func yamlError(file string, src []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	if n := failingLine(src, err.Error()); n > 0 {
		line = n
	}
	return &Error{Pos: Pos{File: file, Line: line}, Msg: "YAML: " + msg}
}

// failingLine returns the smallest n such that the first n lines of src
// fail to parse with exactly the error message want, or 0 when none does
// (or the file is over 64 KiB).
func failingLine(src []byte, want string) int {
	if len(src) > 64<<10 {
		return 0 // a pipeline file is small; this search is quadratic
	}
	lines := bytes.SplitAfter(src, []byte("\n"))
	end := 0
	for n, l := range lines {
		end += len(l)
		var doc yaml.Node
		if err := yaml.Unmarshal(src[:end], &doc); err != nil && err.Error() == want {
			return n + 1
		}
	}
	return 0
}
