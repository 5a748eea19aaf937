package blob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// FSStore keeps objects as files under a root directory, for `vellum dev`
// and single-machine installs. A key's slashes become directories. The
// content type lives in a hidden sidecar file next to the object
// (".<name>.meta"), which needs no extended attributes from the filesystem.
type FSStore struct {
	root string
}

var _ Store = (*FSStore)(nil)

// fsMeta is the sidecar's content.
type fsMeta struct {
	ContentType string `json:"contentType"`
}

// NewFSStore returns a store rooted at dir, creating it if needed.
func NewFSStore(dir string) (*FSStore, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: fs store root %q: %w", dir, err)
	}
	if err := os.MkdirAll(root, 0o750); err != nil {
		return nil, fmt.Errorf("blob: create fs store root: %w", err)
	}
	return &FSStore{root: root}, nil
}

// Put writes to a temporary file in the object's directory and renames it
// over the key only when complete and synced, so a crash or a failed read
// never leaves a partial object under the real key.
func (s *FSStore) Put(ctx context.Context, key string, r io.Reader, contentType string) (Object, error) {
	p, err := s.path(key)
	if err != nil {
		return Object{}, err
	}
	if contentType == "" {
		contentType = defaultContentType
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return Object{}, fmt.Errorf("blob: put %q: create directory: %w", key, err)
	}
	tmp, err := writeTemp(dir, ctxReader{ctx, r})
	if err != nil {
		return Object{}, fmt.Errorf("blob: put %q: %w", key, err)
	}
	defer os.Remove(tmp) // a no-op once renamed

	meta, err := json.Marshal(fsMeta{ContentType: contentType})
	if err != nil {
		return Object{}, fmt.Errorf("blob: put %q: encode metadata: %w", key, err)
	}
	// The sidecar goes first: a crash between the two renames leaves at
	// worst the old bytes with the new content type, never bytes without one.
	if err := writeFileAtomic(metaPath(p), meta); err != nil {
		return Object{}, fmt.Errorf("blob: put %q: write metadata: %w", key, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return Object{}, fmt.Errorf("blob: put %q: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return Object{}, fmt.Errorf("blob: put %q: %w", key, err)
	}
	return s.Stat(ctx, key)
}

// Get opens the object's file; the returned reader is the *os.File itself.
func (s *FSStore) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, Object{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, Object{}, fsError("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Object{}, fmt.Errorf("blob: get %q: %w", key, err)
	}
	obj, err := s.object(key, p, fi)
	if err != nil {
		f.Close()
		return nil, Object{}, err
	}
	return f, obj, nil
}

// Stat describes the object from its file and sidecar.
func (s *FSStore) Stat(ctx context.Context, key string) (Object, error) {
	p, err := s.path(key)
	if err != nil {
		return Object{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Object{}, fsError("stat", key, err)
	}
	return s.object(key, p, fi)
}

// Delete removes the object and then its sidecar; a sidecar orphaned by a
// crash in between is invisible and overwritten by the next Put. Emptied
// directories are left in place: removing them would race with a concurrent
// Put creating a file in them.
func (s *FSStore) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return nil // a key prefix, not an object
	}
	for _, name := range []string{p, metaPath(p)} {
		if err := os.Remove(name); err != nil && !isNotExist(err) {
			return fmt.Errorf("blob: delete %q: %w", key, err)
		}
	}
	return nil
}

// Ping checks that the root directory accepts new files.
func (s *FSStore) Ping(ctx context.Context) error {
	f, err := os.CreateTemp(s.root, ".ping-*")
	if err != nil {
		return fmt.Errorf("blob: ping fs store %s: %w", s.root, err)
	}
	f.Close()
	if err := os.Remove(f.Name()); err != nil {
		return fmt.Errorf("blob: ping fs store %s: %w", s.root, err)
	}
	return nil
}

func (s *FSStore) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

func (s *FSStore) object(key, p string, fi fs.FileInfo) (Object, error) {
	if !fi.Mode().IsRegular() {
		// A directory here is a prefix of other keys, not an object.
		return Object{}, fmt.Errorf("blob: %q: %w", key, ErrNotFound)
	}
	obj := Object{Key: key, Size: fi.Size(), ContentType: defaultContentType, ModTime: fi.ModTime().UTC()}
	b, err := os.ReadFile(metaPath(p))
	switch {
	case isNotExist(err):
		return obj, nil
	case err != nil:
		return Object{}, fmt.Errorf("blob: %q: read metadata: %w", key, err)
	}
	var m fsMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return Object{}, fmt.Errorf("blob: %q: decode metadata: %w", key, err)
	}
	if m.ContentType != "" {
		obj.ContentType = m.ContentType
	}
	return obj, nil
}

// metaPath is the sidecar of the object file p. Keys cannot have segments
// starting with a dot, so it never collides with another object.
func metaPath(p string) string {
	return filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".meta")
}

// writeTemp copies r into a new synced temporary file in dir and returns its
// name; on failure the file is removed.
func writeTemp(dir string, r io.Reader) (name string, err error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close: %w", err)
	}
	return f.Name(), nil
}

func writeFileAtomic(p string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// isNotExist also covers ENOTDIR: key "a/b" when "a" is an object.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func fsError(op, key string, err error) error {
	if isNotExist(err) {
		return fmt.Errorf("blob: %s %q: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("blob: %s %q: %w", op, key, err)
}
