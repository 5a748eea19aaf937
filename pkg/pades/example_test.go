package pades_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// Sign a PDF at PAdES B-T and verify it. In production the key is any
// crypto.Signer (PEM file, PKCS#11) and the Timestamper a pkg/rfc3161.Client.
func ExampleSign() {
	pki, _ := cmstest.NewPKI()
	signer, _ := pki.Issue("Alice Example", cmstest.ECDSAP256)
	tsa, _ := pki.NewTSA()

	in, err := os.Open(filepath.Join(pdfcpuDir(), "testdata", "Walden.pdf"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer in.Close()
	st, _ := in.Stat()

	var out bytes.Buffer
	err = pades.Sign(context.Background(), in, st.Size(), &out, pades.Options{
		Signer:       signer.Key,
		Certificates: signer.Chain,
		Level:        pades.LevelBT,
		Timestamper:  tsa,
		Reason:       "Approved",
		Visible:      &pades.Visible{Page: 1, Rect: pades.Rect{X: 40, Y: 40, W: 200, H: 50}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	rep, _ := pades.Verify(bytes.NewReader(out.Bytes()), int64(out.Len()), pades.VerifyOptions{Roots: pki.Roots()})
	for _, s := range rep.Signatures {
		fmt.Println(s.FieldName, s.Signer.Name, s.Level, s.Verdict)
	}
	fmt.Println(rep.Verdict)
	// Output:
	// Signature1 Alice Example B-T VALID
	// VALID
}
