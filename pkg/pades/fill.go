package pades

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Errors about Options.Field, wrapped in a *FieldError.
var (
	// ErrNoSuchField: the document has no signature field of that name.
	ErrNoSuchField = errors.New("no such signature field")
	// ErrFieldSigned: the field already holds a signature.
	ErrFieldSigned = errors.New("the signature field is already signed")
	// ErrSeedValue: the field's seed value dictionary (/SV) requires
	// something this signature cannot give.
	ErrSeedValue = errors.New("the field's seed values cannot be met")
)

// FieldError is a refusal to sign into a named signature field; Err is one
// of ErrNoSuchField, ErrFieldSigned, ErrSeedValue or a structural problem.
type FieldError struct {
	Field  string
	Err    error
	Detail string
}

func (e *FieldError) Error() string {
	s := fmt.Sprintf("pades: signature field %q: %v", e.Field, e.Err)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *FieldError) Unwrap() error { return e.Err }

// Seed value flags (/SV /Ff, ISO 32000 table 234): which entries are
// requirements rather than suggestions.
const (
	svFilter       = 1 << 0
	svSubFilter    = 1 << 1
	svReasons      = 1 << 3
	svDigestMethod = 1 << 6
)

// findEmptyField finds the signature field named fieldName that can be
// signed: it exists, is a signature field and holds no signature yet.
func findEmptyField(d *document, fieldName string) (sigFieldInfo, error) {
	pages, err := d.pages()
	if err != nil {
		return sigFieldInfo{}, fmt.Errorf("read the page tree: %w", err)
	}
	for _, f := range d.fields() {
		if f.name == fieldName && f.dict["T"] != nil && f.ft != "Sig" {
			return sigFieldInfo{}, &FieldError{Field: fieldName, Err: ErrNoSuchField, Detail: fmt.Sprintf("it is a %s field, not a signature field", f.ft)}
		}
	}
	for _, f := range d.sigFields(pages) {
		if f.Name != fieldName {
			continue
		}
		if f.Signed {
			return sigFieldInfo{}, &FieldError{Field: fieldName, Err: ErrFieldSigned}
		}
		if f.field.ref == (ref{}) || f.widget.ref == (ref{}) {
			return sigFieldInfo{}, &FieldError{Field: fieldName, Err: errors.New("the field is a direct object, which an incremental update cannot change")}
		}
		return f, nil
	}
	return sigFieldInfo{}, &FieldError{Field: fieldName, Err: ErrNoSuchField}
}

// applySeedValue adjusts o to the field's seed value dictionary (§12.7.5.5)
// where it only suggests, and refuses where it requires what this signature
// is not: a filter other than Adobe.PPKLite, sub-filters without
// ETSI.CAdES.detached, digests other than the one asked for, a reason not
// in its list. /MDP makes the signature a certification one when the
// document has no signature yet. Seed certificate constraints (/Cert) and
// timestamp servers are the caller's business: they choose key and TSA.
func applySeedValue(d *document, fieldName string, fd dict, o *Options) error {
	sv, err := d.resolveDict(fd["SV"])
	if err != nil || sv == nil {
		return err
	}
	ff, _ := d.resolveInt(sv["Ff"])
	refuse := func(format string, args ...any) error {
		return &FieldError{Field: fieldName, Err: ErrSeedValue, Detail: fmt.Sprintf(format, args...)}
	}
	if f := sv.name("Filter"); f != "" && f != "Adobe.PPKLite" && ff&svFilter != 0 {
		return refuse("it requires the signature handler /%s", f)
	}
	if subs, _ := d.resolveArray(sv["SubFilter"]); len(subs) > 0 && ff&svSubFilter != 0 && !slices.Contains(subs, any(name("ETSI.CAdES.detached"))) {
		return refuse("it requires one of the sub-filters %v, not ETSI.CAdES.detached", subs)
	}
	if dms, _ := d.resolveArray(sv["DigestMethod"]); len(dms) > 0 {
		hashes := map[name]crypto.Hash{"SHA256": crypto.SHA256, "SHA384": crypto.SHA384, "SHA512": crypto.SHA512}
		var allowed []crypto.Hash
		for _, dm := range dms {
			if n, ok := dm.(name); ok && hashes[n] != 0 {
				allowed = append(allowed, hashes[n])
			}
		}
		switch {
		case o.Hash == 0 && len(allowed) > 0:
			o.Hash = allowed[0]
		case ff&svDigestMethod != 0 && !slices.Contains(allowed, o.hash()):
			return refuse("it requires the digest %v", dms)
		}
	}
	if rs, _ := d.resolveArray(sv["Reasons"]); len(rs) > 0 {
		var reasons []string
		for _, r := range rs {
			if s, ok := r.(pdfstr); ok {
				reasons = append(reasons, decodeText(s))
			}
		}
		switch {
		case o.Reason == "" && len(reasons) > 0 && reasons[0] != ".":
			o.Reason = reasons[0]
		case ff&svReasons != 0 && o.Reason != "" && !slices.Contains(reasons, o.Reason):
			return refuse("the reason must be one of %q", reasons)
		}
	}
	if err := checkSeedCert(d, sv, o, refuse); err != nil {
		return err
	}
	if mdp, _ := d.resolveDict(sv["MDP"]); mdp != nil && o.DocMDP == 0 {
		if p, ok := d.resolveInt(mdp["P"]); ok && p >= 1 && p <= 3 {
			if sigs, err := d.signatures(); err == nil && len(sigs) == 0 {
				o.DocMDP = int(p)
			}
		}
	}
	return nil
}

