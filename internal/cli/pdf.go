package cli

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/revocation"
	"github.com/vellum-sign/vellum/pkg/rfc3161"

	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// runPDF implements `vellum pdf sign` and `vellum pdf verify`: the signing
// engine on local files.
func runPDF(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "Usage: vellum pdf sign --in IN.pdf --out OUT.pdf --cert CERT.pem --key KEY.pem [flags]")
		fmt.Fprintln(stderr, "       vellum pdf verify FILE [--roots ROOTS.pem] [--json]")
		fmt.Fprintln(stderr, "\nRun `vellum pdf sign --help` or `vellum pdf verify --help` for flags.")
	}
	if len(args) == 0 {
		usage()
		return errUsage
	}
	switch args[0] {
	case "sign":
		return runPDFSign(ctx, args[1:], stdout, stderr)
	case "verify":
		return runPDFVerify(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		usage()
		return flag.ErrHelp
	}
	fmt.Fprintf(stderr, "unknown pdf command %q\n", args[0])
	usage()
	return errUsage
}

func runPDFSign(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pdf sign", "pdf sign --in IN.pdf --out OUT.pdf --cert CERT.pem --key KEY.pem [flags]", stderr, false)
	in := fs.String("in", "", "PDF to sign (required)")
	out := fs.String("out", "", "signed PDF to write (required)")
	certFile := fs.String("cert", "", "signer certificate, PEM (required)")
	keyFile := fs.String("key", "", "private key, PEM: PKCS#8, PKCS#1 or SEC 1 (required)")
	chainFile := fs.String("chain", "", "intermediate certificates, PEM")
	level := fs.String("level", "B-B", "PAdES level: B-B, B-T, B-LT or B-LTA")
	tsaURL := fs.String("tsa", "", "RFC 3161 time-stamp authority URL (B-T and above)")
	visible := fs.String("visible", "", "visible signature as page,x,y,w,h in PDF points (invisible when empty)")
	field := fs.String("field", "", "sign into this existing empty signature field (its rectangle, page, seed values and lock), instead of adding one")
	name := fs.String("name", "", "signer name (/Name; default: certificate common name)")
	reason := fs.String("reason", "", "reason for signing")
	location := fs.String("location", "", "location of signing")
	image := fs.String("image", "", "PNG image of a drawn signature for the visible appearance")
	typed := fs.String("signature", "", "typed signature drawn in a handwriting face on the visible appearance")
	fontPath := fs.String("font", os.Getenv("VELLUM_FONT_PATH"), "comma-separated TrueType fonts for characters the built-in fonts lack (default $VELLUM_FONT_PATH)")
	if err := parse(fs, args); err != nil {
		return err
	}
	for flagName, v := range map[string]string{"in": *in, "out": *out, "cert": *certFile, "key": *keyFile} {
		if v == "" {
			fmt.Fprintf(stderr, "--%s is required\n", flagName)
			fs.Usage()
			return errUsage
		}
	}
	certs, err := readCertificates(*certFile)
	if err != nil {
		return err
	}
	if *chainFile != "" {
		chain, err := readCertificates(*chainFile)
		if err != nil {
			return err
		}
		certs = append(certs[:1], chain...)
	}
	key, err := readPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	opts := pades.Options{
		Signer: key, Certificates: certs, Level: pades.Level(strings.ToUpper(*level)),
		Name: *name, Reason: *reason, Location: *location,
	}
	if opts.Name == "" {
		opts.Name = certs[0].Subject.CommonName
	}
	if opts.Level != pades.LevelBB {
		if *tsaURL == "" {
			return fmt.Errorf("pdf sign: level %s needs --tsa URL", opts.Level)
		}
		tsa, err := rfc3161.NewClient([]rfc3161.Server{{URL: *tsaURL}})
		if err != nil {
			return fmt.Errorf("pdf sign: --tsa: %w", err)
		}
		opts.Timestamper = tsa
	}
	if opts.Level == pades.LevelBLT || opts.Level == pades.LevelBLTA {
		// Missing issuers come from the certificates' caIssuers URLs; a chain
		// that cannot be completed stops the signature with an error naming
		// the certificate, rather than a DSS that leaves a CA out.
		f := &revocation.Fetcher{HTTPClient: &http.Client{Timeout: 30 * time.Second}}
		opts.Revocation = func(ctx context.Context, certs []*x509.Certificate) (pades.ValidationData, error) {
			d, err := f.FetchSet(ctx, certs)
			if err != nil {
				return pades.ValidationData{}, err
			}
			return pades.ValidationData{Certs: d.Certs, OCSPs: d.OCSPs, CRLs: d.CRLs}, nil
		}
	}
	if *field != "" && *visible != "" {
		return errors.New("pdf sign: --field signs into the field's own rectangle; drop --visible")
	}
	opts.Field = *field
	if *visible != "" || (*field != "" && (*image != "" || *typed != "")) {
		v := &pades.Visible{}
		if *visible != "" {
			if v, err = parseVisible(*visible); err != nil {
				return err
			}
		}
		if *image != "" {
			if v.Image, err = os.ReadFile(*image); err != nil {
				return fmt.Errorf("pdf sign: --image: %w", err)
			}
		}
		for _, p := range strings.Split(*fontPath, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			f, err := pdffont.ParseFile(p)
			if err != nil {
				return fmt.Errorf("pdf sign: --font: %w", err)
			}
			v.Fallback = append(v.Fallback, f)
		}
		v.Signature = *typed
		opts.Visible = v
	} else if *image != "" || *typed != "" {
		return errors.New("pdf sign: --image and --signature need --visible or --field")
	}

	src, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("pdf sign: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("pdf sign: %w", err)
	}
	// Write next to the target and rename, so a failure leaves no partial file.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".vellum-sign-*.pdf")
	if err != nil {
		return fmt.Errorf("pdf sign: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pades.Sign(ctx, src, st.Size(), tmp, opts); err != nil {
		tmp.Close()
		return fmt.Errorf("pdf sign %s: %w", *in, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pdf sign: %w", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("pdf sign: %w", err)
	}
	fmt.Fprintf(stdout, "signed %s -> %s (%s)\n", *in, *out, opts.Level)
	return nil
}

func parseVisible(s string) (*pades.Visible, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 5 {
		return nil, fmt.Errorf("pdf sign: --visible wants page,x,y,w,h, got %q", s)
	}
	page, err := strconv.Atoi(strings.TrimSpace(parts[0]))
	if err != nil || page < 1 {
		return nil, fmt.Errorf("pdf sign: --visible: bad page %q", parts[0])
	}
	var f [4]float64
	for i, p := range parts[1:] {
		if f[i], err = strconv.ParseFloat(strings.TrimSpace(p), 64); err != nil {
			return nil, fmt.Errorf("pdf sign: --visible: bad number %q", p)
		}
	}
	if f[2] <= 0 || f[3] <= 0 {
		return nil, errors.New("pdf sign: --visible: width and height must be positive")
	}
	return &pades.Visible{Page: page, Rect: pades.Rect{X: f[0], Y: f[1], W: f[2], H: f[3]}}, nil
}

func runPDFVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pdf verify", "pdf verify FILE [--roots ROOTS.pem] [--time RFC3339] [--json]", stderr, false)
	rootsFile := fs.String("roots", "", "trusted root certificates, PEM (default: the system's trust store)")
	at := fs.String("time", "", "validate as of this time, RFC 3339 (default: now)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	// The file may come before or after the flags.
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 || file == "" {
		fs.Usage()
		return errUsage
	}
	var opts pades.VerifyOptions
	if *rootsFile != "" {
		roots, err := readCertificates(*rootsFile)
		if err != nil {
			return err
		}
		opts.Roots = x509.NewCertPool()
		for _, c := range roots {
			opts.Roots.AddCert(c)
		}
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "--time: %v\n", err)
			return errUsage
		}
		opts.Time = t
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("pdf verify: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("pdf verify: %w", err)
	}
	rep, err := pades.Verify(f, st.Size(), opts)
	if err != nil {
		return fmt.Errorf("pdf verify %s: %w", file, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, file, rep)
	}
	if rep.Verdict == pades.VerdictValid {
		return nil
	}
	if len(rep.Signatures) == 0 {
		return fmt.Errorf("pdf verify %s: no signatures", file)
	}
	count := map[pades.Verdict]int{}
	for _, s := range rep.Signatures {
		count[s.Verdict]++
	}
	return fmt.Errorf("pdf verify %s: %s: %d of %d signatures invalid, %d indeterminate", file, rep.Verdict,
		count[pades.VerdictInvalid], len(rep.Signatures), count[pades.VerdictIndeterminate])
}

func printReport(w io.Writer, file string, rep *pades.Report) {
	fmt.Fprintf(w, "%s: %s (%d signature(s), validated at %s)\n", file, rep.Verdict, len(rep.Signatures), rep.ValidationTime.UTC().Format(time.RFC3339))
	for i, s := range rep.Signatures {
		kind := "signature"
		if s.DocumentTimestamp {
			kind = "document timestamp"
		}
		level := ""
		if s.Level != "" {
			level = ", PAdES " + string(s.Level)
		}
		fmt.Fprintf(w, "#%d %s %q (%s): %s%s\n", i+1, kind, s.FieldName, s.SubFilter, s.Verdict, level)
		if s.Signer != nil {
			fmt.Fprintf(w, "  signer:        %s (issued by %s, serial %s, valid %s to %s)\n", s.Signer.Name, s.Signer.Issuer,
				s.Signer.SerialNumber, s.Signer.NotBefore.UTC().Format(time.RFC3339), s.Signer.NotAfter.UTC().Format(time.RFC3339))
		}
		if s.DocMDP != 0 {
			fmt.Fprintf(w, "  certifies:     DocMDP P=%d\n", s.DocMDP)
		}
		if !s.SigningTime.IsZero() {
			fmt.Fprintf(w, "  claimed time:  %s\n", s.SigningTime.Format(time.RFC3339))
		}
		if !s.TimestampTime.IsZero() {
			fmt.Fprintf(w, "  timestamp:     %s\n", s.TimestampTime.UTC().Format(time.RFC3339))
		}
		for _, c := range []struct {
			name string
			c    pades.Check
		}{{"integrity", s.Checks.Integrity}, {"chain", s.Checks.Chain}, {"revocation", s.Checks.Revocation},
			{"timestamps", s.Checks.Timestamps}, {"modifications", s.Checks.Modifications}} {
			line := string(c.c.Status)
			if c.c.Detail != "" {
				line += ": " + c.c.Detail
			}
			fmt.Fprintf(w, "  %-14s %s\n", c.name+":", line)
		}
		for _, ch := range s.Changes {
			mark := "permitted"
			if !ch.Allowed {
				mark = "NOT PERMITTED"
			}
			fmt.Fprintf(w, "    - %s (%s): %s\n", mark, ch.Kind, ch.Description)
		}
	}
}

func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return certs, nil
}

func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, fmt.Errorf("%s: no PEM private key found", path)
		}
		var k any
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
		}
		return s, nil
	}
}
