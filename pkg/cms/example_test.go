package cms_test

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
)

// Build a detached CAdES signature from a digest and verify it.
func ExampleSignDetached() {
	pki, _ := cmstest.NewPKI()
	id, _ := pki.Issue("Alice Example", cmstest.ECDSAP256)

	digest := sha256.Sum256([]byte("the signed byte ranges"))
	der, err := cms.SignDetached(context.Background(), digest[:], id.Key, id.Chain, cms.SignOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	sd, _ := cms.ParseSignedData(der)
	res, err := sd.VerifyDigest(digest[:], cms.VerifyOptions{Roots: pki.Roots()})
	fmt.Println(res.Certificate.Subject.CommonName, err == nil)
	// Output: Alice Example true
}
