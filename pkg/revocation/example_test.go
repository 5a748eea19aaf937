package revocation_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/vellum-sign/vellum/pkg/revocation"
)

func ExampleFetcher_Fetch() {
	var chain []*x509.Certificate // signer certificate, its issuing CA, the root

	f := &revocation.Fetcher{Timeout: 3 * time.Second}
	data, err := f.Fetch(context.Background(), chain)
	if err != nil {
		fmt.Println(err)
		return
	}
	// data.Certs, data.OCSPs and data.CRLs go into the PDF's /DSS.
	fmt.Println(len(data.Certs), len(data.OCSPs), len(data.CRLs))
	// Output: revocation: empty chain
}
