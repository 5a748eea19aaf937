package batch

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vellum-sign/vellum/internal/account"
)

// Signed returns the signed tasks of batch hash of scope, or ErrNotSigned
// when there are none: what Download writes.
func (s *Service) Signed(ctx context.Context, scope account.Scope, hash string) ([]Task, error) {
	if _, err := s.Get(ctx, scope, hash); err != nil {
		return nil, err
	}
	var ts []Task
	if err := s.DB.Conn(ctx).Where("batch_hash = ? AND state = ?", hash, TaskSigned).Order("seq").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("signed tasks of %s: %w", hash, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("batch %s: %w", hash, ErrNotSigned)
	}
	return ts, nil
}

// WriteZip streams the outputs of tasks as a zip to w, one entry per task
// named after it; the bytes go from storage to w without being held whole.
func (s *Service) WriteZip(ctx context.Context, tasks []Task, w io.Writer) error {
	zw := zip.NewWriter(w)
	used := map[string]int{}
	for _, t := range tasks {
		name := entryName(&t)
		if n := used[name]; n > 0 {
			ext := ""
			if i := strings.LastIndex(name, "."); i > 0 {
				name, ext = name[:i], name[i:]
			}
			name = name + " (" + strconv.Itoa(n+1) + ")" + ext
		}
		used[entryName(&t)]++
		f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: t.UpdatedAt})
		if err != nil {
			return err
		}
		rc, _, err := s.Blobs.Get(ctx, t.OutputKey)
		if err != nil {
			return fmt.Errorf("read signed task %s: %w", t.ID, err)
		}
		_, err = io.Copy(f, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("write signed task %s: %w", t.ID, err)
		}
	}
	return zw.Close()
}

// entryName is a task's file name in the zip: its name, with the
// extension of what it became.
func entryName(t *Task) string {
	name := t.Name
	switch t.Kind {
	case KindPDF:
		if !strings.HasSuffix(strings.ToLower(name), ".pdf") {
			name += ".pdf"
		}
	case KindPKCS7:
		var o Options
		_ = json.Unmarshal([]byte(t.Options), &o)
		switch {
		case o.PEM:
			name += ".pem"
		case o.NoDetach:
			name += ".p7m"
		default:
			name += ".p7s"
		}
	case KindPKCS1:
		name += ".sig"
	}
	return name
}
