package document

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pades/padestest"
)

// A damaged file (objects shifted behind their cross-reference offsets)
// is accepted at upload as signable: signing repairs it.
func TestValidate_DamagedFileIsSignable(t *testing.T) {
	dir, err := padestest.PdfcpuDir()
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "testdata", "Walden.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.IndexByte(good, '\n') + 1
	damaged := append(append(append([]byte{}, good[:i]...), "% shifted\n"...), good[i:]...)
	rep, err := Validate(context.Background(), bytes.NewReader(damaged))
	if err != nil {
		t.Fatal(err)
	}
	boxes, fields, damagedXref := readGeometry(bytes.NewReader(damaged), int64(len(damaged)))
	rep = damageFindings(rep, boxes, fields, damagedXref)
	if !damagedXref || !rep.Validation.Signable || rep.Pages != 2 || len(rep.Validation.Warnings) != 1 ||
		!strings.Contains(rep.Validation.Warnings[0].Message, "rewritten cleanly once") {
		t.Fatalf("damaged unsigned file: %+v", rep)
	}

	// Signed, the same damage cannot be repaired: UNMODIFIABLE.
	signedFields := append(fields, SignatureField{Name: "Signature1", Signed: true})
	rep, _ = Validate(context.Background(), bytes.NewReader(damaged))
	rep = damageFindings(rep, boxes, signedFields, true)
	if rep.Validation.Signable || len(rep.Validation.Errors) != 1 || rep.Validation.Errors[0].Name != "UNMODIFIABLE" {
		t.Fatalf("damaged signed file: %+v", rep)
	}
}
