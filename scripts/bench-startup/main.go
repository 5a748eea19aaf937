// Command bench-startup measures a whole `vellum pdf sign` process on a small
// file, hyperfine-style: one untimed warm-up, then -n runs, reporting the
// fastest and the median wall time and CPU time (user + system, from the
// kernel's rusage of each child, which a busy machine inflates far less than
// wall time). It also sums the package initialisers of one run
// (GODEBUG=inittrace=1) and lists the costliest, since process start is
// most of a small file's signing time.
//
//	go build -o bin/vellum ./cmd/vellum && go run ./scripts/bench-startup -n 20
//
// The input is pdfcpu's 58 KB testdata/Walden.pdf (from the module cache,
// -in to choose another); the signer is a throw-away ECDSA P-256
// certificate.
package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("vellum", "bin/vellum", "vellum binary")
	in := flag.String("in", "", "PDF to sign (default: pdfcpu's testdata/Walden.pdf)")
	n := flag.Int("n", 20, "timed runs")
	top := flag.Int("top", 8, "costliest package initialisers listed")
	flag.Parse()
	if err := run(*bin, *in, *n, *top); err != nil {
		fmt.Fprintln(os.Stderr, "bench-startup:", err)
		os.Exit(1)
	}
}

func run(bin, in string, n, top int) error {
	if in == "" {
		dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/pdfcpu/pdfcpu").Output()
		if err != nil {
			return fmt.Errorf("find pdfcpu's testdata: %w", err)
		}
		in = filepath.Join(strings.TrimSpace(string(dir)), "pkg", "testdata", "Walden.pdf")
	}
	tmp, err := os.MkdirTemp("", "vellum-bench-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	certFile, keyFile, err := signer(tmp)
	if err != nil {
		return err
	}
	args := []string{"pdf", "sign", "--in", in, "--out", filepath.Join(tmp, "out.pdf"), "--cert", certFile, "--key", keyFile}

	var walls, cpus []time.Duration
	for i := 0; i <= n; i++ {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s %s: %w\n%s", bin, strings.Join(args, " "), err, stderr.Bytes())
		}
		wall := time.Since(t0)
		if i == 0 {
			continue // warm-up: page cache, binary mapping
		}
		walls = append(walls, wall)
		cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
	st, _ := os.Stat(in)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("vellum pdf sign, %s (%d bytes), %d runs, load %s\n", filepath.Base(in), st.Size(), n, strings.Fields(string(load))[0])
	fmt.Printf("wall: fastest %s  median %s\n", fastest(walls), median(walls))
	fmt.Printf("cpu:  fastest %s  median %s\n", fastest(cpus), median(cpus))
	return inits(bin, args, top)
}

// inits runs the command once with GODEBUG=inittrace=1 and sums what the
// package initialisers cost.
func inits(bin string, args []string, top int) error {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("inittrace run: %w\n%s", err, stderr.Bytes())
	}
	type pkg struct {
		name  string
		ms    float64
		bytes int64
	}
	var pkgs []pkg
	var ms float64
	var allocated int64
	// init crypto/x509 @1.2 ms, 0.012 ms clock, 2048 bytes, 20 allocs
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "init" {
			continue
		}
		c, _ := strconv.ParseFloat(f[4], 64)
		b, _ := strconv.ParseInt(f[7], 10, 64)
		pkgs = append(pkgs, pkg{f[1], c, b})
		ms += c
		allocated += b
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].ms > pkgs[j].ms })
	fmt.Printf("package initialisers (one run, GODEBUG=inittrace=1): %d packages, %.2f ms clock, %.1f MB allocated\n", len(pkgs), ms, float64(allocated)/1e6)
	for i := 0; i < top && i < len(pkgs); i++ {
		fmt.Printf("  %6.2f ms %8d bytes  %s\n", pkgs[i].ms, pkgs[i].bytes, pkgs[i].name)
	}
	return nil
}

// signer writes a throw-away ECDSA P-256 certificate and key.
func signer(dir string) (string, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Startup Benchmark"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600)
}

func sorted(d []time.Duration) []time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

func fastest(d []time.Duration) time.Duration { return sorted(d)[0].Round(10 * time.Microsecond) }

func median(d []time.Duration) time.Duration {
	return sorted(d)[len(d)/2].Round(10 * time.Microsecond)
}
