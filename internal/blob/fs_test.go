package blob_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/blob"
)

func TestFSStore_Contract(t *testing.T) {
	runContract(t, func(t *testing.T) blob.Store {
		s, err := blob.NewFSStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestFSStore_FailedPutLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.NewFSStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := io.MultiReader(strings.NewReader("partial"), failingReader{})
	if _, err := s.Put(context.Background(), "a/b", r, ""); err == nil {
		t.Fatal("Put with failing reader succeeded")
	}
	entries, err := os.ReadDir(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind %s", e.Name())
	}
}

func TestFSStore_KeepsObjectsAsPlainFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.NewFSStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "docs/a.pdf", "%PDF", "application/pdf")
	b, err := os.ReadFile(filepath.Join(dir, "docs", "a.pdf"))
	if err != nil || string(b) != "%PDF" {
		t.Fatalf("file content %q, %v", b, err)
	}
}

func TestFSStore_PingFailsWhenRootIsGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	s, err := blob.NewFSStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded without a root directory")
	}
}
