package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/tensor"
)

func blasName() string { return tensor.Backend().Name() }

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitFailure
	}
	return exitOK
}

// kilnHome returns KILN_HOME, by default ~/.kiln.
func kilnHome() string { return data.KilnHome() }

// parseFlags parses args into fs, allowing flags after positional
// arguments, and applies a YAML --config file first when the flag set has
// one: its keys are flag names, and flags on the command line override it.
// It returns the positional arguments, or an exit code on error.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, int, bool) {
	fs.SetOutput(stderr)
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, false
			}
			return nil, exitUsage, false
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		pos = append(pos, rest[0])
		rest = rest[1:]
	}
	if cf := fs.Lookup("config"); cf != nil && cf.Value.String() != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if err := applyConfig(fs, cf.Value.String(), set); err != nil {
			fmt.Fprintf(stderr, "kiln: %v\n", err)
			return nil, exitUsage, false
		}
	}
	return pos, exitOK, true
}

// applyConfig sets every flag named in the YAML file that the command line
// did not set.
func applyConfig(fs *flag.FlagSet, path string, set map[string]bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	for k, v := range m {
		name := strings.ReplaceAll(k, "_", "-")
		f := fs.Lookup(name)
		if f == nil || name == "config" {
			return fmt.Errorf("config %s: unknown setting %q", path, k)
		}
		if set[name] {
			continue
		}
		var s string
		switch x := v.(type) {
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			s = fmt.Sprint(x)
		}
		if err := fs.Set(name, s); err != nil {
			return fmt.Errorf("config %s: setting %q: %w", path, k, err)
		}
	}
	return nil
}

// fail prints an error and returns the failure exit code.
func fail(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "kiln: "+format+"\n", args...)
	return exitFailure
}

func usageErr(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "kiln: "+format+"\n", args...)
	return exitUsage
}
