package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs"
	"github.com/kiln-ml/kiln/validate"
)

const validateUsage = `usage: kiln validate stats|infer|check|drift|update|report [flags]
  stats   DATA... [--out stats.json]              statistics in one streaming pass
  infer   DATA... --out schema.yaml               propose a schema from the data
  check   DATA... --schema schema.yaml [--env E]  anomalies against a schema (exit 3 when found)
  drift   BASE CURRENT [--schema schema.yaml]     drift or --skew between two data sets (exit 3 over threshold)
  update  DATA... --schema schema.yaml [--out F]  propose the next schema version and show the differences
  report  DATA [BASE] --out report.html           one self-contained HTML page
DATA is a CSV, JSON Lines or Parquet file, or statistics saved by 'stats --out'.
Every verb takes --json.`

// runValidate is `kiln validate`.
func runValidate(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, validateUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	verbs := map[string]func([]string, *validateRun, io.Writer, io.Writer) int{
		"stats": validateStats, "infer": validateInfer, "check": validateCheck,
		"drift": validateDrift, "update": validateUpdate, "report": validateReport,
	}
	v, ok := verbs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kiln validate: unknown verb %q\n%s\n", args[0], validateUsage)
		return exitUsage
	}
	return recordValidate(args[0], args[1:], stdout, stderr, v)
}

// readFlags are the flags that say how data files are read.
type readFlags struct {
	format, columns, comment, sep, nulls *string
	trim                                 *bool
	workers                              *int
	asJSON                               *bool
}

func addReadFlags(fs *flag.FlagSet) *readFlags {
	fs.String("config", "", "YAML file of flag values")
	return &readFlags{
		format:  fs.String("format", "", "csv, jsonl or parquet (default: from each file's extension)"),
		columns: fs.String("columns", "", "comma-separated column names of CSV files without a header row"),
		comment: fs.String("comment", "", "a character that starts comment lines in CSV"),
		sep:     fs.String("sep", "", "CSV field separator (default ,)"),
		nulls:   fs.String("na", "", "comma-separated values that mean missing besides the empty field (e.g. ?,NA)"),
		trim:    fs.Bool("trim-space", false, "drop spaces after each CSV separator (\"a, b\")"),
		workers: fs.Int("workers", 0, "goroutines reading each CSV file (0: all cores)"),
		asJSON:  fs.Bool("json", false, "print one JSON document"),
	}
}

