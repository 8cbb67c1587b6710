package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/internal/filehash"
)

// HashPath returns "sha256:HEX" of what is at path: for a file, the hash
// of its content; for a folder, the hash of a listing of every file under
// it (path relative to the folder, size and content hash, in lexical
// order), so that renaming, adding, removing or changing any file
// changes it. Symbolic links are hashed by their target's name.
func HashPath(path string) (string, error) {
	h, _, err := hashTree(path)
	return h, err
}

// hashTree returns HashPath's hash and the content hash (hex SHA-256) of
// every file, by path relative to path ("" for a file itself).
func hashTree(path string) (string, map[string]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", nil, err
	}
	if !fi.IsDir() {
		h, _, err := filehash.File(path)
		if err != nil {
			return "", nil, err
		}
		return "sha256:" + h, map[string]string{"": h}, nil
	}
	files := map[string]string{}
	tree := sha256.New()
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if rel != "." {
				fmt.Fprintf(tree, "d %q\n", rel)
			}
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(tree, "l %q %q\n", rel, target)
			files[rel] = "link:" + target
		case d.Type().IsRegular():
			h, n, err := filehash.File(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(tree, "f %q %d %s\n", rel, n, h)
			files[rel] = h
		default:
			return fmt.Errorf("%s: not a regular file, folder or link", p)
		}
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("hash %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(tree.Sum(nil)), files, nil
}

// PortHash is a named path with the hash of its content.
type PortHash struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Hash string `json:"hash"`
	// Files holds, when the runner has them, the content hash (hex
	// SHA-256) of each file under Path by relative path ("" for a file),
	// "link:TARGET" for a symbolic link, so that a recorder can record the
	// path without reading it again. It is not part of the cache key nor
	// of a cache entry's inputs and outputs (Entry.Files keeps outputs').
	Files map[string]string `json:"-"`
}

// StepKey is the cache key of a step: the SHA-256 of its kind, its full
// command line (arguments, parameters and port paths), the content hash
// of each input, its output paths, and the code version. Two runs of a
// step with equal keys would do the same work.
func StepKey(s *Step, inputs []PortHash, code string) string {
	ins := append([]PortHash(nil), inputs...)
	sort.Slice(ins, func(i, j int) bool { return ins[i].Name < ins[j].Name })
	var outs []string
	for _, o := range s.allOutputs() {
		outs = append(outs, o.Name+"="+o.Path)
	}
	b, _ := json.Marshal(struct {
		Kind    string     `json:"kind"`
		Command []string   `json:"command"`
		Inputs  []PortHash `json:"inputs"`
		Outputs []string   `json:"outputs"`
		Code    string     `json:"code"`
	}{s.Kind, s.Command(), ins, outs, code})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Command returns the step's command line after the program name: the
// kind's words, the args, each param as --key=value (sorted by key), and
// each input and output not named in the args as --NAME=PATH (inputs,
// then outputs, each sorted by name).
func (s *Step) Command() []string {
	cmd := strings.Fields(s.Kind)
	cmd = append(cmd, s.Args...)
	params := append([]Param(nil), s.Params...)
	sort.Slice(params, func(i, j int) bool { return params[i].Key < params[j].Key })
	for _, p := range params {
		cmd = append(cmd, "--"+p.Key+"="+p.Value)
	}
	for _, p := range s.FlagPorts() {
		cmd = append(cmd, "--"+p.Name+"="+p.Path)
	}
	return cmd
}

// FlagPorts returns the inputs and then the outputs (each sorted by name)
// that the command passes as --NAME=PATH flags: those its args do not
// name.
func (s *Step) FlagPorts() []Port {
	var out []Port
	for _, group := range []struct {
		prefix string
		ports  []Port
	}{{"inputs.", s.Inputs}, {"outputs.", s.Outputs}} {
		ports := append([]Port(nil), group.ports...)
		sort.Slice(ports, func(i, j int) bool { return ports[i].Name < ports[j].Name })
		for _, p := range ports {
			if !s.inArgs[group.prefix+p.Name] {
				out = append(out, p)
			}
		}
	}
	return out
}
