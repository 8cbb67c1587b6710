package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser and the validator: they
// must never panic, and every rejection must be an ErrorList whose
// entries name the file.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("steps:\n  a:\n    kind: train\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("f.yaml", src, ParseOptions{Dir: "/w", Home: "/h"})
		if err == nil {
			_, err = Validate(p, ValidateOptions{Kinds: testKinds, Exists: func(string) bool { return false }})
			if err == nil {
				for _, s := range p.Steps {
					s.Command()
				}
				return
			}
		}
		var el ErrorList
		if !errors.As(err, &el) || len(el) == 0 {
			t.Fatalf("error %v is not a non-empty ErrorList", err)
		}
		for _, e := range el {
			if !strings.HasPrefix(e.Error(), "f.yaml") {
				t.Fatalf("error %q does not name the file", e)
			}
		}
	})
}
