// Package blob stores the bytes Vellum keeps outside the database: uploaded
// documents, signed outputs and packages. Every implementation streams: a
// whole object is never held in memory.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Store is a flat key/value store of byte streams.
type Store interface {
	// Put stores the bytes read from r under key, replacing any existing
	// object. The size need not be known in advance. A reader is never
	// visible half-written under key: either the old or the new object is.
	Put(ctx context.Context, key string, r io.Reader, contentType string) (Object, error)
	// Get opens the object under key for streaming; the caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)
	// Stat describes the object under key without reading it.
	Stat(ctx context.Context, key string) (Object, error)
	// Delete removes the object under key. Deleting a missing key succeeds,
	// so a retried cleanup task does not fail.
	Delete(ctx context.Context, key string) error
	// Ping reports whether the store is reachable and usable (for /readyz).
	Ping(ctx context.Context) error
}

// Object describes a stored object.
type Object struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
}

var (
	// ErrNotFound is returned (wrapped) when no object exists under a key.
	ErrNotFound = errors.New("blob: not found")
	// ErrInvalidKey is returned (wrapped) for a key that ValidateKey rejects.
	ErrInvalidKey = errors.New("blob: invalid key")
)

// defaultContentType is what an object stored without a content type reports.
const defaultContentType = "application/octet-stream"

// maxKeyLen leaves room for a prefix under S3's 1,024-byte key limit.
const maxKeyLen = 512

// ValidateKey checks that key is usable by every implementation: slash-separated
// segments of letters, digits and "._-=", none empty, none starting with a dot.
// The narrow alphabet rules out path traversal ("..", absolute paths,
// backslashes) and keeps keys identical on a filesystem and in S3; forbidding
// a leading dot also keeps keys apart from the file store's hidden files.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > maxKeyLen || !utf8.ValidString(key) {
		return fmt.Errorf("%w: %.40q: longer than %d bytes or not UTF-8", ErrInvalidKey, key, maxKeyLen)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" {
			return fmt.Errorf("%w: %q: empty path segment", ErrInvalidKey, key)
		}
		if seg[0] == '.' {
			return fmt.Errorf("%w: %q: segment %q starts with a dot", ErrInvalidKey, key, seg)
		}
		for _, c := range seg {
			if !keyRune(c) {
				return fmt.Errorf("%w: %q: character %q not allowed", ErrInvalidKey, key, c)
			}
		}
	}
	return nil
}

func keyRune(c rune) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '.', c == '_', c == '-', c == '=':
		return true
	}
	return false
}

// ctxReader stops a copy loop once its context is done, so a cancelled
// request does not keep streaming into storage.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
