package cli

import (
	"context"
	"errors"
	"io"
)

// runPDF is replaced by the signing-engine CLI.
func runPDF(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("pdf: not built yet")
}
