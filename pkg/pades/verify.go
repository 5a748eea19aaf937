package pades

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// VerifyOptions controls Verify.
type VerifyOptions struct {
	// Roots are the trust anchors for signer and TSA chains; nil means the
	// system's roots.
	Roots *x509.CertPool
	// Time is the validation time ("now"); zero means time.Now(). A later
	// time shows how the document will validate once certificates expired.
	Time time.Time
	// SkipTrust reads what the signatures are (fields, certificates,
	// signing and timestamp times, integrity, modifications) without
	// building chains to trust anchors or deciding revocation: the chain
	// and revocation checks, and the timestamps' TSA checks, are left
	// INDETERMINATE, so no signature is VALID. For callers that list what
	// a document carries; chain building is most of a verification's cost.
	SkipTrust bool
}

// errTrustSkipped is the chain "failure" under VerifyOptions.SkipTrust.
var errTrustSkipped = errors.New("not checked (SkipTrust)")

// Verdict is the outcome of validating a signature (ETSI EN 319 102-1's
// TOTAL-PASSED, TOTAL-FAILED and INDETERMINATE).
type Verdict string

// Verdicts.
const (
	// VerdictValid: intact, no change after it beyond what it permits, a
	// chain to a trusted root valid when the signature was proven to exist,
	// nothing revoked before then.
	VerdictValid Verdict = "VALID"
	// VerdictInvalid: the signed data or the signature was altered, a later
	// revision changes what it permits nobody to change, a certificate was
	// revoked before the signature existed, or a timestamp is broken.
	VerdictInvalid Verdict = "INVALID"
	// VerdictIndeterminate: nothing is broken, but the signature cannot be
	// shown valid either: no trusted chain, or a certificate that had expired
	// with no timestamp proving the signature older.
	VerdictIndeterminate Verdict = "INDETERMINATE"
)

// CheckStatus is the result of one check of a signature.
type CheckStatus string

// Check results.
const (
	CheckPassed        CheckStatus = "passed"
	CheckFailed        CheckStatus = "failed"
	CheckIndeterminate CheckStatus = "indeterminate"
	// CheckNone: there was nothing to check (no timestamp).
	CheckNone CheckStatus = "none"
)

// Check is one check's result and what it rests on or why it failed.
type Check struct {
	Status CheckStatus `json:"status"`
	Detail string      `json:"detail,omitempty"`
}

// Checks are the checks Verify runs on every signature.
type Checks struct {
	// Integrity: the byte ranges cover the file but the signature, their
	// digest matches, and the signature (or token) verifies.
	Integrity Check `json:"integrity"`
	// Chain: a chain to a trusted root, valid at the time the signature was
	// proven to exist.
	Chain Check `json:"chain"`
	// Revocation: the document's OCSP responses and CRLs show no certificate
	// of the chain revoked at that time. Without data it is indeterminate,
	// which limits the level but not the verdict (as Adobe and pyHanko do).
	Revocation Check `json:"revocation"`
	// Timestamps: signature and document timestamps that prove when the
	// signature existed.
	Timestamps Check `json:"timestamps"`
	// Modifications: what revisions after the signature change, judged by
	// its DocMDP and FieldMDP permissions.
	Modifications Check `json:"modifications"`
}

// Signer describes a signature's (or document timestamp's) certificate.
type Signer struct {
	Name         string    `json:"name"`
	Subject      string    `json:"subject"`
	Issuer       string    `json:"issuer"`
	SerialNumber string    `json:"serialNumber"`
	NotBefore    time.Time `json:"notBefore"`
	NotAfter     time.Time `json:"notAfter"`
}

