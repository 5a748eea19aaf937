package pades

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// VerifyOptions controls Verify.
type VerifyOptions struct {
	// Roots are the trust anchors for signer and TSA chains; when nil chains
	// are not checked (ChainValid stays false, ChainError explains).
	Roots *x509.CertPool
}

// SignatureReport describes one signature or document timestamp.
type SignatureReport struct {
	FieldName string `json:"fieldName"`
	// DocumentTimestamp is true for /ETSI.RFC3161 document timestamps.
	DocumentTimestamp bool              `json:"documentTimestamp"`
	SubFilter         string            `json:"subFilter"`
	SignerName        string            `json:"signerName,omitempty"`
	Certificate       *x509.Certificate `json:"-"`
	// Certificates are those embedded in the CMS (signer chain).
	Certificates []*x509.Certificate `json:"-"`
	Reason       string              `json:"reason,omitempty"`
	Location     string              `json:"location,omitempty"`
	// SigningTime is the claimed /M time; TimestampTime the genTime of the
	// signature or document timestamp token.
	SigningTime   time.Time `json:"signingTime,omitzero"`
	TimestampTime time.Time `json:"timestampTime,omitzero"`
	ByteRange     []int64   `json:"byteRange"`
	// CoversWholeFile: the byte ranges span the file but the /Contents.
	CoversWholeFile bool `json:"coversWholeFile"`
	// ModifiedAfter: revisions were appended after this signature;
	// LaterChangesAllowed tells whether they only add signatures, document
	// timestamps and validation data (nothing that changes the content).
	ModifiedAfter       bool   `json:"modifiedAfter"`
	LaterChangesAllowed bool   `json:"laterChangesAllowed"`
	DigestValid         bool   `json:"digestValid"`
	SignatureValid      bool   `json:"signatureValid"`
	ChainValid          bool   `json:"chainValid"`
	ChainError          string `json:"chainError,omitempty"`
	HasTimestamp        bool   `json:"hasTimestamp"`
	TimestampValid      bool   `json:"timestampValid"`
	// Level is the PAdES baseline level reached (signatures only).
	Level  Level    `json:"level,omitempty"`
	Errors []string `json:"errors,omitempty"`
}

// Valid reports whether the signature is cryptographically valid, covers
// what it claims (the whole file, or a revision followed only by allowed
// additions), and its timestamp (if any) and chain (if roots were given)
// verified.
func (s *SignatureReport) Valid(rootsGiven bool) bool {
	if !s.DigestValid || !s.SignatureValid || len(s.Errors) > 0 {
		return false
	}
	if s.ModifiedAfter && !s.LaterChangesAllowed {
		return false
	}
	if s.HasTimestamp && !s.TimestampValid {
		return false
	}
	return !rootsGiven || s.ChainValid
}

// Report is the result of Verify.
type Report struct {
	Size       int64             `json:"size"`
	Signatures []SignatureReport `json:"signatures"`
}

// Verify checks every signature and document timestamp of the PDF.
func Verify(r io.ReaderAt, size int64, opts VerifyOptions) (*Report, error) {
	d, err := openDocument(r, size)
	if err != nil {
		return nil, fmt.Errorf("pades: read PDF: %w", err)
	}
	if d.trailer["Encrypt"] != nil {
		return nil, ErrEncrypted
	}
	sigs, err := d.signatures()
	if err != nil {
		return nil, fmt.Errorf("pades: list signatures: %w", err)
	}
	rep := &Report{Size: size}
	for _, s := range sigs {
		rep.Signatures = append(rep.Signatures, verifyOne(d, s, opts))
	}
	assignLevels(d, rep)
	return rep, nil
}