// Certificate seed value flags (/SV /Cert /Ff, ISO 32000-1 table 235):
// which constraints on the signer's certificate are requirements.
const (
	certSubject  = 1 << 0
	certIssuer   = 1 << 1
	certOID      = 1 << 2
	certKeyUsage = 1 << 5
)

// checkSeedCert refuses a signer whose certificate cannot meet the
// required constraints of the field's certificate seed value (/SV /Cert,
// §12.7.5.5): /Subject (one of these certificates), /Issuer (issued by
// one of these, anywhere up the chain given), /OID (one of these
// certificate policies) and /KeyUsage (patterns of 0, 1 and X over the
// nine key usage bits). Constraints without their /Ff bit only suggest,
// and are ignored as viewers ignore them; /SubjectDN and /URL are not
// checked (a DN match has no single reading, a URL is a viewer's hint).
func checkSeedCert(d *document, sv dict, o *Options, refuse func(string, ...any) error) error {
	sc, err := d.resolveDict(sv["Cert"])
	if err != nil || sc == nil || len(o.Certificates) == 0 {
		return err
	}
	ff, _ := d.resolveInt(sc["Ff"])
	leaf := o.Certificates[0]
	ders := func(key string) [][]byte {
		arr, _ := d.resolveArray(sc[name(key)])
		var out [][]byte
		for _, v := range arr {
			if r, err := d.resolve(v); err == nil {
				if s, ok := r.(pdfstr); ok {
					out = append(out, []byte(s))
				}
			}
		}
		return out
	}
	if subs := ders("Subject"); len(subs) > 0 && ff&certSubject != 0 {
		if !slices.ContainsFunc(subs, func(b []byte) bool { return bytes.Equal(b, leaf.Raw) }) {
			return refuse("it requires the signer's certificate to be one of the %d it lists (/Cert /Subject); %q is not", len(subs), leaf.Subject.String())
		}
	}
	if iss := ders("Issuer"); len(iss) > 0 && ff&certIssuer != 0 {
		issued := false
		for _, der := range iss {
			ca, err := x509.ParseCertificate(der)
			if err != nil {
				continue
			}
			for _, c := range o.Certificates {
				if c.CheckSignatureFrom(ca) == nil || bytes.Equal(c.Raw, ca.Raw) && c != leaf {
					issued = true
				}
			}
		}
		if !issued {
			return refuse("it requires a certificate issued by one of the %d CAs it lists (/Cert /Issuer); %q is issued by %q", len(iss), leaf.Subject.String(), leaf.Issuer.String())
		}
	}
	if oids := ders("OID"); len(oids) > 0 && ff&certOID != 0 {
		var want []string
		for _, b := range oids {
			want = append(want, string(b))
		}
		has := false
		for _, p := range leaf.Policies {
			has = has || slices.Contains(want, p.String())
		}
		if !has {
			return refuse("it requires a certificate with one of the policies %v (/Cert /OID); the signer's has none of them", want)
		}
	}
	if kus := ders("KeyUsage"); len(kus) > 0 && ff&certKeyUsage != 0 {
		if !slices.ContainsFunc(kus, func(p []byte) bool { return keyUsageMatches(string(p), leaf.KeyUsage) }) {
			return refuse("it requires a certificate whose key usage matches one of %q (/Cert /KeyUsage)", kus)
		}
	}
	return nil
}

// keyUsageMatches reports whether ku meets a /KeyUsage pattern: character
// i is 1 (bit i must be set), 0 (must be clear) or X (either), in the
// order of RFC 5280's KeyUsage bits (digitalSignature first).
func keyUsageMatches(pattern string, ku x509.KeyUsage) bool {
	for i, ch := range pattern {
		set := ku&(1<<i) != 0
		if (ch == '1' && !set) || (ch == '0' && set) {
			return false
		}
	}
	return true
}

