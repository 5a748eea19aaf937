package testenv

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/pkg/pades"
)

// SignedRange is a signature or document timestamp found by scanning a PDF
// for /ByteRange, independently of the signing engine's own reader.
type SignedRange struct {
	ByteRange [4]int64
	// Contents is the DER of /Contents without its zero padding: a CMS
	// SignedData, or an RFC 3161 token for a document timestamp.
	Contents     []byte
	DocTimestamp bool
}

// Data returns the signed bytes: the file but the /Contents string.
func (s SignedRange) Data(pdf []byte) []byte {
	br := s.ByteRange
	return append(append([]byte{}, pdf[br[0]:br[0]+br[1]]...), pdf[br[2]:br[2]+br[3]]...)
}

var byteRange = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// ScanSignatures lists the signatures of pdf in file order.
func ScanSignatures(pdf []byte) ([]SignedRange, error) {
	var out []SignedRange
	for _, m := range byteRange.FindAllSubmatchIndex(pdf, -1) {
		var s SignedRange
		for i := range 4 {
			s.ByteRange[i], _ = strconv.ParseInt(string(pdf[m[2+2*i]:m[3+2*i]]), 10, 64)
		}
		br := s.ByteRange
		if br[1]+1 >= br[2] || br[2]+br[3] > int64(len(pdf)) {
			return nil, fmt.Errorf("byte range %v does not fit the file", br)
		}
		raw, err := hex.DecodeString(string(bytes.TrimSpace(pdf[br[1]+1 : br[2]-1])))
		if err != nil {
			return nil, fmt.Errorf("/Contents at %d: %w", br[1], err)
		}
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(raw, &rv)
		if err != nil {
			// BER from other signers (indefinite lengths): keep it whole.
			rest = nil
		}
		s.Contents = raw[:len(raw)-len(rest)]
		dict := pdf[max(0, m[0]-4096):m[0]]
		if i := bytes.LastIndex(dict, []byte(" obj")); i >= 0 {
			dict = dict[i:]
		}
		s.DocTimestamp = bytes.Contains(dict, []byte("/ETSI.RFC3161"))
		if !s.DocTimestamp {
			// The dictionary may continue after /ByteRange.
			after := pdf[m[1]:min(int64(len(pdf)), br[2]+512)]
			if i := bytes.Index(after, []byte("endobj")); i >= 0 {
				after = after[:i]
			}
			s.DocTimestamp = bytes.Contains(after, []byte("/ETSI.RFC3161"))
		}
		out = append(out, s)
	}
	return out, nil
}

// DSS is the Document Security Store of a PDF's latest revision.
type DSS struct {
	Certs, OCSPs, CRLs [][]byte
}

