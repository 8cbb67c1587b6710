package main

import (
	_ "embed"
	"io"
	"os"
)

// quickstartPipeline is examples/quickstart/pipeline.yaml, built in so that
// `kiln quickstart` works from any folder; a test keeps the two equal.
//
//go:embed quickstart.yaml
var quickstartPipeline string

// runQuickstart is the main job end to end in one command: the quickstart
// pipeline (pull MNIST, train the MLP for one epoch, evaluate, register),
// cached like any pipeline. It takes kiln pipeline run's flags; KILN_THREADS
// sets the threads variable.
func runQuickstart(args []string, stdout, stderr io.Writer) int {
	if n := os.Getenv("KILN_THREADS"); n != "" {
		args = append([]string{"--set", "threads=" + n}, args...)
	}
	return runPipelineRun(args, stdout, stderr, quickstartPipeline)
}
