package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kiln-ml/kiln/store"
)

const runsUsage = `usage: kiln runs ls [--kind K] [--status S] [--parent ID] [--limit N] [--json]
       kiln runs show ID [--metrics] [--json]

List the runs recorded in the store (KILN_HOME/store.db, or KILN_STORE's
PostgreSQL), newest first, or show one: command line, configuration, code
version, host and process, status, parameters, inputs, outputs and a
summary of its metrics (every value with --metrics).
`

// runRuns runs `kiln runs ls|show`.
func runRuns(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, runsUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, runsUsage)
		return exitOK
	case "ls":
		return runRunsLs(args[1:], stdout, stderr)
	case "show":
		return runRunsShow(args[1:], stdout, stderr)
	}
	return usageErr(stderr, "runs: unknown verb %q (ls, show)", args[0])
}

func runRunsLs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln runs ls", flag.ContinueOnError)
	kind := fs.String("kind", "", "only runs of this kind (train, eval, data.pull, data.delete, models.register, pipeline, ...)")
	status := fs.String("status", "", "only runs in this state (running, succeeded, failed, cached, blocked)")
	parent := fs.Int64("parent", 0, "only runs started by this run")
	limit := fs.Int("limit", 50, "at most this many runs")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, "runs ls: unexpected argument %q", pos[0])
	}
	switch store.Status(*status) {
	case "", store.Running, store.Succeeded, store.Failed, store.Cached, store.Blocked:
	default:
		return usageErr(stderr, "runs ls: unknown --status %q (running, succeeded, failed, cached, blocked)", *status)
	}
	ctx := context.Background()
	s, err := openStore(ctx)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer s.Close()
	runs, err := s.ListRuns(ctx, store.RunFilter{Kind: *kind, Status: store.Status(*status), Parent: *parent, Limit: *limit})
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if *asJSON {
		if runs == nil {
			runs = []store.RunInfo{}
		}
		return writeJSON(stdout, runs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tNAME\tSTATUS\tSTARTED\tDURATION\tPARENT\tCOMMAND")
	for _, r := range runs {
		parent := ""
		if r.Parent != 0 {
			parent = strconv.FormatInt(r.Parent, 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Name, r.Status, r.Started.Local().Format("2006-01-02 15:04:05"),
			duration(r), parent, shorten(shellJoin(r.Command), 60))
	}
	tw.Flush()
	return exitOK
}

func duration(r store.RunInfo) string {
	if r.Ended.IsZero() {
		return "-"
	}
	return r.Ended.Sub(r.Started).Round(time.Millisecond).String()
}

// shorten cuts s to at most n characters (runes, so that a cut never
// splits a UTF-8 sequence), ending a cut one with "…".
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// shellJoin joins a command line for display so that it can be pasted
// into a POSIX shell: an argument holding anything but letters, digits
// and -_./=:,@+% is single-quoted.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(a string) string {
	if a == "" {
		return "''"
	}
	safe := true
	for _, c := range a {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./=:,@+%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return a
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// runDetail is what kiln runs show prints with --json.
type runDetail struct {
	store.RunInfo
	Inputs   []store.RunArtifact       `json:"inputs"`
	Outputs  []store.RunArtifact       `json:"outputs"`
	Children []int64                   `json:"children,omitempty"`
	Metrics  map[string]metricsSummary `json:"metrics"`
	Values   []store.Metric            `json:"values,omitempty"`
}

// metricsSummary condenses one metric's values.
type metricsSummary struct {
	Count    int     `json:"count"`
	First    float64 `json:"first"`
	Last     float64 `json:"last"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	LastStep int64   `json:"last_step"`
}

func runRunsShow(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln runs show", flag.ContinueOnError)
	all := fs.Bool("metrics", false, "print every metric value")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, "runs show: name one run id")
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return usageErr(stderr, "runs show: run id %q is not a number", pos[0])
	}
	ctx := context.Background()
	s, err := openStore(ctx)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer s.Close()
	r, err := s.GetRun(ctx, id)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	d := runDetail{RunInfo: *r, Metrics: map[string]metricsSummary{}}
	if d.Inputs, err = s.RunInputs(ctx, id); err != nil {
		return fail(stderr, "%v", err)
	}
	if d.Outputs, err = s.RunOutputs(ctx, id); err != nil {
		return fail(stderr, "%v", err)
	}
	kids, err := s.ListRuns(ctx, store.RunFilter{Parent: id, Limit: 10000})
	if err != nil {
		return fail(stderr, "%v", err)
	}
	for i := len(kids) - 1; i >= 0; i-- {
		d.Children = append(d.Children, kids[i].ID)
	}
	ms, err := s.Metrics(ctx, id, "")
	if err != nil {
		return fail(stderr, "%v", err)
	}
	var names []string
	for _, m := range ms {
		sm, seen := d.Metrics[m.Name]
		if !seen {
			names = append(names, m.Name)
			sm = metricsSummary{First: m.Value, Min: m.Value, Max: m.Value}
		}
		sm.Count++
		sm.Last, sm.LastStep = m.Value, m.Step
		sm.Min, sm.Max = min(sm.Min, m.Value), max(sm.Max, m.Value)
		d.Metrics[m.Name] = sm
	}
	if *all {
		d.Values = ms
	}
	if *asJSON {
		return writeJSON(stdout, d)
	}
	w := stdout
	fmt.Fprintf(w, "run %d  %s %s\n", r.ID, r.Kind, r.Name)
	fmt.Fprintf(w, "  status   %s", r.Status)
	if r.Error != "" {
		fmt.Fprintf(w, ": %s", r.Error)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  command  %s\n", shellJoin(r.Command))
	dirty := ""
	if r.Code.Dirty {
		dirty = " (dirty)"
	}
	fmt.Fprintf(w, "  code     %s%s\n", orDash(r.Code.Commit), dirty)
	fmt.Fprintf(w, "  host     %s pid %d\n", r.Host, r.PID)
	fmt.Fprintf(w, "  started  %s, took %s\n", r.Started.Local().Format(time.RFC3339), duration(*r))
	if r.Parent != 0 {
		fmt.Fprintf(w, "  parent   run %d\n", r.Parent)
	}
	if len(d.Children) > 0 {
		fmt.Fprintf(w, "  children %v\n", d.Children)
	}
	if r.CacheKey != "" {
		fmt.Fprintf(w, "  cache    %s\n", r.CacheKey)
	}
	fmt.Fprintf(w, "  config   %s\n", r.Config)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Params) > 0 {
		fmt.Fprintln(tw, "params:")
		for _, k := range sortedKeys(r.Params) {
			fmt.Fprintf(tw, "  %s\t%s\n", k, r.Params[k])
		}
	}
	for _, io := range []struct {
		name string
		as   []store.RunArtifact
	}{{"inputs", d.Inputs}, {"outputs", d.Outputs}} {
		if len(io.as) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s:\n", io.name)
		for _, a := range io.as {
			fmt.Fprintf(tw, "  [%s]\t%s %s\tsha256 %.16s\t%d bytes\n", a.Role, a.Kind, a.Path, a.Hash, a.Size)
		}
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(names) > 0 {
		fmt.Fprintln(tw, "metrics:\tcount\tfirst\tlast\tmin\tmax")
		for _, n := range names {
			m := d.Metrics[n]
			fmt.Fprintf(tw, "  %s\t%d\t%.6g\t%.6g\t%.6g\t%.6g\n", n, m.Count, m.First, m.Last, m.Min, m.Max)
		}
	}
	tw.Flush()
	if *all {
		for _, m := range ms {
			fmt.Fprintf(w, "%s\t%d\t%g\n", m.Name, m.Step, m.Value)
		}
	}
	return exitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