// ReadDSS extracts the DSS with qpdf, so the check does not rely on the
// engine that wrote it. qpdf is asked for the trailer, the catalog, the DSS
// and its streams in turn (written as files under dir), never for the whole
// document, which for a large file means every image.
func ReadDSS(pdfPath, dir string) (*DSS, error) {
	if _, err := exec.LookPath("qpdf"); err != nil {
		return nil, fmt.Errorf("qpdf not found (apt-get install qpdf): %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	type object struct {
		Value  json.RawMessage `json:"value"`
		Stream *struct {
			DataFile string `json:"datafile"`
		} `json:"stream"`
	}
	calls := 0
	objects := func(ids ...string) (map[string]object, error) {
		calls++
		jsonPath := filepath.Join(dir, fmt.Sprintf("qpdf%d.json", calls))
		args := []string{"--json=2", "--json-key=qpdf", "--json-stream-data=file",
			"--json-stream-prefix=" + filepath.Join(dir, fmt.Sprintf("s%d", calls))}
		for _, id := range ids {
			args = append(args, "--json-object="+id)
		}
		cmd := exec.Command("qpdf", append(args, pdfPath, jsonPath)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 { // 3: warnings
				return nil, fmt.Errorf("qpdf --json: %v: %s", err, out)
			}
		}
		raw, err := os.ReadFile(jsonPath)
		if err != nil {
			return nil, err
		}
		var doc struct {
			QPDF []json.RawMessage `json:"qpdf"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil || len(doc.QPDF) < 2 {
			return nil, fmt.Errorf("qpdf json: %v", err)
		}
		var objs map[string]object
		if err := json.Unmarshal(doc.QPDF[1], &objs); err != nil {
			return nil, fmt.Errorf("qpdf json objects: %w", err)
		}
		return objs, nil
	}
	// value returns v, or the value of the object it refers to.
	value := func(v json.RawMessage) (json.RawMessage, error) {
		var s string
		if json.Unmarshal(v, &s) != nil || !strings.HasSuffix(s, " R") {
			return v, nil
		}
		objs, err := objects(s)
		if err != nil {
			return nil, err
		}
		return objs["obj:"+s].Value, nil
	}
	objs, err := objects("trailer")
	if err != nil {
		return nil, err
	}
	var trailer, catalog, dss map[string]json.RawMessage
	if err := json.Unmarshal(objs["trailer"].Value, &trailer); err != nil {
		return nil, fmt.Errorf("qpdf json trailer: %w", err)
	}
	raw, err := value(trailer["/Root"])
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &catalog); err != nil {
		return nil, fmt.Errorf("qpdf json catalog: %w", err)
	}
	d := &DSS{}
	if catalog["/DSS"] == nil {
		return d, nil
	}
	if raw, err = value(catalog["/DSS"]); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &dss); err != nil {
		return nil, fmt.Errorf("qpdf json DSS: %w", err)
	}
	for key, dst := range map[string]*[][]byte{"/Certs": &d.Certs, "/OCSPs": &d.OCSPs, "/CRLs": &d.CRLs} {
		if dss[key] == nil {
			continue
		}
		if raw, err = value(dss[key]); err != nil {
			return nil, err
		}
		var refs []string
		if err := json.Unmarshal(raw, &refs); err != nil {
			return nil, fmt.Errorf("qpdf json DSS %s: %w", key, err)
		}
		if len(refs) == 0 {
			continue
		}
		streams, err := objects(refs...)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			o := streams["obj:"+r]
			if o.Stream == nil {
				return nil, fmt.Errorf("DSS %s entry %s is not a stream", key, r)
			}
			data, err := os.ReadFile(o.Stream.DataFile)
			if err != nil {
				return nil, err
			}
			*dst = append(*dst, data)
		}
	}
	return d, nil
}

// OpenSSL runs openssl with args and returns its combined output; a
// non-zero exit is an error carrying that output.
func OpenSSL(args ...string) (string, error) {
	if _, err := exec.LookPath("openssl"); err != nil {
		return "", fmt.Errorf("openssl not found (apt-get install openssl): %w", err)
	}
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("openssl %s: %v\n%s", args[0], err, out)
	}
	return string(out), nil
}

// Verifier checks signatures, time-stamps and OCSP responses with openssl
// against a trust anchor file and untrusted intermediates, writing its
// inputs under Dir.
type Verifier struct {
	Dir       string
	CAFile    string // trusted roots, PEM
	Untrusted string // intermediates, PEM
	n         int
}

func (v *Verifier) file(name string, data []byte) (string, error) {
	v.n++
	p := filepath.Join(v.Dir, fmt.Sprintf("%03d-%s", v.n, name))
	return p, os.WriteFile(p, data, 0o600)
}

// CMS runs `openssl cms -verify` on a detached signature over data. A
// non-zero at verifies the signer's chain at that time (a certificate that
// has since expired, at the time a time-stamp proves).
func (v *Verifier) CMS(cmsDER, data []byte, at time.Time) error {
	return v.cms(cmsDER, data, at, false)
}

// CMSIntegrity is CMS without the chain: the digest and the signature
// value only, for signatures by certificates nobody here trusts.
func (v *Verifier) CMSIntegrity(cmsDER, data []byte) error {
	return v.cms(cmsDER, data, time.Time{}, true)
}

func (v *Verifier) cms(cmsDER, data []byte, at time.Time, noChain bool) error {
	sig, err := v.file("sig.der", cmsDER)
	if err != nil {
		return err
	}
	content, err := v.file("content.bin", data)
	if err != nil {
		return err
	}
	args := []string{"cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", content,
		"-CAfile", v.CAFile, "-purpose", "any", "-out", os.DevNull}
	if v.Untrusted != "" {
		args = append(args, "-certfile", v.Untrusted)
	}
	if !at.IsZero() {
		args = append(args, "-attime", strconv.FormatInt(at.Unix(), 10))
	}
	if noChain {
		args = append(args, "-noverify")
	}
	out, err := OpenSSL(args...)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "Verification successful") {
		return fmt.Errorf("openssl cms -verify: %s", out)
	}
	return nil
}

// Timestamp runs `openssl ts -verify` on an RFC 3161 token over data (a
// document timestamp), or over the SHA-256 digest given instead (a
// signature time-stamp: the digest of the signature value).
func (v *Verifier) Timestamp(token, data, digest []byte) error {
	tok, err := v.file("token.der", token)
	if err != nil {
		return err
	}
	args := []string{"ts", "-verify", "-in", tok, "-token_in", "-CAfile", v.CAFile}
	if v.Untrusted != "" {
		args = append(args, "-untrusted", v.Untrusted)
	}
	if data != nil {
		p, err := v.file("ranges.bin", data)
		if err != nil {
			return err
		}
		args = append(args, "-data", p)
	} else {
		args = append(args, "-digest", hex.EncodeToString(digest))
	}
	out, err := OpenSSL(args...)
	if err != nil {
		return err
	}
	if !strings.Contains(out, "Verification: OK") {
		return fmt.Errorf("openssl ts -verify: %s", out)
	}
	return nil
}

// OCSPResponse is what `openssl ocsp -respin -resp_text` shows of a
// response whose signature it verified.
type OCSPResponse struct {
	Serial     string // hex, upper case, as openssl prints it
	Status     string // good, revoked, unknown
	ProducedAt time.Time
	ThisUpdate time.Time
	NextUpdate time.Time
}

var (
	ocspTime   = regexp.MustCompile(`(Produced At|This Update|Next Update): (.+)`)
	ocspSerial = regexp.MustCompile(`Serial Number: ([0-9A-F]+)`)
	ocspStatus = regexp.MustCompile(`Cert Status: (\w+)`)
)

// OCSP runs `openssl ocsp -respin` on a DER response: its signature must
// verify up to CAFile, and it must be well formed (producedAt not before
// thisUpdate, a nextUpdate).
func (v *Verifier) OCSP(resp []byte) (*OCSPResponse, error) {
	p, err := v.file("ocsp.der", resp)
	if err != nil {
		return nil, err
	}
	// A responder may be the root itself, which openssl looks for only
	// among the -verify_other certificates.
	var others []byte
	for _, f := range []string{v.CAFile, v.Untrusted} {
		if f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			others = append(append(others, b...), '\n')
		}
	}
	otherPath, err := v.file("responders.pem", others)
	if err != nil {
		return nil, err
	}
	out, err := OpenSSL("ocsp", "-respin", p, "-resp_text", "-CAfile", v.CAFile, "-verify_other", otherPath)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(out, "Response verify OK") {
		return nil, fmt.Errorf("openssl ocsp -respin: %s", out)
	}
	r := &OCSPResponse{}
	for _, m := range ocspTime.FindAllStringSubmatch(out, -1) {
		t, err := time.Parse("Jan _2 15:04:05 2006 MST", strings.TrimSpace(m[2]))
		if err != nil {
			return nil, fmt.Errorf("openssl time %q: %w", m[2], err)
		}
		switch m[1] {
		case "Produced At":
			r.ProducedAt = t
		case "This Update":
			r.ThisUpdate = t
		case "Next Update":
			r.NextUpdate = t
		}
	}
	if m := ocspSerial.FindStringSubmatch(out); m != nil {
		r.Serial = m[1]
	}
	if m := ocspStatus.FindStringSubmatch(out); m != nil {
		r.Status = m[1]
	}
	switch {
	case r.ProducedAt.IsZero() || r.ThisUpdate.IsZero():
		return r, fmt.Errorf("openssl ocsp: no times in:\n%s", out)
	case r.NextUpdate.IsZero():
		return r, errors.New("OCSP response has no nextUpdate")
	case r.ProducedAt.Before(r.ThisUpdate):
		return r, fmt.Errorf("OCSP response produced at %v, before its thisUpdate %v", r.ProducedAt, r.ThisUpdate)
	}
	return r, nil
}

// Key is a short stable name for a blob (deduplicating checks).
func Key(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// SignaturesPerRecipient counts the signatures of an envelope's signed
// document for each of the recipient ids, from the field names Vellum gives
// them (Signature-<recipient id>-<n>), for checks that every signer signed
// exactly once. Trust is not decided (pades.VerifyOptions.SkipTrust).
func SignaturesPerRecipient(pdf []byte, recipientIDs ...string) (map[string]int, error) {
	rep, err := pades.Verify(bytes.NewReader(pdf), int64(len(pdf)), pades.VerifyOptions{SkipTrust: true})
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, id := range recipientIDs {
		out[id] = 0
		for _, s := range rep.Signatures {
			if strings.HasPrefix(s.FieldName, "Signature-"+id+"-") {
				out[id]++
			}
		}
	}
	return out, nil
}
