package pipeline

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Graph is a validated pipeline: its steps and, for each, the steps whose
// outputs it reads. A step depends on another when one of its inputs is
// one of the other's outputs, lies inside an output folder, or is a
// folder holding an output (as DVC matches deps to outs by path).
type Graph struct {
	Pipeline *Pipeline
	// Steps are in file order; indices below refer to this slice.
	Steps []*Step
	// Deps[i] lists, ascending, the steps that step i reads from.
	Deps [][]int
}

// ValidateOptions are what Validate checks a pipeline against.
type ValidateOptions struct {
	// Kinds are the step kinds that exist ("train", "data pull", ...).
	Kinds []string
	// Exists reports whether a path is present on disk; an input that no
	// step produces must exist. Nil treats every such input as missing.
	Exists func(path string) bool
}

// Validate checks a parsed pipeline before anything runs: every kind is a
// known command, every input is produced by a step or exists as a file,
// no two steps write the same path, and the steps form no cycle (the
// cycle is named). All problems come back at once as an ErrorList with
// file:line:col.
func Validate(p *Pipeline, opts ValidateOptions) (*Graph, error) {
	var errs ErrorList
	kinds := map[string]bool{}
	for _, k := range opts.Kinds {
		kinds[k] = true
	}
	for _, s := range p.Steps {
		if s.Kind != "" && !kinds[s.Kind] {
			errs.add(s.KindPos, "step %q: unknown step kind %q (known: %s)", s.Name, s.Kind, strings.Join(sortedCopy(opts.Kinds), ", "))
		}
	}
	g := &Graph{Pipeline: p, Steps: p.Steps, Deps: make([][]int, len(p.Steps))}
	// Outputs may not overlap between steps: each path has one producer.
	type out struct {
		step int
		port Port
	}
	var outs []out
	for i, s := range p.Steps {
		for _, o := range s.allOutputs() {
			for _, prev := range outs {
				if prev.step != i && (within(o.Path, prev.port.Path) || within(prev.port.Path, o.Path)) {
					errs.add(o.Pos, "step %q: output %s overlaps output %s of step %q (%s); each path has one producer",
						s.Name, o.Path, prev.port.Path, p.Steps[prev.step].Name, prev.port.Pos)
				}
			}
			outs = append(outs, out{i, o})
		}
	}
	for i, s := range p.Steps {
		deps := map[int]bool{}
		for _, in := range s.Inputs {
			found := false
			for _, o := range outs {
				if !within(in.Path, o.port.Path) && !within(o.port.Path, in.Path) {
					continue
				}
				found = true
				if o.step == i {
					errs.add(in.Pos, "step %q: input %s is its own output %s", s.Name, in.Path, o.port.Name)
					continue
				}
				deps[o.step] = true
			}
			if !found && (opts.Exists == nil || !opts.Exists(in.Path)) {
				errs.add(in.Pos, "step %q: missing input %s: no step produces it and no such file or folder exists", s.Name, in.Path)
			}
		}
		for d := range deps {
			g.Deps[i] = append(g.Deps[i], d)
		}
		sort.Ints(g.Deps[i])
	}
	for _, c := range Cycles(g.Deps) {
		names := make([]string, 0, len(c)+1)
		for _, i := range c {
			names = append(names, p.Steps[i].Name+" ("+p.Steps[i].Pos.String()+")")
		}
		names = append(names, p.Steps[c[0]].Name)
		errs.add(p.Steps[c[0]].Pos, "cycle: %s", strings.Join(names, " → "))
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return g, nil
}

// allOutputs returns the step's outputs with its stdout file as one more.
func (s *Step) allOutputs() []Port {
	outs := s.Outputs
	if s.Stdout != "" {
		outs = append(append([]Port(nil), outs...), Port{Name: "stdout", Path: s.Stdout, Pos: s.StdoutPos})
	}
	return outs
}

// within reports whether path p is dir or lies inside it.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// Producers returns the steps that write path or a path inside it, or
// whose output folder holds it.
func (g *Graph) Producers(path string) []int {
	var out []int
	for i, s := range g.Steps {
		for _, o := range s.allOutputs() {
			if within(path, o.Path) || within(o.Path, path) {
				out = append(out, i)
				break
			}
		}
	}
	return out
}

// Only returns the part of the graph that running the named steps needs:
// those steps and, transitively, the steps they read from (as `dvc repro
// STAGE` does), in file order. An unknown name is an error.
func (g *Graph) Only(names []string) (*Graph, error) {
	index := map[string]int{}
	for i, s := range g.Steps {
		index[s.Name] = i
	}
	keep := make([]bool, len(g.Steps))
	var visit func(int)
	visit = func(i int) {
		if keep[i] {
			return
		}
		keep[i] = true
		for _, d := range g.Deps[i] {
			visit(d)
		}
	}
	for _, n := range names {
		i, ok := index[n]
		if !ok {
			known := make([]string, len(g.Steps))
			for j, s := range g.Steps {
				known[j] = s.Name
			}
			return nil, fmt.Errorf("%s: no step %q (steps: %s)", g.Pipeline.File, n, strings.Join(known, ", "))
		}
		visit(i)
	}
	sub := &Graph{Pipeline: g.Pipeline}
	newIndex := make([]int, len(g.Steps))
	for i, s := range g.Steps {
		if keep[i] {
			newIndex[i] = len(sub.Steps)
			sub.Steps = append(sub.Steps, s)
		}
	}
	for i := range g.Steps {
		if !keep[i] {
			continue
		}
		deps := []int{}
		for _, d := range g.Deps[i] {
			deps = append(deps, newIndex[d])
		}
		if len(deps) == 0 {
			deps = nil
		}
		sub.Deps = append(sub.Deps, deps)
	}
	return sub, nil
}
