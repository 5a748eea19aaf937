package document

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzValidate: arbitrary bytes give a report or ErrNotPDF, promptly, and
// never a panic.
func FuzzValidate(f *testing.F) {
	plain, err := os.ReadFile(filepath.Join("..", "..", "test", "fixtures", "test.pdf"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(plain[:len(plain)/2])
	f.Add([]byte("%PDF-1.7\nxref\n0 99999999\ntrailer<</Size -1/Root 1 0 R/Encrypt 2 0 R>>\nstartxref\n9\n%%EOF"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		timer := time.AfterFunc(10*time.Second, func() {
			_ = os.WriteFile(filepath.Join(os.TempDir(), "vellum-validate-hang.pdf"), data, 0o644)
			panic("Validate did not return within 10 s")
		})
		defer timer.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rep, err := Validate(ctx, bytes.NewReader(data))
		close(done)
		if err != nil && !errors.Is(err, ErrNotPDF) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err == nil && rep.Validation.Signable != (len(rep.Validation.Errors) == 0) {
			t.Fatalf("inconsistent report %+v", rep)
		}
	})
}
