package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// labelBoolFlags are the kiln label flags that take no value.
var labelBoolFlags = map[string]bool{"json": true, "keep-uncovered": true, "h": true, "help": true}

// labelPaths are the kiln label flags naming files read (in) and written
// (out), per verb; positional arguments are data files read.
var labelPaths = map[string]struct{ in, out []string }{
	"apply":   {in: []string{"lfs"}, out: []string{"out"}},
	"analyze": {in: []string{"lfs", "matrix"}},
	"fit":     {in: []string{"matrix", "wrench", "valid-matrix", "valid-data"}, out: []string{"out", "probs", "end-model"}},
	"predict": {in: []string{"model", "end-model", "matrix", "lfs"}, out: []string{"out"}},
}

// labelIO splits a kiln label command line into the paths it reads and
// writes: the values of the verb's path flags (comma-separated lists
// split) and the positional arguments.
func labelIO(verb string, args []string) (in, out []string) {
	kinds := labelPaths[verb]
	role := map[string]*[]string{}
	for _, f := range kinds.in {
		role[f] = &in
	}
	for _, f := range kinds.out {
		role[f] = &out
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			in = append(in, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			in = append(in, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasVal && !labelBoolFlags[name] && i+1 < len(args) {
			i++
			val = args[i]
		}
		if dst := role[name]; dst != nil && val != "" {
			*dst = append(*dst, strings.Split(val, ",")...)
		}
	}
	return in, out
}

// recordLabel runs a kiln label verb as a recorded run of kind
// "label.VERB": the files it read and wrote, when it succeeded.
func recordLabel(verb string, args []string, stdout, stderr io.Writer, fn func([]string, io.Writer, io.Writer) int) int {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return fn(args, stdout, stderr)
		}
	}
	ctx := context.Background()
	rec, err := startRecording(ctx, "label."+verb, append([]string{"label", verb}, args...), map[string]any{"args": args})
	if err != nil {
		return fail(stderr, "%v", err)
	}
	code := fn(args, stdout, stderr)
	var runErr error
	if code == exitOK {
		in, out := labelIO(verb, args)
		for _, p := range in {
			if _, err := os.Stat(p); err != nil {
				continue // a name (a built-in data set), not a file
			}
			if _, err := rec.rec.UsePath(ctx, p, "data"); err != nil && runErr == nil {
				runErr = err
			}
		}
		for _, p := range out {
			if _, err := os.Stat(p); err != nil {
				continue
			}
			if _, err := rec.rec.ProducePath(ctx, p, "output"); err != nil && runErr == nil {
				runErr = err
			}
		}
	} else {
		runErr = fmt.Errorf("kiln label %s exited with code %d", verb, code)
	}
	if err := rec.end(ctx, runErr, stderr); err != nil && code == exitOK {
		return exitFailure
	}
	return code
}
