// Command vellum is the Vellum e-signature backend: API server, worker,
// embedded development mode, migrations, bootstrap and the PDF signing CLI.
package main

import (
	"os"

	"github.com/vellum-sign/vellum/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
