package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// runQuickstart is the main job end to end in one command: pull MNIST,
// train the MLP for one epoch, evaluate and save it.
func runQuickstart(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return usageErr(stderr, "quickstart takes no arguments")
	}
	if code := run([]string{"data", "pull", "mnist"}, stderr, stderr); code != exitOK {
		return code
	}
	out := filepath.Join(kilnHome(), "models", "quickstart")
	threads := "1"
	if n := os.Getenv("KILN_THREADS"); n != "" {
		threads = n
	}
	if code := run([]string{"train", "--model", "mlp", "--hidden", "256,128", "--data", "mnist", "--epochs", "1",
		"--batch", "32", "--lr", "0.04", "--momentum", "0.9", "--schedule", "cosine", "--threads", threads, "--out", out}, stdout, stderr); code != exitOK {
		return code
	}
	if code := run([]string{"eval", "--model", out, "--threads", threads}, stdout, stderr); code != exitOK {
		return code
	}
	test := filepath.Join(kilnHome(), "datasets", "mnist", "t10k-images-idx3-ubyte.gz")
	if _, err := os.Stat(test); err != nil {
		test = strings.TrimSuffix(test, ".gz")
	}
	if code := run([]string{"predict", "--model", out, "--limit", "3", test}, stdout, stderr); code != exitOK {
		return code
	}
	fmt.Fprintf(stdout, "model saved in %s\n", out)
	return exitOK
}
