package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/internal/filehash"
)

// Artifact is a recorded file or folder.
type Artifact struct {
	ID int64 `json:"id"`
	// Hash is the SHA-256 of a file's content, or a folder's tree hash
	// (see the package documentation), in hex.
	Hash string `json:"hash"`
	// Kind is "file" or "dir".
	Kind string `json:"kind"`
	// Size is the number of content bytes (all files of a folder), and
	// Files the number of files.
	Size  int64 `json:"size"`
	Files int64 `json:"files"`
	// Path is where the artifact is: an absolute path where it was
	// recorded, or its place in the artifact directory when Stored.
	Path    string    `json:"path"`
	Stored  bool      `json:"stored"`
	Created time.Time `json:"created"`
}

// manifestEntry is one file of a folder.
type manifestEntry struct {
	rel  string // slash-separated
	hash string
	size int64
}

func manifestBytes(es []manifestEntry) []byte {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s  %d  %s\n", e.hash, e.size, e.rel)
	}
	return []byte(b.String())
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// walkTree lists the regular files under dir with their hashes, in byte
// order of their relative paths. Symbolic links are followed for files;
// anything else that is not a regular file or folder is an error. hash
// gives a file's content hash from its slash-separated path under dir and
// its entry; nil reads the content.
func walkTree(dir string, hash func(rel string, d fs.DirEntry) (string, error)) ([]manifestEntry, error) {
	var es []manifestEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		var h string
		n := fi.Size()
		if hash == nil {
			h, n, err = filehash.File(p)
		} else {
			h, err = hash(rel, d)
		}
		if err != nil {
			return err
		}
		es = append(es, manifestEntry{rel: rel, hash: h, size: n})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(es, func(a, b manifestEntry) int { return strings.Compare(a.rel, b.rel) })
	return es, nil
}

// treeSum returns the content hash and total size of a folder listed as es.
func treeSum(es []manifestEntry) (hash string, size int64) {
	for _, e := range es {
		size += e.size
	}
	return sum(manifestBytes(es)), size
}

// HashPath returns the content hash, kind, size and file count of a file
// or folder without recording it.
func HashPath(path string) (hash, kind string, size, files int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", "", 0, 0, fmt.Errorf("store: %w", err)
	}
	if fi.IsDir() {
		es, err := walkTree(path, nil)
		if err != nil {
			return "", "", 0, 0, fmt.Errorf("store: hash %s: %w", path, err)
		}
		hash, size = treeSum(es)
		return hash, "dir", size, int64(len(es)), nil
	}
	if !fi.Mode().IsRegular() {
		return "", "", 0, 0, fmt.Errorf("store: %s is neither a file nor a folder", path)
	}
	h, n, err := filehash.File(path)
	if err != nil {
		return "", "", 0, 0, fmt.Errorf("store: %w", err)
	}
	return h, "file", n, 1, nil
}

// RecordPath records the file or folder at path where it lies (it is not
// copied): its absolute path and content hash. Recording the same content
// at the same path again returns the same artifact.
func (s *Store) RecordPath(ctx context.Context, path string) (Artifact, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("store: %w", err)
	}
	h, kind, size, files, err := HashPath(abs)
	if err != nil {
		return Artifact{}, err
	}
	return s.insertArtifact(ctx, Artifact{Hash: h, Kind: kind, Size: size, Files: files, Path: abs})
}

// RecordHashedPath is RecordPath for a file or folder whose files the
// caller has just hashed: files maps each file's slash-separated path
// relative to path ("" for path itself when it is a file) to the hex
// SHA-256 of its content. Only the files' sizes are read, not their
// content, so the caller must hand the hashes of what is there now. When
// files is empty, names a symbolic link (a value "link:TARGET") or does
// not list exactly the regular files at path, the content is hashed as
// RecordPath does.
func (s *Store) RecordHashedPath(ctx context.Context, path string, files map[string]string) (Artifact, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("store: %w", err)
	}
	a, ok := knownArtifact(abs, files)
	if !ok {
		return s.RecordPath(ctx, abs)
	}
	return s.insertArtifact(ctx, a)
}

// errUnknown stops knownArtifact's listing at a file files does not
// describe.
var errUnknown = errors.New("file not among the known hashes")

