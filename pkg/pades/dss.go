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
)

// AddDSS appends a revision with a Document Security Store (ETSI EN 319
// 142-1 §5.4.2) holding vd, merged with any existing DSS, and a /VRI entry
// for every signature that has none yet; it writes the whole file to w.
func AddDSS(ctx context.Context, r io.ReaderAt, size int64, w io.Writer, vd ValidationData) error {
	d, err := openDocument(r, size)
	if err != nil {
		return codeErr(CodeUnknownError, err, "cannot read PDF")
	}
	if err := checkSignable(d); err != nil {
		return err
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
// timestamp authorities) and asks opts.Revocation for their revocation data.
func validationFor(ctx context.Context, cmsDER []byte, opts *Options) (ValidationData, error) {
	certs := append([]*x509.Certificate{}, opts.Certificates...)
	if sd, err := cms.ParseSignedData(cmsDER); err == nil {
		certs = append(certs, sd.Certificates...)
		for _, tok := range sd.Signers[0].TimestampTokens {
			if t, err := cms.ParseSignedData(tok); err == nil {
				certs = append(certs, t.Certificates...)
			}
		}
	}
	var vd ValidationData
	if opts.Revocation != nil {
		var err error
		if vd, err = opts.Revocation(ctx, certs); err != nil {
			return vd, codeErr(CodeSigningError, err, "fetch revocation data")
		}
	}
	for _, c := range certs {
		vd.Certs = append(vd.Certs, c.Raw)
	}
	return vd, nil
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

// dssRevision builds the DSS revision.
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
	added := map[name]array{}
	for _, kind := range []struct {
		key  name
		data [][]byte
	}{{"Certs", vd.Certs}, {"OCSPs", vd.OCSPs}, {"CRLs", vd.CRLs}} {
		arr, err := d.resolveArray(dss[kind.key])
		if err != nil {
			return nil, codeErr(CodeUnknownError, err, "read DSS /%s", kind.key)
		}
		arr = append(array{}, arr...)
		have := existingStreams(d, arr)
		for _, b := range dedupe(kind.data) {
			if r, ok := have[sha256.Sum256(b)]; ok {
				added[kind.key] = append(added[kind.key], r)
				continue
			}
			r := rv.alloc()
			rv.setStream(r, dict{}, b)
			arr = append(arr, r)
			added[kind.key] = append(added[kind.key], r)
		}
		if len(arr) > 0 {
			dss[kind.key] = arr
		}
	}
	// /VRI: one entry per signature, keyed by the uppercase hex SHA-1 of its
	// /Contents, listing the validation data added for it.
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
		entry := dict{}
		for k, v := range map[name]name{"Certs": "Cert", "OCSPs": "OCSP", "CRLs": "CRL"} {
			if len(added[k]) > 0 {
				entry[v] = added[k]
			}
		}
		vri[key] = entry
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
	return rv.layout()
}

// existingStreams maps the SHA-256 of each stream in arr to its reference,
// so data already in the DSS is not stored twice.
func existingStreams(d *document, arr array) map[[32]byte]ref {
	out := map[[32]byte]ref{}
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
			out[sha256.Sum256(data)] = r
		}
	}
	return out
}
