//go:build production

package cli

import (
	"context"
	"errors"
	"io"
)

// runDev is not in production builds, which leave out the embedded SQLite
// and Redis it runs on.
func runDev(context.Context, []string, io.Writer, io.Writer) error {
	return errors.New("not in this binary (built with -tags production, without SQLite and the embedded Redis): use a development build, `make run` or `make build`")
}