func verifyOne(d *document, s sigField, opts VerifyOptions) SignatureReport {
	rep := SignatureReport{FieldName: s.name, SubFilter: string(s.sig.name("SubFilter")), ByteRange: s.byteRange}
	fail := func(format string, args ...any) SignatureReport {
		rep.Errors = append(rep.Errors, fmt.Sprintf(format, args...))
		return rep
	}
	if m, ok := s.sig["M"].(pdfstr); ok {
		rep.SigningTime = parsePDFDate(string(m))
	}
	if v, ok := s.sig["Reason"].(pdfstr); ok {
		rep.Reason = decodeText(v)
	}
	if v, ok := s.sig["Location"].(pdfstr); ok {
		rep.Location = decodeText(v)
	}
	if v, ok := s.sig["Name"].(pdfstr); ok {
		rep.SignerName = decodeText(v)
	}
	br := s.byteRange
	if len(br) != 4 || br[0] != 0 || br[1] < 1 || br[2] < br[1]+2 || br[3] < 0 || br[2]+br[3] > d.size {
		return fail("malformed /ByteRange %v", br)
	}
	// The gap must be exactly the hex /Contents string, so that nothing
	// unsigned hides in it.
	gap := make([]byte, br[2]-br[1])
	if _, err := d.r.ReadAt(gap, br[1]); err != nil {
		return fail("read /Contents: %v", err)
	}
	if gap[0] != '<' || gap[len(gap)-1] != '>' {
		return fail("/ByteRange gap is not the /Contents string")
	}
	if raw, err := hex.DecodeString(string(bytes.TrimRight(gap[1:len(gap)-1], "\r\n\t "))); err != nil || !bytes.Equal(raw, s.contents) {
		return fail("/ByteRange gap does not match /Contents")
	}
	end := br[2] + br[3]
	rep.CoversWholeFile = end == d.size
	rep.ModifiedAfter = !rep.CoversWholeFile
	if rep.ModifiedAfter {
		ok, err := laterChangesAllowed(d, end)
		rep.LaterChangesAllowed = ok
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("analyse later revisions: %v", err))
		}
	}
	hashRanges := func(h crypto.Hash) ([]byte, error) {
		if h == 0 || !h.Available() {
			return nil, errors.New("unsupported digest algorithm")
		}
		hh := h.New()
		if _, err := io.Copy(hh, io.NewSectionReader(d.r, 0, br[1])); err != nil {
			return nil, err
		}
		if _, err := io.Copy(hh, io.NewSectionReader(d.r, br[2], br[3])); err != nil {
			return nil, err
		}
		return hh.Sum(nil), nil
	}

	switch rep.SubFilter {
	case "ETSI.RFC3161":
		rep.DocumentTimestamp = true
		tok, err := rfc3161.ParseToken(s.contents)
		if err != nil {
			return fail("%v", err)
		}
		rep.HasTimestamp = true
		rep.TimestampTime = tok.GenTime
		rep.Certificate = tok.SignerCert
		rep.Certificates = tok.Certificates
		if rep.Certificate != nil {
			rep.SignerName = rep.Certificate.Subject.CommonName
		}
		digest, err := hashRanges(tok.HashAlgorithm)
		if err != nil {
			return fail("hash byte ranges: %v", err)
		}
		rep.DigestValid = bytes.Equal(tok.Digest, digest)
		if _, err := tok.VerifySignature(nil); err != nil {
			return fail("%v", err)
		}
		rep.SignatureValid = true
		rep.TimestampValid = rep.DigestValid
		rep.checkChain(opts, func() error { _, err := rfc3161.VerifyToken(tok.Raw, tok.Digest, opts.Roots); return err })
	case "ETSI.CAdES.detached", "adbe.pkcs7.detached":
		sd, err := cms.ParseSignedData(s.contents)
		if err != nil {
			return fail("%v", err)
		}
		si := sd.Signers[0]
		digest, err := hashRanges(si.Hash)
		if err != nil {
			return fail("hash byte ranges: %v", err)
		}
		res, err := sd.VerifyDigest(digest, cms.VerifyOptions{Roots: opts.Roots})
		rep.Certificates = sd.Certificates
		if res != nil {
			rep.DigestValid, rep.SignatureValid = res.DigestValid, res.SignatureValid
			rep.Certificate = res.Certificate
			rep.HasTimestamp = len(si.TimestampTokens) > 0
			for _, raw := range si.TimestampTokens {
				h := crypto.SHA256
				if tok, err := rfc3161.ParseToken(raw); err == nil {
					h = tok.HashAlgorithm
				}
				hh := h.New()
				hh.Write(si.Signature)
				tok, err := rfc3161.VerifyToken(raw, hh.Sum(nil), opts.Roots)
				if err != nil {
					rep.Errors = append(rep.Errors, fmt.Sprintf("signature timestamp: %v", err))
					continue
				}
				rep.TimestampTime = tok.GenTime
				rep.TimestampValid = true
			}
			if opts.Roots != nil {
				rep.ChainValid = res.ChainErr == nil && len(res.Chains) > 0
				if res.ChainErr != nil {
					rep.ChainError = res.ChainErr.Error()
				}
			} else {
				rep.ChainError = "no trust roots given"
			}
		}
		if rep.Certificate != nil {
			rep.SignerName = rep.Certificate.Subject.CommonName
		}
		if err != nil && (!rep.DigestValid || !rep.SignatureValid) {
			return fail("%v", err)
		}
	default:
		return fail("unsupported /SubFilter %q", rep.SubFilter)
	}
	return rep
}

func (s *SignatureReport) checkChain(opts VerifyOptions, fn func() error) {
	if opts.Roots == nil {
		s.ChainError = "no trust roots given"
		return
	}
	if err := fn(); err != nil {
		s.ChainError = err.Error()
		return
	}
	s.ChainValid = true
}