// knownArtifact builds the artifact of the file or folder at abs from the
// content hashes in files, reporting false when they cannot describe it.
func knownArtifact(abs string, files map[string]string) (Artifact, bool) {
	fi, err := os.Stat(abs)
	if err != nil || len(files) == 0 {
		return Artifact{}, false
	}
	if !fi.IsDir() {
		h, ok := files[""]
		if !ok || len(files) != 1 || strings.HasPrefix(h, "link:") || !fi.Mode().IsRegular() {
			return Artifact{}, false
		}
		return Artifact{Hash: h, Kind: "file", Size: fi.Size(), Files: 1, Path: abs}, true
	}
	// A listing (no content read) checks that files names exactly the
	// regular files under abs, as walkTree would find them.
	es, err := walkTree(abs, func(rel string, d fs.DirEntry) (string, error) {
		h, ok := files[rel]
		if !ok || !d.Type().IsRegular() || strings.HasPrefix(h, "link:") {
			return "", errUnknown
		}
		return h, nil
	})
	if err != nil || len(es) != len(files) {
		return Artifact{}, false
	}
	h, size := treeSum(es)
	return Artifact{Hash: h, Kind: "dir", Size: size, Files: int64(len(es)), Path: abs}, true
}

// insertArtifact inserts a (or finds the row with the same hash and path).
func (s *Store) insertArtifact(ctx context.Context, a Artifact) (Artifact, error) {
	a.Created = time.UnixMicro(now()).UTC()
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO artifacts (hash, kind, size, files, path, stored, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (hash, path) DO NOTHING`), a.Hash, a.Kind, a.Size, a.Files, a.Path, boolInt(a.Stored), a.Created.UnixMicro())
	if err != nil {
		return Artifact{}, s.wrap(err, "record artifact "+a.Path)
	}
	as, err := s.queryArtifacts(ctx, "WHERE hash = ? AND path = ?", a.Hash, a.Path)
	if err != nil {
		return Artifact{}, err
	}
	if len(as) == 0 {
		return Artifact{}, fmt.Errorf("store: artifact %s at %s vanished after insert", a.Hash, a.Path)
	}
	return as[0], nil
}

// GetArtifact returns artifact id.
func (s *Store) GetArtifact(ctx context.Context, id int64) (Artifact, error) {
	as, err := s.queryArtifacts(ctx, "WHERE id = ?", id)
	if err != nil {
		return Artifact{}, err
	}
	if len(as) == 0 {
		return Artifact{}, fmt.Errorf("store: no artifact %d: %w", id, ErrNotFound)
	}
	return as[0], nil
}

// ArtifactsAt returns every artifact recorded at path (an absolute or
// relative path; each content it had is one artifact), oldest first, or
// under it when path is a folder prefix.
func (s *Store) ArtifactsAt(ctx context.Context, path string) ([]Artifact, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return s.queryArtifacts(ctx, "WHERE path = ? OR path LIKE ? ORDER BY id", abs, likePrefix(abs)+"/%")
}

// ArtifactsByHash returns every artifact with the given content hash.
func (s *Store) ArtifactsByHash(ctx context.Context, hash string) ([]Artifact, error) {
	return s.queryArtifacts(ctx, "WHERE hash = ? ORDER BY id", hash)
}

func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(p)
}

func (s *Store) queryArtifacts(ctx context.Context, where string, args ...any) ([]Artifact, error) {
	if strings.Contains(where, "LIKE ?") {
		where = strings.ReplaceAll(where, "LIKE ?", `LIKE ? ESCAPE '\'`)
	}
	rows, err := s.db.QueryContext(ctx, s.q("SELECT id, hash, kind, size, files, path, stored, created_at FROM artifacts "+where), args...)
	if err != nil {
		return nil, s.wrap(err, "read artifacts")
	}
	defer rows.Close()
	var out []Artifact
	for rows.Next() {
		var (
			a       Artifact
			stored  int
			created int64
		)
		if err := rows.Scan(&a.ID, &a.Hash, &a.Kind, &a.Size, &a.Files, &a.Path, &stored, &created); err != nil {
			return nil, s.wrap(err, "read artifacts")
		}
		a.Stored, a.Created = stored != 0, fromMicros(created)
		out = append(out, a)
	}
	return out, s.wrap(rows.Err(), "read artifacts")
}

// PutPath copies the file or folder at path into the artifact directory
// and records it as a stored artifact. Every file becomes a blob named by
// its hash (temporary file, fsync, rename); a folder's manifest is written
// after its blobs and the folder is materialised after that, so a reader
// never finds a partial artifact, and the database row comes last. On
// error nothing is recorded and no temporary file is left.
func (s *Store) PutPath(ctx context.Context, path string) (Artifact, error) {
	_, stored, err := s.putPath(path)
	if err != nil {
		return Artifact{}, err
	}
	return s.insertArtifact(ctx, stored)
}

