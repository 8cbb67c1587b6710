package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/pipeline"
)

// flagLineRE matches a flag in the flag package's PrintDefaults output.
var flagLineRE = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// verbFlags asks the kiln binary exe for the flags of a step kind by
// running `exe KIND -h` and reading its flag list. It returns nil when
// the help lists no flag in the usual form, so that the check is skipped
// rather than wrong.
func verbFlags(ctx context.Context, exe, kind string) map[string]bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, append(strings.Fields(kind), "-h")...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil
	}
	flags := map[string]bool{}
	for _, m := range flagLineRE.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	if len(flags) == 0 {
		return nil
	}
	return flags
}

// checkStepFlags rejects, before anything runs, a param or a port passed
// as a flag that the step's command does not take, at its file:line.
func checkStepFlags(ctx context.Context, exe string, g *pipeline.Graph) error {
	known := map[string]map[string]bool{}
	var errs pipeline.ErrorList
	for _, s := range g.Steps {
		flags, asked := known[s.Kind]
		if !asked {
			flags = verbFlags(ctx, exe, s.Kind)
			known[s.Kind] = flags
		}
		if flags == nil {
			continue
		}
		bad := func(pos pipeline.Pos, what, name string) {
			names := make([]string, 0, len(flags))
			for f := range flags {
				names = append(names, f)
			}
			sort.Strings(names)
			errs = append(errs, &pipeline.Error{Pos: pos, Msg: fmt.Sprintf("step %q: kiln %s has no flag --%s for %s %q (flags: %s)",
				s.Name, s.Kind, name, what, name, strings.Join(names, ", "))})
		}
		for _, p := range s.Params {
			if !flags[p.Key] {
				bad(p.Pos, "param", p.Key)
			}
		}
		for _, p := range s.FlagPorts() {
			if !flags[p.Name] {
				bad(p.Pos, "port", p.Name)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
