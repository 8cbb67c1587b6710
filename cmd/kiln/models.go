package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/kiln-ml/kiln/store"
)

const modelsUsage = `usage: kiln models ls [NAME] [--stale] [--json]
       kiln models register NAME MODEL_DIR [--stage STAGE] [--json]
       kiln models promote NAME@VERSION STAGE [--json]

The model registry. register copies the model folder (as kiln train --out
wrote it) into the store's content-addressed artifacts and records it as
the next version of NAME, with the folder it came from as its lineage.
promote moves a version to a stage (none, staging, production,
archived); promoting to production archives the version that was there.
Each promotion is recorded as a run (kiln runs ls --kind models.promote)
with the version and its stage before and after.
ls --stale lists the versions whose data was deleted since they were
trained and that no fresh version has replaced (registering the same
weights again gives a version that is stale too).
`

// runModels runs `kiln models ls|register|promote`.
func runModels(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, modelsUsage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, modelsUsage)
		return exitOK
	case "ls":
		return runModelsLs(args[1:], stdout, stderr)
	case "register":
		return runModelsRegister(args[1:], stdout, stderr)
	case "promote":
		return runModelsPromote(args[1:], stdout, stderr)
	}
	return usageErr(stderr, "models: unknown verb %q (ls, register, promote)", args[0])
}

func runModelsLs(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln models ls", flag.ContinueOnError)
	stale := fs.Bool("stale", false, "only the stale versions that still need retraining")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return usageErr(stderr, "models ls: at most one model name")
	}
	ctx := context.Background()
	s, err := openStore(ctx)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer s.Close()
	var ms []store.Model
	if *stale {
		ms, err = s.StaleModels(ctx)
	} else {
		name := ""
		if len(pos) == 1 {
			name = pos[0]
		}
		ms, err = s.ListModels(ctx, name)
	}
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if *asJSON {
		if ms == nil {
			ms = []store.Model{}
		}
		return writeJSON(stdout, ms)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSTAGE\tSTALE\tREGISTERED\tSHA256\tSOURCE")
	for _, m := range ms {
		st := ""
		if m.Stale {
			st = "stale: " + m.StaleReason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.12s\t%s\n", m.Ref(), m.Stage, shorten(st, 50), m.Created.Local().Format("2006-01-02 15:04:05"), m.Hash, m.Source)
	}
	tw.Flush()
	return exitOK
}

func runModelsRegister(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln models register", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), modelsUsage+"\nFlags:\n"); fs.PrintDefaults() }
	stage := fs.String("stage", "", "also promote the new version to this stage")
	asJSON := fs.Bool("json", false, "print the registered version as one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		return usageErr(stderr, "models register: usage: kiln models register NAME MODEL_DIR")
	}
	name, dir := pos[0], pos[1]
	if *stage != "" {
		// Checked before anything is registered: a bad --stage must not
		// leave a new version behind a failed command.
		if err := store.CheckStage(*stage); err != nil {
			return usageErr(stderr, "models register: --stage: %v", err)
		}
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fail(stderr, "models register: %s is not a model folder", dir)
	}
	if store.Disabled() {
		return fail(stderr, "models register: the store is off (KILN_STORE=off)")
	}
	ctx := context.Background()
	s, err := openStore(ctx)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	defer s.Close()
	spec, err := commandRunSpec("", append([]string{"models", "register"}, args...), flagConfig(fs))
	if err != nil {
		return usageErr(stderr, "%v", err)
	}
	m, err := s.RegisterModelDir(ctx, name, dir, spec)
	if err != nil {
		return fail(stderr, "models register: %v", err)
	}
	if *stage != "" {
		if m, err = s.PromoteModel(ctx, m.Name, m.Version, *stage); err != nil {
			return fail(stderr, "models register: %v", err)
		}
	}
	if *asJSON {
		return writeJSON(stdout, m)
	}
	fmt.Fprintf(stdout, "registered %s (stage %s) from %s, stored in %s\n", m.Ref(), m.Stage, m.Source, m.Path)
	return exitOK
}

func runModelsPromote(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kiln models promote", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), modelsUsage+"\nFlags:\n"); fs.PrintDefaults() }
	asJSON := fs.Bool("json", false, "print the promoted version as one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args, stderr)
	if !ok {
		return code
	}
	if len(pos) != 2 {
		return usageErr(stderr, "models promote: usage: kiln models promote NAME@VERSION STAGE")
	}
	name, v, err := store.ParseModelRef(pos[0])
	if err != nil {
		return usageErr(stderr, "models promote: %v", err)
	}
	if err := store.CheckStage(pos[1]); err != nil {
		return usageErr(stderr, "models promote: %v", err)
	}
	ctx := context.Background()
	// The promotion is a run (kind models.promote), so that the stages a
	// version went through, and when, stay on record.
	rec, err := startRecording(ctx, "models.promote", append([]string{"models", "promote"}, args...), flagConfig(fs))
	if err != nil {
		return fail(stderr, "%v", err)
	}
	s := rec.store
	if s == nil {
		if s, err = openStore(ctx); err != nil {
			return fail(stderr, "%v", err)
		}
		defer s.Close()
	}
	m, err := promote(ctx, s, rec.rec, name, v, pos[1])
	if err := rec.end(ctx, err, stderr); err != nil {
		return fail(stderr, "models promote: %v", err)
	}
	if *asJSON {
		return writeJSON(stdout, m)
	}
	fmt.Fprintf(stdout, "%s is now %s\n", m.Ref(), m.Stage)
	return exitOK
}

// promote moves a model version to stage and records the move in rec's
// parameters: the version, its stage before and after.
func promote(ctx context.Context, s *store.Store, rec store.Recorder, name string, v int64, stage string) (store.Model, error) {
	before, err := s.GetModel(ctx, name, v)
	if err != nil {
		return store.Model{}, err
	}
	m, err := s.PromoteModel(ctx, name, before.Version, stage)
	if err != nil {
		return store.Model{}, err
	}
	return m, rec.SetParams(ctx, map[string]string{"model": m.Ref(), "from_stage": before.Stage, "stage": m.Stage})
}
