package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/vellum-sign/vellum/internal/pki"
)

// runPKIInit generates a platform PKI into a directory once, so that every
// serve and worker replica loads the same keys instead of racing to make
// their own. Operators with their own CA put their PEM files there instead.
func runPKI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const syn = "pki init --dir DIR --public-url https://sign.example.com"
	if len(args) == 0 || args[0] != "init" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(stdout, "Usage: vellum "+syn)
			return nil
		}
		fmt.Fprintln(stderr, "Usage: vellum "+syn)
		return errUsage
	}
	fs := newFlagSet("pki init", syn, stderr, false)
	dir := fs.String("dir", "", "directory for the PEM files (required)")
	public := fs.String("public-url", "", "public base URL written into OCSP/CRL/CA URLs (required)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *dir == "" || *public == "" {
		fs.Usage()
		return errUsage
	}
	p, err := pki.LoadOrCreate(ctx, *dir, *public)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(*dir)
	fmt.Fprintf(stdout, "PKI in %s\nRoot: %s\nIssuing CA: %s\nOCSP: %s\n", abs, p.Root().Subject, p.Issuing().Subject, p.URLs().OCSP)
	return nil
}
