// Command kiln is the machine-learning lifecycle in one binary: pull and
// validate data, label it, train, evaluate and predict. Each verb's logic
// lives in the library packages; this command parses flags, wires the
// packages together and prints results.
//
// Exit codes: 0 success, 1 failure, 2 usage error, 3 ran fine but found a
// problem that should stop a pipeline (validation anomalies, drift).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// Exit codes shared by every verb.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitFound   = 3
)

type verb struct {
	run  func(args []string, stdout, stderr io.Writer) int
	help string
}

func verbs() map[string]verb {
	return map[string]verb{
		"train":      {runTrain, "train a model: kiln train --model mlp|lenet5 --data mnist|fashion-mnist ..."},
		"eval":       {runEval, "evaluate a saved model on a data set's test split"},
		"predict":    {runPredict, "classify IDX or PNG images with a saved model"},
		"data":       {runData, "data pull|add|delete: fetch MNIST-format sets, record a data set, delete rows from a CSV one"},
		"validate":   {runValidate, "validate stats|infer|check|drift|update|report: statistics, schemas, anomalies, drift"},
		"label":      {runLabel, "label apply|analyze|fit|predict: labeling functions and label models"},
		"runs":       {runRuns, "runs ls|show: the runs recorded in the store"},
		"models":     {runModels, "models ls|register|promote: the model registry"},
		"lineage":    {runLineage, "lineage MODEL@VERSION | --uses PATH|DATASET: where a model came from, what a data set fed"},
		"pipeline":   {runPipeline, "pipeline run|check FILE: run a YAML DAG of kiln steps, skipping cached ones"},
		"quickstart": {runQuickstart, "the quickstart pipeline: pull MNIST, train the MLP for one epoch, evaluate, register"},
		"serve":      {runServe, "serve a model repository over the Open Inference Protocol (REST and gRPC)"},
		"version":    {runVersion, "print the version"},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	vs := verbs()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, vs)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	v, ok := vs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "kiln: unknown command %q\n", args[0])
		usage(stderr, vs)
		return exitUsage
	}
	return v.run(args[1:], stdout, stderr)
}

func usage(w io.Writer, vs map[string]verb) {
	fmt.Fprintln(w, "usage: kiln COMMAND [flags]  (kiln COMMAND -h for a command's flags)")
	names := make([]string, 0, len(vs))
	for n := range vs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, vs[n].help)
	}
}

func runVersion(args []string, stdout, _ io.Writer) int {
	version, commit := "devel", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	for _, a := range args {
		if strings.TrimLeft(a, "-") == "json" {
			return writeJSON(stdout, map[string]string{"version": version, "commit": commit, "blas": blasName()})
		}
	}
	fmt.Fprintf(stdout, "kiln %s %s (blas: %s)\n", version, commit, blasName())
	return exitOK
}