// assignLevels sets the PAdES baseline level of each valid signature: B-T
// with a valid signature timestamp, B-LT when the DSS holds its certificate
// and revocation data, B-LTA when a valid document timestamp covers a
// revision that already had that DSS.
func assignLevels(d *document, rep *Report) {
	dssCerts, hasRevocation := dssContents(d)
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		if s.DocumentTimestamp || !s.DigestValid || !s.SignatureValid {
			continue
		}
		s.Level = LevelBB
		if !s.TimestampValid {
			continue
		}
		s.Level = LevelBT
		if s.Certificate == nil || !dssCerts[string(s.Certificate.Raw)] || !hasRevocation {
			continue
		}
		s.Level = LevelBLT
		sigEnd := s.ByteRange[2] + s.ByteRange[3]
		for _, ts := range rep.Signatures {
			if !ts.DocumentTimestamp || !ts.DigestValid || !ts.SignatureValid || len(ts.ByteRange) != 4 {
				continue
			}
			tsEnd := ts.ByteRange[2] + ts.ByteRange[3]
			if tsEnd <= sigEnd {
				continue
			}
			prev, err := openDocument(io.NewSectionReader(d.r, 0, tsEnd), tsEnd)
			if err != nil {
				continue
			}
			if certs, rev := dssContents(prev); rev && certs[string(s.Certificate.Raw)] {
				s.Level = LevelBLTA
				break
			}
		}
	}
}

// dssContents returns the DER certificates of the DSS and whether it holds
// any OCSP response or CRL.
func dssContents(d *document) (map[string]bool, bool) {
	certs := map[string]bool{}
	_, cat, err := d.catalog()
	if err != nil {
		return certs, false
	}
	dss, _ := d.resolveDict(cat["DSS"])
	if dss == nil {
		return certs, false
	}
	arr, _ := d.resolveArray(dss["Certs"])
	for i, e := range arr {
		if i > 1000 {
			break
		}
		o, err := d.resolve(e)
		if s, ok := o.(stream); ok && err == nil {
			if data, err := d.streamData(s, true); err == nil {
				certs[string(data)] = true
			}
		}
	}
	ocsps, _ := d.resolveArray(dss["OCSPs"])
	crls, _ := d.resolveArray(dss["CRLs"])
	return certs, len(ocsps)+len(crls) > 0
}

// laterChangesAllowed compares every object changed after offset end with
// its version in the signed revision and accepts only what signing,
// document timestamps and validation data do: new objects, new /Annots and
// /Fields entries, /SigFlags, and catalog /DSS, /AcroForm and /Extensions.
func laterChangesAllowed(d *document, end int64) (bool, error) {
	old, err := openDocument(io.NewSectionReader(d.r, 0, end), end)
	if err != nil {
		return false, fmt.Errorf("signed revision: %w", err)
	}
	oldRoot, _ := old.trailer["Root"].(ref)
	newRoot, _ := d.trailer["Root"].(ref)
	if oldRoot != newRoot {
		return false, nil
	}
	for _, sec := range d.sections {
		if sec.offset < end {
			continue
		}
		if sec.objects == nil {
			return false, nil // an enormous later revision is no signature update
		}
		for _, n := range sec.objects {
			before, err := old.object(n)
			if err != nil || before == nil {
				continue // a new object
			}
			after, err := d.object(n)
			if err != nil {
				return false, err
			}
			if !allowedChange(n == oldRoot.num, before, after) {
				return false, nil
			}
		}
	}
	return true, nil
}

func allowedChange(isCatalog bool, before, after any) bool {
	if reflect.DeepEqual(before, after) {
		return true
	}
	switch b := before.(type) {
	case array: // /Annots or /Fields arrays: entries may only be appended
		a, ok := after.(array)
		return ok && len(a) >= len(b) && reflect.DeepEqual(b, a[:len(b)])
	case dict:
		a, ok := after.(dict)
		if !ok {
			return false
		}
		var free map[name]bool
		switch {
		case isCatalog:
			free = map[name]bool{"DSS": true, "AcroForm": true, "Extensions": true}
		case b.name("Type") == "Page":
			free = map[name]bool{"Annots": true}
		case b["Fields"] != nil || b["SigFlags"] != nil:
			free = map[name]bool{"Fields": true, "SigFlags": true, "DR": true, "DA": true}
		case b.name("Type") == "DSS" || b["VRI"] != nil:
			return true
		default:
			return false
		}
		for k := range mergeKeys(a, b) {
			if free[k] {
				if !allowedChange(false, b[k], a[k]) && !isAppendedArray(b[k], a[k]) && k != "DSS" && k != "SigFlags" && k != "AcroForm" {
					return false
				}
				continue
			}
			if !reflect.DeepEqual(a[k], b[k]) {
				return false
			}
		}
		return true
	}
	return false
}

func isAppendedArray(before, after any) bool {
	b, ok1 := before.(array)
	a, ok2 := after.(array)
	if before == nil {
		return ok2
	}
	return ok1 && ok2 && len(a) >= len(b) && reflect.DeepEqual(b, a[:len(b)])
}

func mergeKeys(a, b dict) map[name]bool {
	keys := map[name]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}
