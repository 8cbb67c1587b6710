package pipeline

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The schedule is a pure function of the DAG, checked against tables.
// Each dag lists, for step i, the steps it reads from.

func TestLevels(t *testing.T) {
	cases := []struct {
		name string
		deps [][]int
		want [][]int
	}{
		{"one", [][]int{nil}, [][]int{{0}}},
		{"chain", [][]int{nil, {0}, {1}}, [][]int{{0}, {1}, {2}}},
		{"independent", [][]int{nil, nil, nil}, [][]int{{0, 1, 2}}},
		// pull ─► train ─► eval ─► register, and pull ─► stats
		{"quickstart+stats", [][]int{nil, {0}, {1}, {2}, {0}}, [][]int{{0}, {1, 4}, {2}, {3}}},
		// diamond: 0 ─► 1, 2 ─► 3; a step waits for its deepest input
		{"diamond", [][]int{nil, {0}, {0}, {1, 2}}, [][]int{{0}, {1, 2}, {3}}},
		{"skewed", [][]int{nil, {0}, {1}, {0, 2}, nil}, [][]int{{0, 4}, {1}, {2}, {3}}},
		// file order need not be running order
		{"reversed", [][]int{{1}, {2}, nil}, [][]int{{2}, {1}, {0}}},
	}
	for _, c := range cases {
		got, err := Levels(c.deps)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Levels = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := Levels([][]int{{1}, {0}}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
}

func TestCycles(t *testing.T) {
	cases := []struct {
		deps [][]int
		want [][]int
	}{
		{[][]int{nil, {0}, {1}}, nil},
		{[][]int{{0}}, [][]int{{0}}},
		// 0 reads 2, 1 reads 0, 2 reads 1: each step of the cycle is
		// read by the next (0 by 1, 1 by 2) and the last by the first.
		{[][]int{{2}, {0}, {1}}, [][]int{{0, 1, 2}}},
		{[][]int{{1}, {0}, {3}, {2}}, [][]int{{0, 1}, {2, 3}}},
		{[][]int{nil, {0, 2}, {1}}, [][]int{{1, 2}}},
	}
	for _, c := range cases {
		if got := Cycles(c.deps); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Cycles(%v) = %v, want %v", c.deps, got, c.want)
		}
	}
}

func TestAdvance(t *testing.T) {
	P, R, D, C, F, B := Pending, Running, Done, Cached, Failed, Blocked
	diamond := [][]int{nil, {0}, {0}, {1, 2}, nil}
	cases := []struct {
		st             []State
		ready, blocked []int
	}{
		{[]State{P, P, P, P, P}, []int{0, 4}, nil},
		{[]State{R, P, P, P, R}, nil, nil},
		{[]State{D, P, P, P, D}, []int{1, 2}, nil},
		{[]State{C, D, R, P, D}, nil, nil},
		{[]State{C, D, C, P, C}, []int{3}, nil},
		// a failed step blocks its dependents only; the others go on
		{[]State{F, P, P, P, P}, []int{4}, []int{1, 2}},
		{[]State{D, F, R, P, D}, nil, []int{3}},
		{[]State{D, B, D, P, D}, nil, []int{3}},
		{[]State{D, D, D, D, D}, nil, nil},
	}
	for _, c := range cases {
		ready, blocked := Advance(diamond, c.st)
		if !reflect.DeepEqual(ready, c.ready) || !reflect.DeepEqual(blocked, c.blocked) {
			t.Errorf("Advance(%v) = ready %v blocked %v; want %v %v", c.st, ready, blocked, c.ready, c.blocked)
		}
	}
}

func TestDescendants(t *testing.T) {
	deps := [][]int{nil, {0}, {1}, {0}, nil, {2, 4}}
	cases := []struct {
		roots []int
		want  []bool
	}{
		{nil, []bool{false, false, false, false, false, false}},
		{[]int{1}, []bool{false, true, true, false, false, true}},
		{[]int{0}, []bool{true, true, true, true, false, true}},
		{[]int{4, 3}, []bool{false, false, false, true, true, true}},
	}
	for _, c := range cases {
		if got := Descendants(deps, c.roots); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Descendants(%v) = %v, want %v", c.roots, got, c.want)
		}
	}
}

func TestFormatTable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []StepResult{
		{Name: "pull", Kind: "data pull", State: Cached, Seconds: 0.04, Reason: "result of 2026-01-01T00:00:00Z"},
		{Name: "train", Kind: "train", State: Running, Started: t0},
		{Name: "evaluate", Kind: "eval", State: Pending},
		{Name: "x", Kind: "train", State: Failed, Seconds: 2, Error: "exit status 1: boom"},
	}
	got := FormatTable(steps, t0.Add(1500*time.Millisecond))
	want := []string{
		"STEP      KIND       STATE       TIME",
		"pull      data pull  cached      0.0s  result of 2026-01-01T00:00:00Z",
		"train     train      running     1.5s",
		"evaluate  eval       pending",
		"x         train      failed      2.0s  exit status 1: boom",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