// putPath copies the file or folder at path into the artifact directory
// as PutPath does, and returns, neither recorded yet, the artifact of path
// where it lies (what RecordPath records, from the hashes of the copy) and
// that of the stored copy.
func (s *Store) putPath(path string) (src, stored Artifact, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Artifact{}, Artifact{}, fmt.Errorf("store: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Artifact{}, Artifact{}, fmt.Errorf("store: %w", err)
	}
	if !fi.IsDir() {
		h, n, err := s.putBlobFile(abs)
		if err != nil {
			return Artifact{}, Artifact{}, err
		}
		src = Artifact{Hash: h, Kind: "file", Size: n, Files: 1, Path: abs}
		stored = src
		stored.Path, stored.Stored = s.blobPath(h), true
		return src, stored, nil
	}
	es, err := walkTree(abs, nil)
	if err != nil {
		return Artifact{}, Artifact{}, fmt.Errorf("store: put %s: %w", path, err)
	}
	var size int64
	for i, e := range es {
		h, n, err := s.putBlobFile(filepath.Join(abs, filepath.FromSlash(e.rel)))
		if err != nil {
			return Artifact{}, Artifact{}, err
		}
		if h != e.hash {
			return Artifact{}, Artifact{}, fmt.Errorf("store: put %s: %s changed while it was copied", path, e.rel)
		}
		es[i].size = n
		size += n
	}
	man := manifestBytes(es)
	tree, _, err := s.putBlob(strings.NewReader(string(man)))
	if err != nil {
		return Artifact{}, Artifact{}, err
	}
	dir, err := s.materialize(tree, es)
	if err != nil {
		return Artifact{}, Artifact{}, err
	}
	src = Artifact{Hash: tree, Kind: "dir", Size: size, Files: int64(len(es)), Path: abs}
	stored = src
	stored.Path, stored.Stored = dir, true
	return src, stored, nil
}

func (s *Store) blobPath(h string) string {
	return filepath.Join(s.artifacts, "blobs", h[:2], h)
}

func (s *Store) putBlobFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	return s.putBlob(f)
}

// putBlob streams r into a temporary file in the artifact directory,
// hashing it, syncs it and renames it to its hash. A blob already present
// is kept (same name, same content).
func (s *Store) putBlob(r io.Reader) (hash string, n int64, err error) {
	dir := filepath.Join(s.artifacts, "blobs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	tmp, err := s.fs.CreateTemp(dir, ".tmp-blob-*")
	if err != nil {
		return "", 0, fmt.Errorf("store: write blob: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			s.fs.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o444); err != nil {
		return "", 0, fmt.Errorf("store: write blob: %w", err)
	}
	h := sha256.New()
	n, err = io.Copy(io.MultiWriter(tmp, h), r)
	if err != nil {
		return "", 0, fmt.Errorf("store: write blob: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("store: write blob: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("store: write blob: %w", err)
	}
	hash = hex.EncodeToString(h.Sum(nil))
	final := s.blobPath(hash)
	if err = os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", 0, fmt.Errorf("store: %w", err)
	}
	if _, serr := os.Stat(final); serr == nil {
		s.fs.Remove(tmp.Name())
		return hash, n, nil
	}
	if err = s.fs.Rename(tmp.Name(), final); err != nil {
		return "", 0, fmt.Errorf("store: write blob %s: %w", hash, err)
	}
	if err = s.fs.SyncDir(filepath.Dir(final)); err != nil {
		return "", 0, fmt.Errorf("store: write blob %s: %w", hash, err)
	}
	return hash, n, nil
}

// materialize builds folder trees/TREE from its blobs: hard links (copies
// where links fail) in a temporary folder, renamed into place.
func (s *Store) materialize(tree string, es []manifestEntry) (string, error) {
	root := filepath.Join(s.artifacts, "trees")
	final := filepath.Join(root, tree)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".tmp-tree-*")
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		os.RemoveAll(tmp)
		return "", fmt.Errorf("store: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	for _, e := range es {
		dst := filepath.Join(tmp, filepath.FromSlash(e.rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("store: %w", err)
		}
		if err := os.Link(s.blobPath(e.hash), dst); err != nil {
			if err := copyFile(s.blobPath(e.hash), dst); err != nil {
				return "", fmt.Errorf("store: materialise %s: %w", tree, err)
			}
		}
	}
	if err := s.fs.SyncDir(tmp); err != nil {
		return "", fmt.Errorf("store: materialise %s: %w", tree, err)
	}
	if err := s.fs.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(final); serr == nil {
			return final, nil // another process put the same tree
		}
		return "", fmt.Errorf("store: materialise %s: %w", tree, err)
	}
	ok = true
	if err := s.fs.SyncDir(root); err != nil {
		return "", fmt.Errorf("store: materialise %s: %w", tree, err)
	}
	return final, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// VerifyArtifact re-hashes a's files and returns an error when their
// content no longer matches the recorded hash.
func (s *Store) VerifyArtifact(a Artifact) error {
	h, _, _, _, err := HashPath(a.Path)
	if err != nil {
		return err
	}
	if h != a.Hash {
		return fmt.Errorf("store: artifact %d at %s: content hash %s, recorded %s", a.ID, a.Path, h, a.Hash)
	}
	return nil
}