// fieldLock turns the field's /Lock dictionary (§12.7.5.5, table 233) into
// the FieldMDP signature reference (§12.8.2.4) the signature must carry, nil
// when the field locks nothing.
func fieldLock(d *document, fd dict, catRef ref) (dict, error) {
	lock, err := d.resolveDict(fd["Lock"])
	if err != nil || lock == nil {
		return nil, err
	}
	action := lock.name("Action")
	params := dict{"Type": name("TransformParams"), "Action": action, "V": name("1.2")}
	switch action {
	case "All":
	case "Include", "Exclude":
		fields, err := d.resolveArray(lock["Fields"])
		if err != nil {
			return nil, err
		}
		list := array{}
		for _, f := range fields {
			if s, ok := f.(pdfstr); ok {
				list = append(list, s)
			}
		}
		params["Fields"] = list
	default:
		return nil, fmt.Errorf("/Lock has an unknown /Action /%s", action)
	}
	// PDF 2.0: the document permissions after this signature, carried in
	// the FieldMDP transform (ISO 32000-2, table 257).
	if p, ok := d.resolveInt(lock["P"]); ok && p >= 1 && p <= 3 {
		params["P"] = p
	}
	return dict{"Type": name("SigRef"), "TransformMethod": name("FieldMDP"), "TransformParams": params, "Data": catRef}, nil
}

// fillField puts the signature into an existing field: /V on the field,
// the appearance on its widget; rectangle, page, flags and every other
// entry stay as they were. The widget joins its page's /Annots if it is
// not there yet, and the form's /SigFlags becomes 3.
func (rv *revision) fillField(f sigFieldInfo, sigRef ref, apRef ref) error {
	fo, err := rv.get(f.field.ref)
	if err != nil {
		return err
	}
	fd, _ := fo.(dict)
	fd = maps.Clone(fd)
	fd["V"] = sigRef
	if f.widget.ref == f.field.ref {
		fd["AP"] = dict{"N": apRef}
	} else {
		wo, err := rv.get(f.widget.ref)
		if err != nil {
			return err
		}
		wd, _ := wo.(dict)
		wd = maps.Clone(wd)
		wd["AP"] = dict{"N": apRef}
		rv.set(f.widget.ref, wd)
	}
	rv.set(f.field.ref, fd)
	if f.pageRef != (ref{}) {
		po, err := rv.get(f.pageRef)
		if err != nil {
			return err
		}
		page, _ := po.(dict)
		annots, err := rv.d.resolveArray(page["Annots"])
		if err != nil {
			return err
		}
		if !slices.Contains(annots, any(f.widget.ref)) {
			annots = append(slices.Clone(annots), f.widget.ref)
			if ar, ok := page["Annots"].(ref); ok {
				rv.set(ar, annots)
			} else {
				page = maps.Clone(page)
				page["Annots"] = annots
				rv.set(f.pageRef, page)
			}
		}
	}
	return rv.setSigFlags()
}

// setSigFlags sets the AcroForm's /SigFlags to 3 (SignaturesExist |
// AppendOnly), wherever the form lives.
func (rv *revision) setSigFlags() error {
	catRef, cat, err := rv.catalog()
	if err != nil {
		return err
	}
	if formRef, ok := cat["AcroForm"].(ref); ok {
		fo, err := rv.get(formRef)
		if err != nil {
			return fmt.Errorf("AcroForm: %w", err)
		}
		form, _ := fo.(dict)
		if n, _ := form["SigFlags"].(int64); n == 3 {
			return nil
		}
		form = maps.Clone(form)
		form["SigFlags"] = int64(3)
		rv.set(formRef, form)
		return nil
	}
	form, _ := cat["AcroForm"].(dict)
	if n, _ := form["SigFlags"].(int64); n == 3 {
		return nil
	}
	form = maps.Clone(form)
	form["SigFlags"] = int64(3)
	cat["AcroForm"] = form
	rv.set(catRef, cat)
	return nil
}

// fieldAppearance is where the signature into field f is drawn: in the
// field's rectangle on its page, with v's contents, or nowhere when the
// field has no area (an invisible signature field).
func fieldAppearance(f *sigFieldInfo, v *Visible) *Visible {
	if f.Page < 1 || f.Rect.W <= 0 || f.Rect.H <= 0 {
		return nil
	}
	out := Visible{}
	if v != nil {
		out = *v
	}
	out.Page, out.Rect = f.Page, f.Rect
	return &out
}