// options builds read options: the schema's csv section, then flags.
func (r *readFlags) options(fs *flag.FlagSet, schema *validate.Schema) (validate.Options, error) {
	o := validate.Options{Format: *r.format, Workers: *r.workers}
	if schema != nil && schema.CSV != nil {
		o.CSV = *schema.CSV
	}
	if flagGiven(fs, "columns") || *r.columns != "" {
		o.CSV.Columns = splitList(*r.columns)
	}
	if *r.comment != "" {
		if len(*r.comment) != 1 {
			return o, fmt.Errorf("--comment %q: want one character", *r.comment)
		}
		o.CSV.Comment = validate.Char((*r.comment)[0])
	}
	if *r.sep != "" {
		s := strings.ReplaceAll(*r.sep, `\t`, "\t")
		if len(s) != 1 {
			return o, fmt.Errorf("--sep %q: want one character", *r.sep)
		}
		o.CSV.Comma = validate.Char(s[0])
	}
	if *r.nulls != "" {
		o.CSV.Nulls = splitList(*r.nulls)
	}
	if *r.trim {
		o.CSV.TrimLeadingSpace = true
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// loadData returns the statistics of the given data files (read in
// parallel) and statistics files, merged into one data set.
func loadData(paths []string, o validate.Options, stderr io.Writer) (*validate.Stats, error) {
	start := time.Now()
	var statsFiles, dataFiles []string
	for _, p := range paths {
		if validate.IsStatsFile(p) {
			statsFiles = append(statsFiles, p)
		} else {
			dataFiles = append(dataFiles, p)
		}
	}
	var total *validate.Stats
	if len(dataFiles) > 0 {
		stop := showReadProgress(stderr, dataFiles, &o)
		s, err := validate.ComputeFiles(dataFiles, o)
		stop()
		if err != nil {
			return nil, err
		}
		total = s
	}
	merged := false
	for _, p := range statsFiles {
		s, err := validate.LoadStats(p)
		if err != nil {
			return nil, err
		}
		if total == nil {
			total = s
			continue
		}
		if err := total.Merge(s); err != nil {
			return nil, err
		}
		merged = true
	}
	if merged {
		total.Finish()
	}
	if d := time.Since(start); d > time.Second {
		fmt.Fprintf(stderr, "kiln validate: %d rows in %.1fs (%.0f rows/s)\n", total.Rows, d.Seconds(), float64(total.Rows)/d.Seconds())
	}
	return total, nil
}

func loadSchema(path string) (*validate.Schema, error) {
	if path == "" {
		return nil, nil
	}
	return validate.LoadSchema(path)
}

func validateStats(args []string, vr *validateRun, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln validate stats", flag.ContinueOnError)
	rf := addReadFlags(fs)
	out := fs.String("out", "", "write the statistics (with their sketches, for merging) as JSON here")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(files) == 0 {
		return usageErr(stderr, "validate stats: want at least one data file")
	}
	o, err := rf.options(fs, nil)
	if err != nil {
		return usageErr(stderr, "validate stats: %v", err)
	}
	start := time.Now()
	st, err := loadData(files, o, stderr)
	if err != nil {
		return fail(stderr, "validate stats: %v", err)
	}
	vr.use("data", files...)
	vr.set("rows", st.Rows)
	vr.set("features", len(st.Features))
	took := time.Since(start).Seconds()
	if *out != "" {
		if err := st.Save(*out); err != nil {
			return fail(stderr, "validate stats: %v", err)
		}
		vr.produce("stats", *out)
	}
	if *rf.asJSON {
		sum := st.Summary()
		sum.Seconds = took
		return writeJSON(stdout, sum)
	}
	printStats(stdout, st)
	return exitOK
}

func validateInfer(args []string, vr *validateRun, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln validate infer", flag.ContinueOnError)
	rf := addReadFlags(fs)
	out := fs.String("out", "", "write the schema (YAML) here")
	ranges := fs.Bool("ranges", false, "add each numeric feature's observed [min, max] as its range")
	maxDomain := fs.Int("max-domain", 100, "most distinct values of a string feature that gets a domain")
	minRows := fs.Float64("min-rows-fraction", 0, "set row_count.min to this fraction of the rows seen")
	drift := fs.Float64("drift-threshold", 0.1, "drift threshold written for every feature (negative: none)")
	envs := fs.String("environments", "", "comma-separated environments, e.g. TRAINING,SERVING")
	notIn := fs.String("not-in", "", "ENV:feature,... features absent in an environment, e.g. SERVING:tips")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(files) == 0 || *out == "" {
		return usageErr(stderr, "validate infer: want data files and --out schema.yaml")
	}
	o, err := rf.options(fs, nil)
	if err != nil {
		return usageErr(stderr, "validate infer: %v", err)
	}
	st, err := loadData(files, o, stderr)
	if err != nil {
		return fail(stderr, "validate infer: %v", err)
	}
	vr.use("data", files...)
	vr.set("rows", st.Rows)
	s := validate.Infer(st, validate.InferOptions{MaxDomainSize: *maxDomain, Ranges: *ranges, MinRowsFraction: *minRows, DriftThreshold: *drift})
	s.Environments = splitList(*envs)
	for _, p := range splitList(*notIn) {
		env, feat, ok := strings.Cut(p, ":")
		f := s.Feature(feat)
		if !ok || f == nil {
			return usageErr(stderr, "validate infer: --not-in %q: want ENV:feature with a feature of the data", p)
		}
		f.NotInEnvironment = append(f.NotInEnvironment, env)
	}
	if len(o.CSV.Columns) > 0 || o.CSV.Comment != 0 || o.CSV.Comma != 0 || o.CSV.TrimLeadingSpace || len(o.CSV.Nulls) > 0 {
		c := o.CSV
		s.CSV = &c
	}
	if err := s.Validate(); err != nil {
		return usageErr(stderr, "validate infer: %v", err)
	}
	if err := s.Save(*out); err != nil {
		return fail(stderr, "validate infer: %v", err)
	}
	vr.produce("schema", *out)
	vr.set("features", len(s.Features))
	if *rf.asJSON {
		return writeJSON(stdout, map[string]any{"out": *out, "rows": st.Rows, "features": len(s.Features), "schema": s})
	}
	fmt.Fprintf(stdout, "wrote %s: %d features from %d rows\n", *out, len(s.Features), st.Rows)
	return exitOK
}

func validateCheck(args []string, vr *validateRun, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln validate check", flag.ContinueOnError)
	rf := addReadFlags(fs)
	schemaPath := fs.String("schema", "", "schema (YAML)")
	env := fs.String("env", "", "environment, e.g. SERVING (default: the schema's default)")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(files) == 0 || *schemaPath == "" {
		return usageErr(stderr, "validate check: want data files and --schema schema.yaml")
	}
	s, err := loadSchema(*schemaPath)
	if err != nil {
		return fail(stderr, "validate check: %v", err)
	}
	if err := s.CheckEnv(*env); err != nil {
		return usageErr(stderr, "validate check: --env: %v", err)
	}
	o, err := rf.options(fs, s)
	if err != nil {
		return usageErr(stderr, "validate check: %v", err)
	}
	st, err := loadData(files, o, stderr)
	if err != nil {
		return fail(stderr, "validate check: %v", err)
	}
	vr.use("schema", *schemaPath)
	vr.use("data", files...)
	vr.set("rows", st.Rows)
	if *env != "" {
		vr.set("env", *env)
	}
	as := validate.Check(st, s, *env)
	vr.findings(as)
	if *rf.asJSON {
		return foundJSON(stdout, map[string]any{"rows": st.Rows, "anomalies": nonNil(as)}, as)
	}
	printAnomalies(stdout, as)
	return foundCode(as)
}

// foundCode is the exit code of a verb that found the anomalies as:
// exitFound when there are any, so that a pipeline step fails on them.
func foundCode(as []validate.Anomaly) int {
	if len(as) > 0 {
		return exitFound
	}
	return exitOK
}

// foundJSON prints v as JSON and returns foundCode(as), or the failure
// code when printing failed.
func foundJSON(w io.Writer, v any, as []validate.Anomaly) int {
	if c := writeJSON(w, v); c != exitOK {
		return c
	}
	return foundCode(as)
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func validateDrift(args []string, vr *validateRun, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln validate drift", flag.ContinueOnError)
	rf := addReadFlags(fs)
	schemaPath := fs.String("schema", "", "schema (YAML) with per-feature thresholds")
	skew := fs.Bool("skew", false, "training/serving skew: use the schema's skew thresholds")
	threshold := fs.Float64("threshold", 0.1, "threshold for every feature (with --schema: for those it gives none, when set)")
	bins := fs.Int("bins", 0, "Jensen-Shannon bins (0: the schema's, else 100)")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(files) != 2 {
		return usageErr(stderr, "validate drift: want BASE and CURRENT")
	}
	s, err := loadSchema(*schemaPath)
	if err != nil {
		return fail(stderr, "validate drift: %v", err)
	}
	o, err := rf.options(fs, s)
	if err != nil {
		return usageErr(stderr, "validate drift: %v", err)
	}
	base, err := loadData(files[:1], o, stderr)
	if err != nil {
		return fail(stderr, "validate drift: %v", err)
	}
	cur, err := loadData(files[1:], o, stderr)
	if err != nil {
		return fail(stderr, "validate drift: %v", err)
	}
	ds := validate.Compare(base, cur, s, validate.CompareOptions{Skew: *skew, Default: defaultThreshold(fs, s, *threshold), Bins: *bins})
	as := validate.DistanceAnomalies(ds, *skew)
	if *schemaPath != "" {
		vr.use("schema", *schemaPath)
	}
	vr.use("data", files...)
	vr.set("measure", map[bool]string{false: "drift", true: "skew"}[*skew])
	vr.distances(ds)
	vr.findings(as)
	if *rf.asJSON {
		return foundJSON(stdout, map[string]any{"distances": nonNil(ds), "anomalies": nonNil(as)}, as)
	}
	tw := tabwriter.NewWriter(stdout, 2, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tMEASURE\tVALUE\tTHRESHOLD\tOVER\tDETAIL")
	for _, d := range ds {
		th, over := "", ""
		if d.Threshold > 0 {
			th = fmt.Sprint(d.Threshold)
		}
		if d.Exceeds {
			over = "OVER"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.6f\t%s\t%s\t%s\n", d.Feature, d.Measure, d.Value, th, over, d.Detail)
	}
	tw.Flush()
	return foundCode(as)
}

func validateUpdate(args []string, vr *validateRun, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln validate update", flag.ContinueOnError)
	rf := addReadFlags(fs)
	schemaPath := fs.String("schema", "", "current schema (YAML)")
	env := fs.String("env", "", "environment of the new data")
	out := fs.String("out", "", "write the proposed schema here (default: print it)")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(files) == 0 || *schemaPath == "" {
		return usageErr(stderr, "validate update: want data files and --schema schema.yaml")
	}
	s, err := loadSchema(*schemaPath)
	if err != nil {
		return fail(stderr, "validate update: %v", err)
	}
	if err := s.CheckEnv(*env); err != nil {
		return usageErr(stderr, "validate update: --env: %v", err)
	}
	o, err := rf.options(fs, s)
	if err != nil {
		return usageErr(stderr, "validate update: %v", err)
	}
	st, err := loadData(files, o, stderr)
	if err != nil {
		return fail(stderr, "validate update: %v", err)
	}
	vr.use("schema", *schemaPath)
	vr.use("data", files...)
	vr.set("rows", st.Rows)
	next, diff := validate.Update(s, st, *env, validate.InferOptions{})
	vr.set("version", next.Version)
	vr.set("changes", len(diff))
	b, err := next.Encode()
	if err != nil {
		return fail(stderr, "validate update: %v", err)
	}
	if *out != "" {
		if err := vfs.WriteFileAtomic(vfs.OS, *out, b); err != nil {
			return fail(stderr, "validate update: %v", err)
		}
		vr.produce("schema", *out)
	}
	if *rf.asJSON {
		return writeJSON(stdout, map[string]any{"version": next.Version, "changes": nonNil(diff), "out": *out, "schema": next})
	}
	if len(diff) == 0 {
		fmt.Fprintf(stdout, "no changes: the data satisfies %s\n", *schemaPath)
	} else {
		fmt.Fprintf(stdout, "version %d -> %d, %d changes:\n", s.Version, next.Version, len(diff))
		for _, d := range diff {
			fmt.Fprintln(stdout, "  "+d)
		}
	}
	if *out == "" {
		fmt.Fprintln(stdout, "---")
		stdout.Write(b)
	}
	return exitOK
}

func validateReport(args []string, vr *validateRun, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln validate report", flag.ContinueOnError)
	rf := addReadFlags(fs)
	out := fs.String("out", "", "write the HTML report here")
	schemaPath := fs.String("schema", "", "schema (YAML) to check against")
	env := fs.String("env", "", "environment for the check")
	threshold := fs.Float64("threshold", 0.1, "drift threshold for every feature (with --schema: for those it gives none, when set)")
	files, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(files) < 1 || len(files) > 2 || *out == "" {
		return usageErr(stderr, "validate report: want DATA [BASE] and --out report.html")
	}
	s, err := loadSchema(*schemaPath)
	if err != nil {
		return fail(stderr, "validate report: %v", err)
	}
	if s != nil {
		if err := s.CheckEnv(*env); err != nil {
			return usageErr(stderr, "validate report: --env: %v", err)
		}
	}
	o, err := rf.options(fs, s)
	if err != nil {
		return usageErr(stderr, "validate report: %v", err)
	}
	cur, err := loadData(files[:1], o, stderr)
	if err != nil {
		return fail(stderr, "validate report: %v", err)
	}
	r := &validate.Report{Title: "Data validation: " + files[0], Current: cur}
	if s != nil {
		r.Anomalies = validate.Check(cur, s, *env)
	}
	if len(files) == 2 {
		if r.Base, err = loadData(files[1:], o, stderr); err != nil {
			return fail(stderr, "validate report: %v", err)
		}
		r.Title += " against " + files[1]
		r.Distances = validate.Compare(r.Base, cur, s, validate.CompareOptions{Default: defaultThreshold(fs, s, *threshold)})
		r.Anomalies = append(r.Anomalies, validate.DistanceAnomalies(r.Distances, false)...)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		return fail(stderr, "validate report: %v", err)
	}
	if err := vfs.WriteFileAtomic(vfs.OS, *out, b.Bytes()); err != nil {
		return fail(stderr, "validate report: %v", err)
	}
	if *schemaPath != "" {
		vr.use("schema", *schemaPath)
	}
	vr.use("data", files...)
	vr.produce("report", *out)
	vr.distances(r.Distances)
	vr.findings(r.Anomalies)
	if *rf.asJSON {
		return foundJSON(stdout, map[string]any{"out": *out, "anomalies": nonNil(r.Anomalies)}, r.Anomalies)
	}
	fmt.Fprintf(stdout, "wrote %s (%d anomalies)\n", *out, len(r.Anomalies))
	return foundCode(r.Anomalies)
}

// defaultThreshold is the threshold of the features a schema gives none:
// --threshold's value without a schema; with one, only when --threshold
// is given, so that a feature the schema's author left without a
// threshold stays unjudged unless asked.
func defaultThreshold(fs *flag.FlagSet, s *validate.Schema, v float64) float64 {
	if s == nil || flagGiven(fs, "threshold") {
		return v
	}
	return 0
}

// flagGiven reports whether the command line or --config set flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
