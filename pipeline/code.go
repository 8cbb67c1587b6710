package pipeline

import (
	"debug/buildinfo"
	"fmt"
)

// CodeVersion identifies the code a step runs with: the git commit the
// program was built from (with "+dirty" when the tree had changes), read
// from the binary's build information, and the SHA-256 of the binary
// itself. The cache keys on the whole string, and the binary's hash is
// what makes it exact: a rebuild from a dirty tree with the same commit
// gives another hash, and so re-runs the steps.
type CodeVersion struct {
	Commit string `json:"commit,omitempty"`
	Dirty  bool   `json:"dirty"`
	Binary string `json:"binary_sha256"`
}

// String is the form the cache key and the store record.
func (c CodeVersion) String() string {
	s := c.Commit
	if s == "" {
		s = "unknown-commit"
	}
	if c.Dirty {
		s += "+dirty"
	}
	return s + " " + c.Binary
}

// ReadCodeVersion computes the CodeVersion of the program at exe.
func ReadCodeVersion(exe string) (CodeVersion, error) {
	var v CodeVersion
	h, err := HashPath(exe)
	if err != nil {
		return v, fmt.Errorf("code version: %w", err)
	}
	v.Binary = h
	if bi, err := buildinfo.ReadFile(exe); err == nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Dirty = s.Value == "true"
			}
		}
	}
	return v, nil
}
