package pades

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// AddDSS appends a revision with a Document Security Store (ETSI EN 319
// 142-1 §5.4.2) holding vd, merged with any existing DSS, and a /VRI entry
// for every signature that has none yet; it writes the whole file to w.
func AddDSS(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, vd ValidationData) error {
	d, err := openDocument(r, size)
	if err != nil {
		return codeErr(CodeUnknownError, err, "cannot read PDF")
	}
	// Validation data and document timestamps are what even a document
	// certified with "no changes" (DocMDP P=1) admits (ETSI EN 319 142-1).
	if d.trailer["Encrypt"] != nil {
		return ErrEncrypted
	}
	if _, err := io.Copy(w, io.NewSectionReader(r, 0, size)); err != nil {
		return fmt.Errorf("pades: copy input: %w", err)
	}
	l, err := dssRevision(d, vd)
	if err != nil {
		return err
	}
	_, err = w.Write(l.data)
	return err
}

// validationFor gathers the certificates of a signature (signer chain and
// timestamp authorities), asks opts.Revocation for their revocation data,
// and checks that the result is complete: every certificate up to a
// self-signed root has its issuer and an OCSP response or CRL. A DSS that
// leaves a CA without revocation data is not B-LT, so it is refused rather
// than written.
func validationFor(ctx context.Context, cmsDER []byte, opts *Options) (ValidationData, error) {
	if opts.Revocation == nil {
		return ValidationData{}, codeErr(CodeSigningError, nil, "level %s needs revocation data (Options.Revocation)", opts.Level)
	}
	var certs []*x509.Certificate
	seen := map[string]bool{}
	for _, c := range append(append([]*x509.Certificate{}, opts.Certificates...), signatureCertificates(cmsDER, false)...) {
		if !seen[string(c.Raw)] {
			seen[string(c.Raw)] = true
			certs = append(certs, c)
		}
	}
	vd, err := opts.Revocation(ctx, certs)
	if err != nil {
		return vd, codeErr(CodeSigningError, err, "fetch revocation data")
	}
	for _, c := range certs {
		vd.Certs = append(vd.Certs, c.Raw)
	}
	pool := newPool()
	pool.add(vd)
	for _, c := range pool.closure(certs) {
		if selfSigned(c) {
			continue
		}
		issuer := pool.issuer(c)
		if issuer == nil {
			return vd, codeErr(CodeSigningError, nil, "no issuer certificate for %q: give the whole chain, or use certificates whose authority information access names their issuer", c.Subject)
		}
		if st := pool.status(c, issuer); !st.found() {
			return vd, codeErr(CodeSigningError, nil, "no OCSP response or CRL for %q", c.Subject)
		}
	}
	return vd, nil
}

// signatureCertificates returns the certificates a signature's /Contents
// carries: the CMS's and its signature timestamps' (docTS: the token's).
func signatureCertificates(contents []byte, docTS bool) []*x509.Certificate {
	if docTS {
		if t, err := rfc3161.ParseToken(contents); err == nil {
			return t.Certificates
		}
		return nil
	}
	sd, err := cms.ParseSignedData(contents)
	if err != nil {
		return nil
	}
	certs := append([]*x509.Certificate{}, sd.Certificates...)
	for _, tok := range sd.Signers[0].TimestampTokens {
		if t, err := rfc3161.ParseToken(tok); err == nil {
			certs = append(certs, t.Certificates...)
		}
	}
	return certs
}

// dedupe drops repeated DER blobs, keeping order.
func dedupe(list [][]byte) [][]byte {
	seen := map[[32]byte]bool{}
	var out [][]byte
	for _, b := range list {
		k := sha256.Sum256(b)
		if !seen[k] && len(b) > 0 {
			seen[k] = true
			out = append(out, b)
		}
	}
	return out
}

