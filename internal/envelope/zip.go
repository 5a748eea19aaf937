package envelope

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// buildPackage zips the final documents.
func (s *Service) buildPackage(ctx context.Context, env *Envelope, finals map[string]revisionFile) (string, error) {
	f, err := os.CreateTemp("", "vellum-zip-*.zip")
	if err != nil {
		return "", fmt.Errorf("spool package: %w", err)
	}
	defer removeTemp(f)
	zw := zip.NewWriter(f)
	names := map[string]int{}
	for _, d := range env.Documents {
		name := zipName(d.Filename, names)
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: s.now()})
		if err != nil {
			return "", fmt.Errorf("package %s: %w", name, err)
		}
		rc, _, err := s.Blobs.Get(ctx, finals[d.DocumentID].key)
		if err != nil {
			return "", fmt.Errorf("package %s: %w", name, err)
		}
		_, err = io.Copy(w, rc)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("package %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	key := fmt.Sprintf("envelopes/%s/package-%s.zip", env.ID, randomHex(8))
	if err := s.putPending(ctx, env.ID, key, f, "application/zip"); err != nil {
		return "", fmt.Errorf("store package: %w", err)
	}
	return key, nil
}

// zipName makes a safe, unique entry name from a document's filename.
func zipName(filename string, used map[string]int) string {
	base := strings.Map(func(r rune) rune {
		if r < 32 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSuffix(filename, ".pdf"))
	if base == "" {
		base = "document"
	}
	name := base + ".pdf"
	if n := used[name]; n > 0 {
		name = fmt.Sprintf("%s (%d).pdf", base, n+1)
	}
	used[base+".pdf"]++
	return name
}