// SignatureReport describes one signature or document timestamp.
type SignatureReport struct {
	FieldName string `json:"fieldName"`
	// DocumentTimestamp is true for /ETSI.RFC3161 document timestamps.
	DocumentTimestamp bool   `json:"documentTimestamp"`
	SubFilter         string `json:"subFilter"`
	// Signer is the signing (or TSA) certificate; nil when none was found.
	Signer      *Signer           `json:"signer,omitempty"`
	Certificate *x509.Certificate `json:"-"`
	// Certificates are those embedded in the CMS or token;
	// TimestampCertificates those in the signature's time-stamp tokens.
	Certificates          []*x509.Certificate `json:"-"`
	TimestampCertificates []*x509.Certificate `json:"-"`
	// Name, Reason and Location are what the signature dictionary claims.
	Name     string `json:"name,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Location string `json:"location,omitempty"`
	// SigningTime is the claimed /M time; TimestampTime the genTime of the
	// signature timestamp, or of the document timestamp itself.
	SigningTime   time.Time `json:"signingTime,omitzero"`
	TimestampTime time.Time `json:"timestampTime,omitzero"`
	// ValidatedAt is when the chain was validated: the earliest time a
	// timestamp proves the signature existed, or the validation time.
	ValidatedAt time.Time `json:"validatedAt"`
	ByteRange   []int64   `json:"byteRange"`
	// CoversWholeFile: nothing was appended after this signature.
	CoversWholeFile bool `json:"coversWholeFile"`
	// DocMDP is the permission level of a certification signature.
	DocMDP int `json:"docMDP,omitempty"`
	// Level is the PAdES baseline level validated (signatures only): B-B
	// needs the integrity and the chain, B-T a timestamp proving existence,
	// B-LT revocation data in the document showing the chain unrevoked, B-LTA
	// a document timestamp over that data. Empty when not even B-B holds.
	Level   Level    `json:"level,omitempty"`
	Checks  Checks   `json:"checks"`
	Changes []Change `json:"changes,omitempty"`
	Verdict Verdict  `json:"verdict"`
}

// Valid reports whether the verdict is VALID.
func (s *SignatureReport) Valid() bool { return s.Verdict == VerdictValid }

// Report is the result of Verify.
type Report struct {
	Size           int64     `json:"size"`
	ValidationTime time.Time `json:"validationTime"`
	// Verdict is VALID when every signature is; INVALID when any is;
	// INDETERMINATE otherwise, or when the file has no signature.
	Verdict    Verdict           `json:"verdict"`
	Signatures []SignatureReport `json:"signatures"`
}

// Verify validates every signature and document timestamp of the PDF:
// integrity, the changes later revisions make (difference analysis with
// DocMDP and FieldMDP), chains built from the document's certificates (CMS,
// tokens, DSS), revocation from its OCSP responses and CRLs, and
// timestamps as proof of existence, so that a signature whose certificate
// has expired since is valid when a timestamp proves it was made in time.
// It reads only the file: nothing is fetched.
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
	now := opts.Time
	if now.IsZero() {
		now = time.Now()
	}
	v := &verifier{d: d, roots: opts.Roots, now: now, pool: newPool(), skipTrust: opts.SkipTrust}
	v.collect(sigs)
	for _, s := range v.sigs {
		v.checkIntegrity(s)
		v.checkModifications(s)
	}
	v.provideExistence()
	for _, s := range v.sigs {
		v.validate(s)
	}
	rep := &Report{Size: size, ValidationTime: now, Verdict: VerdictValid}
	if len(v.sigs) == 0 {
		rep.Verdict = VerdictIndeterminate
	}
	for _, s := range v.sigs {
		s.rep.Verdict = s.verdict()
		if s.rep.Verdict == VerdictInvalid {
			s.rep.Level = "" // no level is claimed for a signature that fails
		}
		switch {
		case s.rep.Verdict == VerdictInvalid:
			rep.Verdict = VerdictInvalid
		case s.rep.Verdict == VerdictIndeterminate && rep.Verdict == VerdictValid:
			rep.Verdict = VerdictIndeterminate
		}
		rep.Signatures = append(rep.Signatures, *s.rep)
	}
	return rep, nil
}

type verifier struct {
	d         *document
	roots     *x509.CertPool
	now       time.Time
	pool      *validationPool
	sigs      []*sigState
	skipTrust bool
}

// sigState is a signature under validation.
type sigState struct {
	f     sigField
	rep   *SignatureReport
	end   int64 // end of the signed revision
	docTS bool
	sd    *cms.SignedData // signatures
	token *rfc3161.Token  // document timestamps
	// sigTokens are the signature timestamps whose imprint and signature
	// verify, with their TSA certificates.
	sigTokens []stamp
	// poe is the earliest time a usable timestamp proves the signature (or
	// document timestamp) existed; zero until one does.
	poe time.Time
	// usable: a document timestamp valid enough to prove existence.
	usable bool
	// revocationUsed are the OCSP responses and CRLs that showed the chain
	// unrevoked.
	revocationUsed [][]byte
}

// stamp is a signature timestamp that verifies and its TSA certificate.
type stamp struct {
	tok  *rfc3161.Token
	cert *x509.Certificate
}

// collect parses every signature and gathers the document's certificates
// and revocation data: DSS, CMS certificate and revocation sets, Adobe's
// revocation archive, timestamp tokens.
func (v *verifier) collect(sigs []sigField) {
	_, cat, err := v.d.catalog()
	if err == nil {
		for k, item := range dssItems(v.d, cat) {
			switch k {
			case "Certs":
				for _, b := range item {
					v.pool.addCertDER(b)
				}
			case "OCSPs":
				for _, b := range item {
					v.pool.addOCSP(b)
				}
			case "CRLs":
				for _, b := range item {
					v.pool.addCRL(b)
				}
			}
		}
	}
	for _, f := range sigs {
		s := &sigState{f: f, rep: &SignatureReport{FieldName: f.name, SubFilter: string(f.sig.name("SubFilter")), ByteRange: f.byteRange}}
		if len(f.byteRange) == 4 {
			s.end = f.byteRange[2] + f.byteRange[3]
		}
		if m, ok := f.sig["M"].(pdfstr); ok {
			s.rep.SigningTime = parsePDFDate(string(m))
		}
		for k, dst := range map[name]*string{"Name": &s.rep.Name, "Reason": &s.rep.Reason, "Location": &s.rep.Location} {
			if t, ok := f.sig[k].(pdfstr); ok {
				*dst = decodeText(t)
			}
		}
		switch s.rep.SubFilter {
		case "ETSI.RFC3161":
			s.docTS, s.rep.DocumentTimestamp = true, true
			if tok, err := rfc3161.ParseToken(f.contents); err == nil {
				s.token = tok
				s.rep.Certificates = tok.Certificates
			}
		case "ETSI.CAdES.detached", "adbe.pkcs7.detached":
			if sd, err := cms.ParseSignedData(f.contents); err == nil {
				s.sd = sd
				s.rep.Certificates = sd.Certificates
				si := sd.Signers[0]
				for _, b := range append(append([][]byte{}, sd.CRLs...), si.ArchivedCRLs...) {
					v.pool.addCRL(b)
				}
				for _, b := range append(append([][]byte{}, sd.OCSPResponses...), si.ArchivedOCSPs...) {
					v.pool.addOCSP(b)
				}
				for _, raw := range si.TimestampTokens {
					if tok, err := rfc3161.ParseToken(raw); err == nil {
						s.rep.TimestampCertificates = append(s.rep.TimestampCertificates, tok.Certificates...)
						for _, c := range tok.Certificates {
							v.pool.addCert(c)
						}
					}
				}
			}
		}
		for _, c := range s.rep.Certificates {
			v.pool.addCert(c)
		}
		v.sigs = append(v.sigs, s)
	}
}

// dssItems returns the DER items of d's DSS by array name.
func dssItems(d *document, cat dict) map[name][][]byte {
	out := map[name][][]byte{}
	dss, _ := d.resolveDict(cat["DSS"])
	for _, k := range []name{"Certs", "OCSPs", "CRLs"} {
		arr, _ := d.resolveArray(dss[k])
		for i, e := range arr {
			if i > 10000 {
				break
			}
			if o, err := d.resolve(e); err == nil {
				if st, ok := o.(stream); ok {
					if data, err := d.streamData(st, true); err == nil {
						out[k] = append(out[k], data)
					}
				}
			}
		}
	}
	return out
}

func (s *sigState) fail(c *Check, status CheckStatus, format string, args ...any) {
	c.Status, c.Detail = status, fmt.Sprintf(format, args...)
}

// checkIntegrity checks the byte ranges, the digest and the signature or
// token, and the signature timestamps' own integrity.
func (v *verifier) checkIntegrity(s *sigState) {
	c := &s.rep.Checks.Integrity
	s.rep.Checks.Timestamps = Check{Status: CheckNone}
	br := s.f.byteRange
	if len(br) != 4 || br[0] != 0 || br[1] < 1 || br[2] < br[1]+2 || br[3] < 0 || br[2]+br[3] > v.d.size {
		s.fail(c, CheckFailed, "malformed /ByteRange %v", br)
		return
	}
	// The gap must be exactly the hex /Contents string, so that nothing
	// unsigned hides in it.
	gap := make([]byte, br[2]-br[1])
	if _, err := v.d.r.ReadAt(gap, br[1]); err != nil {
		s.fail(c, CheckFailed, "read /Contents: %v", err)
		return
	}
	if gap[0] != '<' || gap[len(gap)-1] != '>' {
		s.fail(c, CheckFailed, "the /ByteRange gap is not the /Contents string")
		return
	}
	if raw, err := hex.DecodeString(string(bytes.TrimRight(gap[1:len(gap)-1], "\r\n\t "))); err != nil || !bytes.Equal(raw, s.f.contents) {
		s.fail(c, CheckFailed, "the /ByteRange gap does not match /Contents")
		return
	}
	s.rep.CoversWholeFile = s.end == v.d.size
	hashRanges := func(h crypto.Hash) ([]byte, error) {
		if h == 0 || !h.Available() {
			return nil, errors.New("unsupported digest algorithm")
		}
		hh := h.New()
		if _, err := io.Copy(hh, io.NewSectionReader(v.d.r, 0, br[1])); err != nil {
			return nil, err
		}
		if _, err := io.Copy(hh, io.NewSectionReader(v.d.r, br[2], br[3])); err != nil {
			return nil, err
		}
		return hh.Sum(nil), nil
	}
	switch {
	case s.docTS:
		if s.token == nil {
			_, err := rfc3161.ParseToken(s.f.contents)
			s.fail(c, CheckFailed, "document timestamp token: %v", err)
			return
		}
		digest, err := hashRanges(s.token.HashAlgorithm)
		if err != nil {
			s.fail(c, CheckFailed, "hash byte ranges: %v", err)
			return
		}
		if !bytes.Equal(digest, s.token.Digest) {
			s.fail(c, CheckFailed, "the token's message imprint does not match the signed bytes: the document was altered")
			return
		}
		cert, err := s.token.VerifySignature(v.pool.certs)
		if err != nil {
			s.fail(c, CheckFailed, "%v", err)
			return
		}
		s.setSigner(cert)
		s.rep.TimestampTime = s.token.GenTime
		*c = Check{Status: CheckPassed, Detail: "document timestamp over the byte ranges verifies"}
	case s.sd != nil:
		si := s.sd.Signers[0]
		digest, err := hashRanges(si.Hash)
		if err != nil {
			s.fail(c, CheckFailed, "hash byte ranges: %v", err)
			return
		}
		// CAdES (and so PAdES) requires the signing-certificate attribute.
		res, err := s.sd.VerifyDigest(digest, cms.VerifyOptions{Intermediates: v.pool.certs,
			RequireSigningCertificate: s.rep.SubFilter == "ETSI.CAdES.detached"})
		if res != nil && res.Certificate != nil {
			s.setSigner(res.Certificate)
		}
		switch {
		case errors.Is(err, cms.ErrDigestMismatch):
			s.fail(c, CheckFailed, "the digest of the signed bytes does not match: the document was altered")
			return
		case err != nil:
			s.fail(c, CheckFailed, "%v", err)
			return
		}
		*c = Check{Status: CheckPassed, Detail: "digest and signature verify"}
		v.checkSignatureTimestamps(s)
	case s.rep.SubFilter == "ETSI.CAdES.detached" || s.rep.SubFilter == "adbe.pkcs7.detached":
		_, err := cms.ParseSignedData(s.f.contents)
		s.fail(c, CheckFailed, "%v", err)
	default:
		s.fail(c, CheckIndeterminate, "unsupported /SubFilter %q", s.rep.SubFilter)
	}
}

func (s *sigState) setSigner(c *x509.Certificate) {
	s.rep.Certificate = c
	s.rep.Signer = &Signer{Name: c.Subject.CommonName, Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		SerialNumber: fmt.Sprintf("%X", c.SerialNumber), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// checkSignatureTimestamps checks each signature timestamp's imprint (the
// hash of the signature value) and signature; chains come later.
func (v *verifier) checkSignatureTimestamps(s *sigState) {
	si := s.sd.Signers[0]
	c := &s.rep.Checks.Timestamps
	for _, raw := range si.TimestampTokens {
		var cert *x509.Certificate
		tok, err := rfc3161.ParseToken(raw)
		if err == nil {
			err = tok.VerifyImprint(si.Signature)
		}
		if err == nil {
			cert, err = tok.VerifySignature(v.pool.certs)
		}
		switch {
		case errors.Is(err, rfc3161.ErrNoCertificate), errors.Is(err, rfc3161.ErrUnsupportedHash):
			// Not broken, but unusable: its TSA certificate is nowhere in the
			// document, or its algorithms are no longer trusted (SHA-1).
			s.fail(c, CheckIndeterminate, "signature timestamp cannot be used: %v", err)
			continue
		case err != nil:
			s.fail(c, CheckFailed, "signature timestamp: %v", err)
			return
		}
		s.sigTokens = append(s.sigTokens, stamp{tok, cert})
	}
	if len(s.sigTokens) > 0 {
		s.rep.TimestampTime = s.sigTokens[0].tok.GenTime
	}
}

// checkModifications runs the difference analysis on what follows the
// signed revision.
func (v *verifier) checkModifications(s *sigState) {
	c := &s.rep.Checks.Modifications
	if s.rep.Checks.Integrity.Status != CheckPassed {
		s.fail(c, CheckIndeterminate, "not analysed: the signature itself does not verify")
		return
	}
	old, err := openDocument(io.NewSectionReader(v.d.r, 0, s.end), s.end)
	perms := permissions{}
	if err == nil {
		if _, cat, err := old.catalog(); err == nil {
			p, _ := docMDPPermission(old, cat)
			perms.docMDP = int(p)
			if certifier, _ := certificationSignature(old, cat); certifier == s.f.sigRef && s.f.sigRef != (ref{}) {
				s.rep.DocMDP = perms.docMDP
			}
		}
	}
	perms.lockAction, perms.lockFields = fieldMDP(v.d, s.f.sig)
	if s.rep.CoversWholeFile {
		*c = Check{Status: CheckPassed, Detail: "nothing was appended after the signature"}
		return
	}
	s.rep.Changes = analyseChanges(v.d, s.end, perms)
	refused := 0
	for _, ch := range s.rep.Changes {
		if !ch.Allowed {
			refused++
		}
	}
	switch {
	case refused > 0:
		s.fail(c, CheckFailed, "the document was modified after signing: %d of %d changes are not permitted (%s)",
			refused, len(s.rep.Changes), firstRefused(s.rep.Changes))
	case len(s.rep.Changes) == 0:
		*c = Check{Status: CheckPassed, Detail: "later revisions change nothing"}
	default:
		*c = Check{Status: CheckPassed, Detail: fmt.Sprintf("later revisions only make permitted changes (%s)", kinds(s.rep.Changes))}
	}
}

func firstRefused(changes []Change) string {
	for _, c := range changes {
		if !c.Allowed {
			return c.Description
		}
	}
	return ""
}

func kinds(changes []Change) string {
	seen := map[ChangeKind]bool{}
	var out []string
	for _, c := range changes {
		if !seen[c.Kind] {
			seen[c.Kind] = true
			out = append(out, string(c.Kind))
		}
	}
	return strings.Join(out, ", ")
}

// certificationSignature returns the reference of the signature dictionary
// /Perms /DocMDP names.
func certificationSignature(d *document, cat dict) (ref, error) {
	perms, err := d.resolveDict(cat["Perms"])
	if err != nil || perms == nil {
		return ref{}, err
	}
	r, _ := perms["DocMDP"].(ref)
	return r, nil
}

// fieldMDP reads a signature's FieldMDP transform (ISO 32000 §12.8.2.4):
// the action and the fields it names.
func fieldMDP(d *document, sig dict) (name, map[string]bool) {
	refs, _ := d.resolveArray(sig["Reference"])
	for _, r := range refs {
		sr, _ := d.resolveDict(r)
		if sr.name("TransformMethod") != "FieldMDP" {
			continue
		}
		params, _ := d.resolveDict(sr["TransformParams"])
		fields := map[string]bool{}
		list, _ := d.resolveArray(params["Fields"])
		for _, f := range list {
			if t, ok := f.(pdfstr); ok {
				fields[decodeText(t)] = true
			}
		}
		return params.name("Action"), fields
	}
	return "", nil
}

// provideExistence establishes, newest first, which document timestamps
// can serve as proof of existence and when each signature is proven to
// have existed. A timestamp's TSA chain must be valid at the time the next
// usable document timestamp proves the timestamp existed, or now.
func (v *verifier) provideExistence() {
	var docTS []*sigState
	for _, s := range v.sigs {
		if s.docTS && s.rep.Checks.Integrity.Status == CheckPassed {
			docTS = append(docTS, s)
		}
	}
	sort.Slice(docTS, func(i, j int) bool { return docTS[i].end > docTS[j].end })
	for _, s := range docTS {
		s.poe = v.coveredAt(s.end)
		at := s.poe
		if at.IsZero() {
			at = v.now
		}
		if err := v.tsaValid(s.rep.Certificate, at); err == nil {
			s.usable = true
		}
	}
	for _, s := range v.sigs {
		if s.docTS || s.rep.Checks.Integrity.Status != CheckPassed {
			continue
		}
		covered := v.coveredAt(s.end)
		s.poe = covered
		at := covered
		if at.IsZero() {
			at = v.now
		}
		var usable []string
		for _, st := range s.sigTokens {
			tok := st.tok
			if err := v.tsaValid(st.cert, at); err != nil {
				s.fail(&s.rep.Checks.Timestamps, CheckIndeterminate, "signature timestamp of %s: TSA %v", tok.GenTime.Format(time.RFC3339), err)
				continue
			}
			usable = append(usable, tok.GenTime.UTC().Format(time.RFC3339))
			if s.poe.IsZero() || tok.GenTime.Before(s.poe) {
				s.poe = tok.GenTime
			}
		}
		switch {
		case s.rep.Checks.Timestamps.Status == CheckFailed || s.rep.Checks.Timestamps.Status == CheckIndeterminate:
		case len(usable) > 0 && !covered.IsZero():
			s.rep.Checks.Timestamps = Check{Status: CheckPassed, Detail: fmt.Sprintf("signature timestamp %s; document timestamp %s", strings.Join(usable, ", "), covered.UTC().Format(time.RFC3339))}
		case len(usable) > 0:
			s.rep.Checks.Timestamps = Check{Status: CheckPassed, Detail: "signature timestamp " + strings.Join(usable, ", ")}
		case !covered.IsZero():
			s.rep.Checks.Timestamps = Check{Status: CheckPassed, Detail: "document timestamp " + covered.UTC().Format(time.RFC3339)}
		}
	}
}

// coveredAt is the genTime of the earliest usable document timestamp whose
// signed bytes include [0, end), zero when none does.
func (v *verifier) coveredAt(end int64) time.Time {
	var t time.Time
	for _, o := range v.sigs {
		if o.docTS && o.usable && o.end > end && (t.IsZero() || o.token.GenTime.Before(t)) {
			t = o.token.GenTime
		}
	}
	return t
}

// tsaValid checks a TSA certificate's chain for time-stamping at t and that
// no certificate of it was revoked by then.
func (v *verifier) tsaValid(cert *x509.Certificate, t time.Time) error {
	if cert == nil {
		return errors.New("certificate not found")
	}
	chain, err := v.chain(cert, t, x509.ExtKeyUsageTimeStamping)
	if err != nil {
		return err
	}
	if st, _, _ := v.revocation(chain, t); st == CheckFailed {
		return fmt.Errorf("certificate revoked before %s", t.UTC().Format(time.RFC3339))
	}
	return nil
}

// chain builds a chain for cert at time t from the document's certificates
// to the trust anchors.
func (v *verifier) chain(cert *x509.Certificate, t time.Time, usage x509.ExtKeyUsage) ([]*x509.Certificate, error) {
	if v.skipTrust {
		return nil, errTrustSkipped
	}
	inter := x509.NewCertPool()
	for _, c := range v.pool.certs {
		inter.AddCert(c)
	}
	return chainFor(cert, x509.VerifyOptions{Roots: v.roots, Intermediates: inter, CurrentTime: t}, v.pool.certs, usage)
}

// revocation decides the status of every certificate of chain but the
// anchor at time t from the document's OCSP responses and CRLs.
func (v *verifier) revocation(chain []*x509.Certificate, t time.Time) (CheckStatus, string, [][]byte) {
	var missing []string
	var used [][]byte
	for i := 0; i+1 < len(chain); i++ {
		c := chain[i]
		ri := v.pool.status(c, chain[i+1])
		if ri.revoked && !ri.revokedAt.After(t) {
			return CheckFailed, fmt.Sprintf("%q was revoked at %s, before %s", c.Subject.CommonName,
				ri.revokedAt.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339)), nil
		}
		if !ri.provesGoodAt(t) {
			missing = append(missing, fmt.Sprintf("%q", c.Subject.CommonName))
			continue
		}
		used = append(append(used, ri.ocsps...), ri.crls...)
	}
	if len(missing) > 0 {
		return CheckIndeterminate, "no OCSP response or CRL in the document covers " + strings.Join(missing, ", ") + " at " + t.UTC().Format(time.RFC3339), nil
	}
	return CheckPassed, "", used
}

// validate checks the chain and revocation of a signature at its proof of
// existence and settles its level.
func (v *verifier) validate(s *sigState) {
	if s.rep.Checks.Integrity.Status != CheckPassed || s.rep.Certificate == nil {
		s.rep.Checks.Chain = Check{Status: CheckIndeterminate, Detail: "not checked: the signature does not verify"}
		s.rep.Checks.Revocation = s.rep.Checks.Chain
		return
	}
	at := s.poe
	if at.IsZero() {
		at = v.now
	}
	s.rep.ValidatedAt = at
	if s.docTS {
		if s.poe.IsZero() {
			s.rep.Checks.Timestamps = Check{Status: CheckPassed, Detail: "the document timestamp is the newest; validated at " + at.UTC().Format(time.RFC3339)}
		} else {
			s.rep.Checks.Timestamps = Check{Status: CheckPassed, Detail: "a later document timestamp proves it existed at " + at.UTC().Format(time.RFC3339)}
		}
	}
	usage := x509.ExtKeyUsageAny
	if s.docTS {
		usage = x509.ExtKeyUsageTimeStamping
	}
	chain, err := v.chain(s.rep.Certificate, at, usage)
	if err != nil {
		s.fail(&s.rep.Checks.Chain, CheckIndeterminate, "no valid chain to a trusted root at %s: %v", at.UTC().Format(time.RFC3339), err)
		s.rep.Checks.Revocation = Check{Status: CheckIndeterminate, Detail: "not checked without a chain"}
		return
	}
	var names []string
	for _, c := range chain {
		names = append(names, c.Subject.CommonName)
	}
	s.rep.Checks.Chain = Check{Status: CheckPassed, Detail: fmt.Sprintf("%s, valid at %s", strings.Join(names, " → "), at.UTC().Format(time.RFC3339))}
	st, detail, used := v.revocation(chain, at)
	s.revocationUsed = used
	if st == CheckPassed {
		detail = fmt.Sprintf("no certificate revoked at %s (%d OCSP responses or CRLs from the document)", at.UTC().Format(time.RFC3339), len(used))
	}
	s.rep.Checks.Revocation = Check{Status: st, Detail: detail}
	if !s.docTS {
		s.rep.Level = v.level(s)
	}
}

// level is the highest PAdES baseline level whose requirements held.
func (v *verifier) level(s *sigState) Level {
	if s.rep.Checks.Chain.Status != CheckPassed || s.rep.Checks.Integrity.Status != CheckPassed {
		return ""
	}
	if s.poe.IsZero() || s.rep.Checks.Timestamps.Status != CheckPassed {
		return LevelBB
	}
	if s.rep.Checks.Revocation.Status != CheckPassed {
		return LevelBT
	}
	// B-LTA: a usable document timestamp over a revision that already held
	// the revocation data the chain was validated with.
	for _, o := range v.sigs {
		if !o.docTS || !o.usable || o.end <= s.end {
			continue
		}
		if v.heldBy(o.end, s) {
			return LevelBLTA
		}
	}
	return LevelBLT
}

// heldBy reports whether the document up to end (a document timestamp's
// revision) carried all the revocation data used for s, in its DSS or in
// s's own CMS.
func (v *verifier) heldBy(end int64, s *sigState) bool {
	prev, err := openDocument(io.NewSectionReader(v.d.r, 0, end), end)
	if err != nil {
		return false
	}
	_, cat, err := prev.catalog()
	if err != nil {
		return false
	}
	have := map[[32]byte]bool{}
	for _, items := range dssItems(prev, cat) {
		for _, b := range items {
			have[sha256.Sum256(b)] = true
		}
	}
	if s.sd != nil {
		si := s.sd.Signers[0]
		for _, b := range append(append(append(append([][]byte{}, s.sd.CRLs...), s.sd.OCSPResponses...), si.ArchivedCRLs...), si.ArchivedOCSPs...) {
			have[sha256.Sum256(b)] = true
		}
	}
	for _, b := range s.revocationUsed {
		if !have[sha256.Sum256(b)] {
			return false
		}
	}
	return true
}

// verdict sums a signature's checks up.
func (s *sigState) verdict() Verdict {
	c := s.rep.Checks
	switch {
	case c.Integrity.Status == CheckFailed, c.Modifications.Status == CheckFailed,
		c.Revocation.Status == CheckFailed, c.Timestamps.Status == CheckFailed:
		return VerdictInvalid
	case c.Integrity.Status != CheckPassed, c.Chain.Status != CheckPassed, c.Modifications.Status != CheckPassed:
		return VerdictIndeterminate
	}
	return VerdictValid
}