// dssRevision builds the DSS revision: vd merged into the existing DSS
// (nothing stored twice), and a /VRI entry for every signature that has
// none yet.
func dssRevision(d *document, vd ValidationData) (*layout, error) {
	rv := newRevision(d)
	catRef, cat, err := d.catalog()
	if err != nil {
		return nil, codeErr(CodeUnknownError, err, "read catalog")
	}
	dssRef, dssIsRef := cat["DSS"].(ref)
	old, err := d.resolveDict(cat["DSS"])
	if err != nil {
		return nil, codeErr(CodeUnknownError, err, "read existing DSS")
	}
	dss := maps.Clone(old)
	if dss == nil {
		dss = dict{"Type": name("DSS")}
	}
	pool := newPool()
	stored := map[[32]byte]ref{} // SHA-256 of each DSS item -> its stream
	for _, kind := range []struct {
		key  name
		data [][]byte
		add  func([]byte)
	}{{"Certs", vd.Certs, pool.addCertDER}, {"OCSPs", vd.OCSPs, pool.addOCSP}, {"CRLs", vd.CRLs, pool.addCRL}} {
		arr, err := d.resolveArray(dss[kind.key])
		if err != nil {
			return nil, codeErr(CodeUnknownError, err, "read DSS /%s", kind.key)
		}
		arr = append(array{}, arr...)
		for sum, item := range existingStreams(d, arr) {
			stored[sum] = item.ref
			kind.add(item.data)
		}
		for _, b := range dedupe(kind.data) {
			sum := sha256.Sum256(b)
			if _, ok := stored[sum]; ok {
				continue
			}
			r := rv.alloc()
			rv.setStream(r, dict{}, b)
			arr = append(arr, r)
			stored[sum] = r
			kind.add(b)
		}
		if len(arr) > 0 {
			dss[kind.key] = arr
		}
	}
	vri, err := d.resolveDict(dss["VRI"])
	if err != nil {
		return nil, codeErr(CodeUnknownError, err, "read DSS /VRI")
	}
	vri = maps.Clone(vri)
	if vri == nil {
		vri = dict{}
	}
	sigs, err := d.signatures()
	if err != nil {
		return nil, codeErr(CodeUnknownError, err, "list signatures")
	}
	for _, s := range sigs {
		sum := sha1.Sum(s.contents)
		key := name(strings.ToUpper(hex.EncodeToString(sum[:])))
		if _, ok := vri[key]; ok {
			continue
		}
		if entry := vriEntry(pool, stored, s); entry != nil {
			vri[key] = entry
		}
	}
	if len(vri) > 0 {
		dss["VRI"] = vri
	}
	if dssIsRef {
		rv.set(dssRef, dss)
	} else {
		nr := rv.alloc()
		rv.set(nr, dss)
		cat = maps.Clone(cat)
		cat["DSS"] = nr
		rv.set(catRef, cat)
	}
	if err := rv.declarePAdES(); err != nil {
		return nil, codeErr(CodeUnknownError, err, "declare PAdES")
	}
	return rv.layout()
}

// vriEntry lists the DSS items that validate signature s: the certificates
// of its chain (signer and timestamp authorities, ETSI EN 319 142-1 §5.4.2.3)
// and the OCSP responses and CRLs about them. It is nil when the DSS holds
// nothing of that signature's.
func vriEntry(pool *validationPool, stored map[[32]byte]ref, s sigField) dict {
	own := signatureCertificates(s.contents, s.sig.name("SubFilter") == "ETSI.RFC3161")
	for _, c := range own {
		pool.addCert(c)
	}
	var certs, ocsps, crls array
	seen := map[ref]bool{}
	add := func(dst *array, der []byte) {
		if r, ok := stored[sha256.Sum256(der)]; ok && !seen[r] {
			seen[r] = true
			*dst = append(*dst, r)
		}
	}
	for _, c := range pool.closure(own) {
		add(&certs, c.Raw)
		if selfSigned(c) {
			continue
		}
		if issuer := pool.issuer(c); issuer != nil {
			st := pool.status(c, issuer)
			for _, o := range st.ocsps {
				add(&ocsps, o)
			}
			for _, l := range st.crls {
				add(&crls, l)
			}
		}
	}
	if len(certs)+len(ocsps)+len(crls) == 0 {
		return nil
	}
	entry := dict{}
	for k, v := range map[name]array{"Cert": certs, "OCSP": ocsps, "CRL": crls} {
		if len(v) > 0 {
			entry[k] = v
		}
	}
	return entry
}

// storedItem is a stream of the DSS and its data.
type storedItem struct {
	ref  ref
	data []byte
}

// existingStreams maps the SHA-256 of each stream in arr to its reference
// and data, so data already in the DSS is not stored twice.
func existingStreams(d *document, arr array) map[[32]byte]storedItem {
	out := map[[32]byte]storedItem{}
	if len(arr) > 1000 {
		return out
	}
	for _, e := range arr {
		r, ok := e.(ref)
		if !ok {
			continue
		}
		o, err := d.object(r.num)
		s, ok := o.(stream)
		if err != nil || !ok {
			continue
		}
		if data, err := d.streamData(s, true); err == nil {
			out[sha256.Sum256(data)] = storedItem{r, data}
		}
	}
	return out
}
