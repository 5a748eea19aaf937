// Package cli is Vellum's composition root: it parses the command line and
// configuration, builds every component with hand-written constructors and
// owns signals and shutdown.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/vellum-sign/vellum/internal/config"
)

// Version is set at build time with -ldflags "-X …/internal/cli.Version=…".
var Version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "run everything in one process with embedded SQLite, Redis and storage", runDev},
		{"serve", "run the HTTP API and signer pages", runServe},
		{"worker", "run the background worker pool", runWorker},
		{"migrate", "apply database migrations", runMigrate},
		{"accounts", "manage accounts (accounts create)", runAccounts},
		{"keys", "manage API keys (keys create)", runKeys},
		{"persons", "manage persons and their certificates (persons create, persons certificates issue)", runPersons},
		{"pki", "create the platform PKI for serve and worker (pki init)", runPKI},
		{"pdf", "sign and verify PDF files locally (pdf sign, pdf verify)", runPDF},
		{"version", "print the version", runVersion},
	}
}

// errUsage marks an error already explained by printed usage.
var errUsage = errors.New("usage")

// Main runs the command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "vellum %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "vellum: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: vellum <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun `vellum <command> --help` for a command's flags and environment variables.")
}

// newFlagSet returns a flag set whose --help lists the environment too.
func newFlagSet(name, synopsis string, stderr io.Writer, withEnv bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vellum %s\n\n", synopsis)
		if hasFlags(fs) {
			fmt.Fprintln(stderr, "Flags:")
			fs.PrintDefaults()
		}
		if withEnv {
			fmt.Fprintln(stderr, "\nEnvironment:")
			for _, v := range config.Vars {
				def := ""
				if v.Default != "" {
					def = " (default " + v.Default + ")"
				}
				fmt.Fprintf(stderr, "  %-28s %s%s\n", v.Name, v.Help, def)
			}
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses flags; a bad flag has been reported by the flag package.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		fs.Usage()
		return errUsage
	}
	return nil
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", stderr, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(stdout, "vellum %s\n", v)
	return nil
}
