package pades_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/cms/cmstest"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

type rawSig struct {
	br       [4]int64
	contents []byte
	docTS    bool
}

var byteRangeRe = regexp.MustCompile(`/ByteRange\s*\[\s*0\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// rawSignatures finds signatures by scanning the file text, independently
// of the package's own reader.
func rawSignatures(t *testing.T, data []byte) []rawSig {
	t.Helper()
	var out []rawSig
	for _, m := range byteRangeRe.FindAllSubmatchIndex(data, -1) {
		var s rawSig
		for i := 0; i < 3; i++ {
			s.br[i+1], _ = strconv.ParseInt(string(data[m[2+2*i]:m[3+2*i]]), 10, 64)
		}
		hexStr := data[s.br[1]+1 : s.br[2]-1]
		raw, err := hex.DecodeString(string(hexStr))
		if err != nil {
			t.Fatalf("contents at %d: %v", s.br[1], err)
		}
		s.contents = raw
		dictStart := bytes.LastIndex(data[:m[0]], []byte("obj"))
		s.docTS = bytes.Contains(data[dictStart:m[0]], []byte("/ETSI.RFC3161"))
		out = append(out, s)
	}
	return out
}

func rangesData(data []byte, br [4]int64) []byte {
	return append(append([]byte{}, data[:br[1]]...), data[br[2]:br[2]+br[3]]...)
}

func (f *fixture) opensslTSVerify(t *testing.T, token []byte, data []byte, digest []byte) {
	t.Helper()
	tok := filepath.Join(f.dir, "token.der")
	os.WriteFile(tok, token, 0o600)
	ca := filepath.Join(f.dir, "root.pem")
	os.WriteFile(ca, cmstest.PEM(f.pki.Root), 0o600)
	inter := filepath.Join(f.dir, "inter.pem")
	os.WriteFile(inter, cmstest.PEM(f.pki.Intermediate), 0o600)
	args := []string{"ts", "-verify", "-in", tok, "-token_in", "-CAfile", ca, "-untrusted", inter}
	if data != nil {
		df := filepath.Join(f.dir, "ranges.bin")
		os.WriteFile(df, data, 0o600)
		args = append(args, "-data", df)
	} else {
		args = append(args, "-digest", hex.EncodeToString(digest))
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
}

func (f *fixture) verify(t *testing.T, path string) *pades.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pades.Verify(bytes.NewReader(data), int64(len(data)), pades.VerifyOptions{Roots: f.pki.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestSign_LevelBT_TokenVerifiesWithOpenSSL(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	opts.Level, opts.Timestamper = pades.LevelBT, f.tsa
	out, err := f.signFile(t, filepath.Join(pdfcpuDir(), "testdata", "Walden.pdf"), opts)
	if err != nil {
		t.Fatal(err)
	}
	requirePdfsigValid(t, out, 1)
	data, _ := os.ReadFile(out)
	sigs := rawSignatures(t, data)
	sd, err := cms.ParseSignedData(sigs[0].contents)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.Signers[0].TimestampTokens) != 1 {
		t.Fatal("no signature timestamp token")
	}
	imprint := sha256.Sum256(sd.Signers[0].Signature)
	f.opensslTSVerify(t, sd.Signers[0].TimestampTokens[0], nil, imprint[:])
	rep := f.verify(t, out)
	if s := rep.Signatures[0]; s.Level != pades.LevelBT || !s.Valid() || s.TimestampTime.IsZero() {
		t.Fatalf("report %+v", s)
	}
}

// checkLTA verifies a B-LTA file with pdfsig (CAdES signatures) and openssl
// (document timestamps: imprint = SHA-256 of the byte ranges).
func (f *fixture) checkLTA(t *testing.T, path string, wantSigs, wantDocTS int) {
	t.Helper()
	res := requirePdfsigValid(t, path, wantSigs+wantDocTS)
	data, _ := os.ReadFile(path)
	docTS := 0
	for _, s := range rawSignatures(t, data) {
		if !s.docTS {
			continue
		}
		docTS++
		tok, err := rfc3161.ParseToken(s.contents)
		if err != nil {
			t.Fatal(err)
		}
		ranges := rangesData(data, s.br)
		sum := sha256.Sum256(ranges)
		if !bytes.Equal(tok.Digest, sum[:]) {
			t.Fatal("document timestamp imprint differs from SHA-256 of its byte ranges")
		}
		f.opensslTSVerify(t, tok.Raw, ranges, nil)
	}
	if docTS != wantDocTS {
		t.Fatalf("found %d document timestamps, want %d", docTS, wantDocTS)
	}
	if n := len(res); n != wantSigs+wantDocTS {
		t.Fatalf("pdfsig: %d signatures", n)
	}
	if !bytes.Contains(data, []byte("/DSS ")) || !bytes.Contains(data, []byte("/VRI")) || !bytes.Contains(data, []byte("/CRLs")) {
		t.Fatal("no DSS with VRI and CRLs")
	}
	if qpdfCheck(t, path) != 0 {
		t.Error("qpdf --check warnings")
	}
}

func TestSign_LevelBLTA_AndExtendAgain(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	opts.Level, opts.Timestamper, opts.Revocation = pades.LevelBLTA, f.tsa, f.revocation
	for _, src := range []string{"Walden.pdf", "read.go.pdf"} { // xref stream and classic table
		t.Run(src, func(t *testing.T) {
			out, err := f.signFile(t, filepath.Join(pdfcpuDir(), "testdata", src), opts)
			if err != nil {
				t.Fatal(err)
			}
			f.checkLTA(t, out, 1, 1)
			rep := f.verify(t, out)
			if len(rep.Signatures) != 2 {
				t.Fatalf("Verify found %d signatures", len(rep.Signatures))
			}
			sig, ts := rep.Signatures[0], rep.Signatures[1]
			if sig.Level != pades.LevelBLTA || !sig.Valid() || sig.CoversWholeFile || sig.Checks.Modifications.Status != pades.CheckPassed {
				t.Fatalf("signature report %+v", sig)
			}
			if !ts.DocumentTimestamp || !ts.Valid() || !ts.CoversWholeFile {
				t.Fatalf("document timestamp report %+v", ts)
			}

			// Extend: new validation data, then a new document timestamp.
			ext := filepath.Join(f.dir, "extended.pdf")
			var b1, b2 bytes.Buffer
			data, _ := os.ReadFile(out)
			crls, _ := f.revocation(context.Background(), nil)
			vd := pades.ValidationData{Certs: [][]byte{f.tsa.Identity.Chain[0].Raw}, CRLs: crls.CRLs}
			if err := pades.AddDSS(context.Background(), bytes.NewReader(data), int64(len(data)), &b1, vd); err != nil {
				t.Fatal(err)
			}
			if err := pades.AddDocumentTimestamp(context.Background(), bytes.NewReader(b1.Bytes()), int64(b1.Len()), &b2, f.tsa); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(ext, b2.Bytes(), 0o600)
			f.checkLTA(t, ext, 1, 2)
			for i, s := range f.verify(t, ext).Signatures {
				if !s.Valid() {
					t.Errorf("after extension signature %d invalid: %+v", i, s)
				}
			}
		})
	}
}

func TestVerify_DetectsByteFlip(t *testing.T) {
	f := newFixture(t)
	out, err := f.signFile(t, filepath.Join(pdfcpuDir(), "testdata", "Walden.pdf"), f.options())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	if rep := f.verify(t, out); !rep.Signatures[0].Valid() || !rep.Signatures[0].CoversWholeFile {
		t.Fatalf("fresh signature not valid: %+v", rep.Signatures[0])
	}
	for _, off := range []int{100, len(data) / 2, len(data) - 30} {
		mod := append([]byte{}, data...)
		mod[off] ^= 0x01
		rep, err := pades.Verify(bytes.NewReader(mod), int64(len(mod)), pades.VerifyOptions{Roots: f.pki.Roots()})
		if err != nil {
			continue // damage to the structure itself is detected too
		}
		if len(rep.Signatures) > 0 && rep.Signatures[0].Valid() {
			t.Errorf("flip at %d not detected", off)
		}
	}
}
