package pipeline

import "fmt"

// This file is the pipeline's schedule as pure functions of the DAG (no
// processes, files or clocks), so that tests check it against literal
// tables. deps[i] lists the steps step i reads from.

// Cycles returns the DAG's cycles, nil when deps is acyclic. Each back
// edge met by a depth-first search in file order gives one cycle, listed
// in running order: each step is read by the next, and the last is read
// by the first.
func Cycles(deps [][]int) [][]int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(deps))
	var stack []int
	var cycles [][]int
	var visit func(int)
	visit = func(i int) {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range deps[i] {
			switch color[d] {
			case white:
				visit(d)
			case grey:
				// stack from d to i is the cycle, walked against the
				// edges (i reads d); reverse so that it reads in running
				// order: d, then what consumes it, ..., i.
				var j int
				for j = len(stack) - 1; stack[j] != d; j-- {
				}
				c := make([]int, 0, len(stack)-j)
				c = append(c, d)
				for k := len(stack) - 1; k > j; k-- {
					c = append(c, stack[k])
				}
				cycles = append(cycles, c)
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
	}
	for i := range deps {
		if color[i] == white {
			visit(i)
		}
	}
	return cycles
}

// Levels groups the steps into levels: level 0 holds the steps that read
// from no step, level k those whose deepest dependency is at level k-1.
// Steps of one level are independent and may run in parallel; each level
// lists its steps in file order. It is an error for deps to hold a cycle.
func Levels(deps [][]int) ([][]int, error) {
	if c := Cycles(deps); len(c) > 0 {
		return nil, fmt.Errorf("schedule: the steps form a cycle through step %d", c[0][0])
	}
	level := make([]int, len(deps))
	done := make([]bool, len(deps))
	var depth func(int) int
	depth = func(i int) int {
		if done[i] {
			return level[i]
		}
		l := 0
		for _, d := range deps[i] {
			l = max(l, depth(d)+1)
		}
		level[i], done[i] = l, true
		return l
	}
	var levels [][]int
	for i := range deps {
		l := depth(i)
		for len(levels) <= l {
			levels = append(levels, nil)
		}
	}
	for i := range deps {
		levels[level[i]] = append(levels[level[i]], i)
	}
	return levels, nil
}

// State is where a step is in a pipeline run.
type State int

// The states of a step. Pending steps wait for their dependencies;
// Blocked ones will not run because a dependency failed.
const (
	Pending  State = iota
	Checking       // hashing inputs and looking for a cached result
	Running        // its process runs
	Done           // ran and succeeded
	Cached         // skipped: a cached result matched
	Failed         // ran and failed
	Blocked        // not run: a step it depends on failed or was blocked
)

var stateNames = [...]string{"pending", "checking", "running", "done", "cached", "failed", "blocked"}

// String names the state as the table and --json show it.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText makes a State print as its name in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a State from its name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown step state %q", b)
}

// Finished reports whether the state is final.
func (s State) Finished() bool { return s >= Done }

// Advance is one decision of the runner: given each step's state, it
// returns the pending steps that are ready to start (every dependency Done
// or Cached), in file order, and the pending steps that can never run
// because a dependency Failed or is Blocked. It does not change st; a
// step blocked here may make others blocked on the next call.
func Advance(deps [][]int, st []State) (ready, blocked []int) {
	for i, s := range st {
		if s != Pending {
			continue
		}
		ok, dead := true, false
		for _, d := range deps[i] {
			switch st[d] {
			case Done, Cached:
			case Failed, Blocked:
				dead = true
			default:
				ok = false
			}
		}
		switch {
		case dead:
			blocked = append(blocked, i)
		case ok:
			ready = append(ready, i)
		}
	}
	return ready, blocked
}

// Descendants returns the steps reachable from roots through deps (those
// that read, directly or not, what a root writes), roots included, as a
// membership slice indexed by step.
func Descendants(deps [][]int, roots []int) []bool {
	in := make([]bool, len(deps))
	for _, r := range roots {
		in[r] = true
	}
	for changed := true; changed; {
		changed = false
		for i, ds := range deps {
			if in[i] {
				continue
			}
			for _, d := range ds {
				if in[d] {
					in[i], changed = true, true
					break
				}
			}
		}
	}
	return in
}
