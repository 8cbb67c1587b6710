package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/validate"
)

// validateRun collects what a kiln validate verb read, wrote and found,
// for its run in the store. Its methods are safe on a nil *validateRun
// (nothing is collected).
type validateRun struct {
	inputs, outputs []pathRole
	params          map[string]string
	metrics         map[string]float64
}

type pathRole struct{ path, role string }

// use notes files the verb read in role ("data", "stats", "schema").
// Saved statistics given where data is expected are noted as "stats".
func (v *validateRun) use(role string, paths ...string) {
	if v == nil {
		return
	}
	for _, p := range paths {
		r := role
		if r == "data" && validate.IsStatsFile(p) {
			r = "stats"
		}
		v.inputs = append(v.inputs, pathRole{p, r})
	}
}

// produce notes a file the verb wrote.
func (v *validateRun) produce(role, path string) {
	if v != nil && path != "" {
		v.outputs = append(v.outputs, pathRole{path, role})
	}
}

// set notes a parameter of the run's result.
func (v *validateRun) set(key string, val any) {
	if v == nil {
		return
	}
	if v.params == nil {
		v.params = map[string]string{}
	}
	v.params[key] = fmt.Sprint(val)
}

// metric notes a figure of the run's result (recorded at step 0).
func (v *validateRun) metric(name string, x float64) {
	if v == nil {
		return
	}
	if v.metrics == nil {
		v.metrics = map[string]float64{}
	}
	v.metrics[name] = x
}

// findings notes anomalies: their count (a parameter and a metric) and
// their kinds.
func (v *validateRun) findings(as []validate.Anomaly) {
	v.set("anomalies", len(as))
	v.metric("anomalies", float64(len(as)))
	var kinds []string
	for _, k := range validate.Kinds(as) {
		kinds = append(kinds, string(k))
	}
	v.set("anomaly_kinds", strings.Join(kinds, ","))
}

// distances notes each feature's drift or skew distance as the metric
// MEASURE/FEATURE (l_infinity/payment_type, jensen_shannon/fare).
func (v *validateRun) distances(ds []validate.Distance) {
	over := 0
	for _, d := range ds {
		v.metric(d.Measure+"/"+d.Feature, d.Value)
		if d.Exceeds {
			over++
		}
	}
	v.set("features_over_threshold", over)
}

// lastLine keeps the last line written through it, the message of a
// failed verb, and passes everything on.
type lastLine struct {
	w    io.Writer
	last []byte
}

func (l *lastLine) Write(p []byte) (int, error) {
	if t := bytes.TrimSpace(p); len(t) > 0 {
		if i := bytes.LastIndexByte(t, '\n'); i >= 0 {
			t = t[i+1:]
		}
		l.last = append(l.last[:0], t...)
	}
	return l.w.Write(p)
}

// recordValidate runs a kiln validate verb as a recorded run of kind
// "validate.VERB": the files it read (data, saved statistics, the schema)
// as inputs, the files it wrote (stats.json, schema.yaml, report.html) as
// outputs, and its result as parameters (result: clean, findings or
// error; exit_code, rows, anomalies,
// anomaly_kinds, features_over_threshold) and metrics (anomalies, and
// each feature's distance as MEASURE/FEATURE).
//
// A verb that exits 3 did its work: the run is recorded as succeeded,
// with exit_code 3 and the anomalies found in its parameters, because
// its outputs (the report, the statistics) are sound artifacts to look
// at; it is the pipeline step that exit 3 fails, not the validation. Exit
// 1 and 2 record a failed run with the verb's error message.
func recordValidate(verb string, args []string, stdout, stderr io.Writer, fn func([]string, *validateRun, io.Writer, io.Writer) int) int {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return fn(args, nil, stdout, stderr)
		}
	}
	ctx := context.Background()
	rec, err := startRecording(ctx, "validate."+verb, append([]string{"validate", verb}, args...), map[string]any{"args": args})
	if err != nil {
		return fail(stderr, "%v", err)
	}
	vr := &validateRun{}
	errs := &lastLine{w: stderr}
	code := fn(args, vr, stdout, errs)
	vr.set("exit_code", code)
	switch code {
	case exitOK:
		vr.set("result", "clean")
	case exitFound:
		vr.set("result", "findings")
	default:
		vr.set("result", "error")
	}
	var runErr error
	for _, in := range vr.inputs {
		if _, err := os.Stat(in.path); err != nil {
			continue
		}
		if _, err := rec.rec.UsePath(ctx, in.path, in.role); err != nil && runErr == nil {
			runErr = err
		}
	}
	for _, out := range vr.outputs {
		if _, err := os.Stat(out.path); err != nil {
			continue
		}
		if _, err := rec.rec.ProducePath(ctx, out.path, out.role); err != nil && runErr == nil {
			runErr = err
		}
	}
	if err := rec.rec.SetParams(ctx, vr.params); err != nil && runErr == nil {
		runErr = err
	}
	for name, x := range vr.metrics {
		rec.rec.LogMetric(name, 0, x)
	}
	if code != exitOK && code != exitFound && runErr == nil {
		msg := string(errs.last)
		if msg == "" {
			msg = "exited with code " + strconv.Itoa(code)
		}
		runErr = fmt.Errorf("kiln validate %s (exit %d): %s", verb, code, strings.TrimPrefix(msg, "kiln: "))
	}
	if err := rec.end(ctx, runErr, stderr); err != nil && (code == exitOK || code == exitFound) {
		return exitFailure
	}
	return code
}
