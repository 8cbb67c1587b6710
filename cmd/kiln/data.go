package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/kiln-ml/kiln/data"
)

func runData(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "pull" {
		return usageErr(stderr, "data: usage: kiln data pull mnist|fashion-mnist [--dir DIR] [--from DIR] [--json]")
	}
	fs := flag.NewFlagSet("kiln data pull", flag.ContinueOnError)
	dir := fs.String("dir", "", "destination folder (default KILN_HOME/datasets/NAME)")
	from := fs.String("from", "", "copy from this local folder instead of downloading (hashes are still checked)")
	asJSON := fs.Bool("json", false, "print one JSON document on stdout")
	pos, code, ok := parseFlags(fs, args[1:], stderr)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, "data pull: name one data set: mnist or fashion-mnist")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	res, err := data.Pull(ctx, pos[0], data.PullOptions{Dir: *dir, From: *from, Log: stderr})
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "%s in %s (source: %s)\n", res.Dataset, res.Dir, res.Source)
	return exitOK
}
