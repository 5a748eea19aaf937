package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/testenv"
	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// sealName is the common name of the dev PKI's seal certificate, which the
// corpus is signed with.
const sealName = "Vellum Development Platform Seal"

// corpusPDFs are the real-world PDFs the suite signs: pdfcpu's testdata and
// its samples already signed by other tools.
func corpusPDFs(t *testing.T) []string {
	t.Helper()
	dir := filepath.Dir(pdfcpuTestdata(t, "Walden.pdf"))
	files, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	signed, _ := filepath.Glob(filepath.Join(dir, "..", "samples", "signatures", "*", "*.pdf"))
	if len(files) < 40 || len(signed) < 5 {
		t.Fatalf("pdfcpu corpus incomplete under %s: %d files, %d signed samples", dir, len(files), len(signed))
	}
	return append(files, signed...)
}

// verifyReport is the part of `vellum pdf verify --json` compared here.
type verifyReport struct {
	Signatures []struct {
		ByteRange         []int64
		DocumentTimestamp bool
		Level             string
		Verdict           string
		Checks            struct {
			Integrity, Chain, Modifications struct{ Status, Detail string }
		}
	}
}

// TestCorpus_BBAndBLTA_ValidatorsAgree signs every corpus PDF at B-B and at
// B-LTA with `vellum pdf sign` against `vellum dev`'s PKI, TSA and OCSP
// responder, and checks every output with pdfsig (its default online OCSP
// check, the dev root trusted in a temporary NSS database), openssl (`cms
// -verify` on every CMS, `ts -verify` on every signature and document
// time-stamp, `ocsp -respin` on every OCSP response in the DSS) and `vellum
// pdf verify`: all agree on every signature, foreign ones included, and ours
// are valid and trusted.
func TestCorpus_BBAndBLTA_ValidatorsAgree(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	dev := start(t, nil, "dev", "--addr", addr, "--data-dir", dir)
	dev.waitLine("API key:", 60*time.Second)
	pki := filepath.Join(dir, "pki")
	rootPath, issuingPath := filepath.Join(pki, "root.crt"), filepath.Join(pki, "issuing.crt")
	nss, err := testenv.NSSDB(t.TempDir(), readPEMCert(t, rootPath))
	if err != nil {
		t.Fatal(err)
	}

	// OCSP responses are the same across files (the responder reuses them),
	// so each distinct one is checked once, after the files.
	var mu sync.Mutex
	responses := map[string][]byte{}
	foreignResponses := map[string]bool{}
	signed, refused := 0, 0

	t.Run("files", func(t *testing.T) {
		for _, in := range corpusPDFs(t) {
			name := filepath.Base(in)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				work := t.TempDir()
				before := &testenv.DSS{}
				if strings.Contains(in, "signatures") { // only the signed samples have a DSS
					var err error
					if before, err = testenv.ReadDSS(in, filepath.Join(work, "dss-in")); err != nil {
						t.Fatal(err)
					}
				}
				for _, level := range []string{"B-B", "B-LTA"} {
					out := filepath.Join(work, level+".pdf")
					args := []string{"pdf", "sign", "--in", in, "--out", out,
						"--cert", filepath.Join(pki, "seal.crt"), "--key", filepath.Join(pki, "seal.key"),
						"--chain", issuingPath, "--level", level}
					if level != "B-B" {
						args = append(args, "--tsa", "http://"+addr+"/tsa")
					}
					if msg, err := run(t, nil, args...); err != nil {
						if strings.Contains(msg, "ENCRYPTED") || (name == "sample2.pdf" && strings.Contains(msg, "LOCKED")) {
							mu.Lock()
							refused++
							mu.Unlock()
							return // refused with its RemSig code, as pkg/pades tests expect
						}
						t.Fatalf("pdf sign %s: %v\n%s", level, err, msg)
					}
					dss := checkCorpusOutput(t, out, level, rootPath, issuingPath, nss)
					mu.Lock()
					for _, r := range dss.OCSPs {
						responses[testenv.Key(r)] = r
					}
					for _, r := range before.OCSPs {
						foreignResponses[testenv.Key(r)] = true
					}
					signed++
					mu.Unlock()
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	v := &testenv.Verifier{Dir: t.TempDir(), CAFile: rootPath, Untrusted: issuingPath}
	ours := 0
	for k, r := range responses {
		if foreignResponses[k] {
			continue // another signer's responder, not trusted here
		}
		if _, err := v.OCSP(r); err != nil {
			t.Errorf("embedded OCSP response %s: %v", k, err)
		}
		ours++
	}
	if ours == 0 {
		t.Error("no OCSP response of ours in any DSS")
	}
	// pdfsig's online check is only reliable for a file's first time-stamped
	// signature (see testenv.VfychainOCSP); NSS checks the seal online here.
	sealPEM := filepath.Join(pki, "seal.crt")
	if out, err := testenv.VfychainOCSP(nss, nil, sealPEM, issuingPath); err != nil {
		t.Errorf("vfychain seal: %v\n%s", err, out)
	}
	t.Logf("%d outputs signed and validated, %d inputs refused (encrypted or locked), %d distinct OCSP responses of ours verified",
		signed, refused, ours)
}

// checkCorpusOutput checks one signed output with every validator and
// returns its DSS.
func checkCorpusOutput(t *testing.T, path, level, rootPath, issuingPath, nss string) *testenv.DSS {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	scanned, err := testenv.ScanSignatures(data)
	if err != nil {
		t.Fatal(err)
	}
	ps, psOut, err := testenv.Pdfsig(nss, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, verr := run(t, nil, "pdf", "verify", path, "--roots", rootPath, "--json")
	var rep verifyReport
	if err := json.Unmarshal([]byte(msg[:strings.LastIndex(msg, "}")+1]), &rep); err != nil {
		t.Fatalf("%s: vellum pdf verify --json: %v\n%s", level, err, msg)
	}
	// The signature fields, in the order pdfsig and vellum list them; a
	// usage-rights (UR3) signature has a byte range too but is no field.
	var sigs []testenv.SignedRange
	for _, vr := range rep.Signatures {
		for _, s := range scanned {
			if len(vr.ByteRange) == 4 && s.ByteRange == [4]int64(vr.ByteRange) {
				sigs = append(sigs, s)
			}
		}
	}
	if len(ps) != len(rep.Signatures) || len(sigs) != len(rep.Signatures) {
		t.Fatalf("%s: %d byte ranges in the file, pdfsig %d signatures, vellum %d\n%s", level, len(scanned), len(ps), len(rep.Signatures), psOut)
	}
	v := &testenv.Verifier{Dir: filepath.Join(filepath.Dir(path), level), CAFile: rootPath, Untrusted: issuingPath}
	if err := os.MkdirAll(v.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	timestamped := false // an earlier signature carried a time-stamp token
	for i, s := range sigs {
		vr := rep.Signatures[i]
		if s.DocTimestamp {
			tok, err := rfc3161.ParseToken(s.Contents)
			if err != nil {
				t.Fatalf("%s: document timestamp #%d: %v", level, i+1, err)
			}
			ours := tok.SignerCert != nil && strings.Contains(tok.SignerCert.Subject.CommonName, "Vellum Development")
			if ours {
				if err := v.Timestamp(s.Contents, s.Data(data), nil); err != nil {
					t.Errorf("%s: document timestamp #%d: %v", level, i+1, err)
				}
				if !vr.DocumentTimestamp || vr.Verdict != "VALID" || vr.Checks.Chain.Status != "passed" {
					t.Errorf("%s: vellum on our document timestamp #%d: %+v", level, i+1, vr)
				}
			}
			continue
		}
		sd, err := cms.ParseSignedData(s.Contents)
		ours := err == nil && ps[i].Signer == sealName
		var intact bool
		if ours {
			// The full check (chain too) implies the integrity check.
			if err := v.CMS(s.Contents, s.Data(data), time.Time{}); err != nil {
				t.Errorf("%s: our signature #%d: %v", level, i+1, err)
			} else {
				intact = true
			}
		} else {
			intact = v.CMSIntegrity(s.Contents, s.Data(data)) == nil
		}
		vellumIntact := vr.Checks.Integrity.Status == "passed"
		if intact != ps[i].Valid() || intact != vellumIntact {
			t.Errorf("%s: signature #%d (%s): openssl intact %v, pdfsig %q, vellum %+v", level, i+1, ps[i].Signer, intact, ps[i].Signature, vr)
		}
		if !ours {
			timestamped = timestamped || (err == nil && len(sd.Signers) > 0 && len(sd.Signers[0].TimestampTokens) > 0)
			continue
		}
		trusted := ps[i].Trusted()
		if timestamped && !trusted {
			// pdfsig 22.12 misreports any signature after a time-stamped one
			// when checking OCSP online; judge the certificate without it.
			again, _, err := testenv.Pdfsig(nss, path, nil, "-no-ocsp")
			trusted = err == nil && again[i].Trusted()
		}
		if !ps[i].Valid() || !trusted {
			t.Errorf("%s: pdfsig on our signature #%d:\n%s", level, i+1, psOut)
		}
		if vr.Verdict != "VALID" || vr.Checks.Chain.Status != "passed" || vr.Level != level {
			t.Errorf("%s: vellum on our signature #%d: %+v", level, i+1, vr)
		}
		if level == "B-LTA" {
			si := sd.Signers[0]
			if len(si.TimestampTokens) != 1 {
				t.Fatalf("B-LTA signature without a signature time-stamp")
			}
			imprint := sha256.Sum256(si.Signature)
			if err := v.Timestamp(si.TimestampTokens[0], nil, imprint[:]); err != nil {
				t.Errorf("signature time-stamp: %v", err)
			}
		}
	}
	if verr != nil && !strings.Contains(msg, "signatures invalid") {
		t.Errorf("%s: vellum pdf verify: %v\n%s", level, verr, msg)
	}
	if level != "B-LTA" {
		return &testenv.DSS{} // B-B adds none; a DSS of the input is checked at B-LTA
	}
	dss, err := testenv.ReadDSS(path, filepath.Join(filepath.Dir(path), level+"-dss"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dss.OCSPs) == 0 || len(dss.Certs) == 0 {
		t.Errorf("B-LTA output without OCSP responses or certificates in its DSS")
	}
	return dss
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
