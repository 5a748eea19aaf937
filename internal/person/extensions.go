package person

import (
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"net"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Extension is one X.509 extension, decoded for display. Value is one of
// the shapes below (a list, an object or a string) for the extensions the
// platform knows, and {"der": base64} for the others or for a known
// extension that does not parse.
type Extension struct {
	OID      string
	Name     string
	Critical bool
	Value    any
}

// NamedOID is an object identifier with its name, when known.
type NamedOID struct {
	OID  string `json:"oid"`
	Name string `json:"name,omitempty"`
}

// GeneralName is one entry of a subjectAltName, an access location or a
// distribution point.
type GeneralName struct {
	Type  string `json:"type"` // email, dns, uri, ip, directoryName, otherName, registeredId, x400Address, ediPartyName
	Value string `json:"value"`
}

// Policy is one certificate policy with its qualifiers.
type Policy struct {
	OID        string            `json:"oid"`
	Name       string            `json:"name,omitempty"`
	Qualifiers []PolicyQualifier `json:"qualifiers,omitempty"`
}

// PolicyQualifier is a CPS pointer or a user notice.
type PolicyQualifier struct {
	Type  string `json:"type"` // cps, userNotice, or the qualifier's OID
	Value string `json:"value"`
}

// AccessDescription is one entry of an authority information access
// extension.
type AccessDescription struct {
	Method   string      `json:"method"` // ocsp, caIssuers, or the method's OID
	Location GeneralName `json:"location"`
}

// BasicConstraints is the decoded basicConstraints extension.
type BasicConstraints struct {
	CA                bool `json:"ca"`
	PathLenConstraint *int `json:"pathLenConstraint"`
}

// KeyIdentifier is the decoded authorityKeyIdentifier extension.
type KeyIdentifier struct {
	KeyIdentifier string        `json:"keyIdentifier,omitempty"`
	Issuer        []GeneralName `json:"issuer,omitempty"`
	SerialNumber  string        `json:"serialNumber,omitempty"`
}

// UsagePeriod is the decoded privateKeyUsagePeriod extension.
type UsagePeriod struct {
	NotBefore *time.Time `json:"notBefore,omitempty"`
	NotAfter  *time.Time `json:"notAfter,omitempty"`
}

// RawValue is how an extension the platform cannot decode is shown.
type RawValue struct {
	DER string `json:"der"`
}

// oidNames names the extensions, key purposes, policies, qualifiers and
// statements the display knows.
var oidNames = map[string]string{
	"2.5.29.9":                "subjectDirectoryAttributes",
	"2.5.29.14":               "subjectKeyIdentifier",
	"2.5.29.15":               "keyUsage",
	"2.5.29.16":               "privateKeyUsagePeriod",
	"2.5.29.17":               "subjectAltName",
	"2.5.29.18":               "issuerAltName",
	"2.5.29.19":               "basicConstraints",
	"2.5.29.30":               "nameConstraints",
	"2.5.29.31":               "cRLDistributionPoints",
	"2.5.29.32":               "certificatePolicies",
	"2.5.29.35":               "authorityKeyIdentifier",
	"2.5.29.37":               "extKeyUsage",
	"2.5.29.46":               "freshestCRL",
	"1.3.6.1.5.5.7.1.1":       "authorityInfoAccess",
	"1.3.6.1.5.5.7.1.3":       "qcStatements",
	"1.3.6.1.5.5.7.1.11":      "subjectInfoAccess",
	"1.3.6.1.5.5.7.48.1.5":    "ocspNoCheck",
	"1.3.6.1.4.1.11129.2.4.2": "signedCertificateTimestamps",
	// extended key usages
	"2.5.29.37.0":             "anyExtendedKeyUsage",
	"1.3.6.1.5.5.7.3.1":       "serverAuth",
	"1.3.6.1.5.5.7.3.2":       "clientAuth",
	"1.3.6.1.5.5.7.3.3":       "codeSigning",
	"1.3.6.1.5.5.7.3.4":       "emailProtection",
	"1.3.6.1.5.5.7.3.8":       "timeStamping",
	"1.3.6.1.5.5.7.3.9":       "OCSPSigning",
	"1.3.6.1.5.5.7.3.36":      "documentSigning",
	"1.3.6.1.4.1.311.10.3.12": "msDocumentSigning",
	"1.2.840.113583.1.1.5":    "adobeAuthenticDocumentsTrust",
	"1.2.398.3.3.4.1.1":       "kzIndividual",
	"1.2.398.3.3.4.1.2":       "kzLegalEntity",
	// policy qualifiers and access methods
	"1.3.6.1.5.5.7.2.1":  "cps",
	"1.3.6.1.5.5.7.2.2":  "userNotice",
	"1.3.6.1.5.5.7.48.1": "ocsp",
	"1.3.6.1.5.5.7.48.2": "caIssuers",
	"2.5.29.32.0":        "anyPolicy",
	// qualified certificate statements (ETSI EN 319 412-5)
	"0.4.0.1862.1.1": "QcCompliance",
	"0.4.0.1862.1.2": "QcLimitValue",
	"0.4.0.1862.1.3": "QcRetentionPeriod",
	"0.4.0.1862.1.4": "QcSSCD",
	"0.4.0.1862.1.5": "QcPDS",
	"0.4.0.1862.1.6": "QcType",
	"0.4.0.19495.2":  "PSD2",
}

func nameOf(oid string) string {
	if n := oidNames[oid]; n != "" {
		return n
	}
	return templates[oid]
}

// keyUsageNames are the bits of keyUsage, most significant first.
var keyUsageNames = []string{"digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}

// DescribeExtension decodes one extension for display. It accepts any
// bytes: a certificate linked by a person may carry anything.
func DescribeExtension(oid asn1.ObjectIdentifier, critical bool, value []byte) Extension {
	id := oid.String()
	e := Extension{OID: id, Name: nameOf(id), Critical: critical}
	if e.Name == "" {
		e.Name = id
	}
	var v any
	ok := false
	in := cryptobyte.String(value)
	switch id {
	case "2.5.29.15":
		v, ok = decodeKeyUsage(in)
	case "2.5.29.37":
		v, ok = decodeOIDList(in)
	case "2.5.29.17", "2.5.29.18":
		v, ok = decodeGeneralNames(in)
	case "2.5.29.32":
		v, ok = decodePolicies(in)
	case "1.3.6.1.5.5.7.1.1", "1.3.6.1.5.5.7.1.11":
		v, ok = decodeAccess(in)
	case "2.5.29.31", "2.5.29.46":
		v, ok = decodeDistributionPoints(in)
	case "2.5.29.19":
		v, ok = decodeBasicConstraints(in)
	case "2.5.29.14":
		var kid cryptobyte.String
		ok = in.ReadASN1(&kid, cbasn1.OCTET_STRING) && in.Empty()
		v = hex.EncodeToString(kid)
	case "2.5.29.35":
		v, ok = decodeAuthorityKeyID(in)
	case "2.5.29.16":
		v, ok = decodeUsagePeriod(in)
	case "1.3.6.1.5.5.7.1.3":
		v, ok = decodeStatements(in)
	case "1.3.6.1.5.5.7.48.1.5":
		var null cryptobyte.String
		ok = in.ReadASN1(&null, cbasn1.NULL) && null.Empty() && in.Empty()
		v = true
	}
	if !ok {
		v = RawValue{DER: b64Std(value)}
	}
	e.Value = v
	return e
}

func decodeKeyUsage(in cryptobyte.String) ([]string, bool) {
	var bits asn1.BitString
	if !in.ReadASN1BitString(&bits) || !in.Empty() {
		return nil, false
	}
	out := []string{}
	for i, name := range keyUsageNames {
		if bits.At(i) == 1 {
			out = append(out, name)
		}
	}
	return out, true
}

func namedOID(oid asn1.ObjectIdentifier) NamedOID {
	return NamedOID{OID: oid.String(), Name: nameOf(oid.String())}
}

func decodeOIDList(in cryptobyte.String) ([]NamedOID, bool) {
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, false
	}
	out := []NamedOID{}
	for !seq.Empty() {
		var oid asn1.ObjectIdentifier
		if !seq.ReadASN1ObjectIdentifier(&oid) {
			return nil, false
		}
		out = append(out, namedOID(oid))
	}
	return out, true
}

// GeneralName tags (RFC 5280 §4.2.1.6), context-specific.
const (
	gnOther     = 0
	gnEmail     = 1
	gnDNS       = 2
	gnX400      = 3
	gnDirectory = 4
	gnEDI       = 5
	gnURI       = 6
	gnIP        = 7
	gnRegID     = 8
)

func decodeGeneralNames(in cryptobyte.String) ([]GeneralName, bool) {
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, false
	}
	return readGeneralNames(seq)
}

// readGeneralNames reads GeneralName elements until seq is empty.
func readGeneralNames(seq cryptobyte.String) ([]GeneralName, bool) {
	out := []GeneralName{}
	for !seq.Empty() {
		var body cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&body, &tag) {
			return nil, false
		}
		gn, ok := generalName(tag, body)
		if !ok {
			return nil, false
		}
		out = append(out, gn)
	}
	return out, true
}

func generalName(tag cbasn1.Tag, body cryptobyte.String) (GeneralName, bool) {
	num := int(tag & 0x1f)
	if tag&0xc0 != 0x80 { // must be context-specific
		return GeneralName{}, false
	}
	text := func(t string) (GeneralName, bool) {
		if !utf8.Valid(body) {
			return GeneralName{}, false
		}
		return GeneralName{Type: t, Value: string(body)}, true
	}
	switch num {
	case gnEmail:
		return text("email")
	case gnDNS:
		return text("dns")
	case gnURI:
		return text("uri")
	case gnIP:
		if len(body) != 4 && len(body) != 16 {
			return GeneralName{}, false
		}
		return GeneralName{Type: "ip", Value: net.IP(body).String()}, true
	case gnDirectory:
		var name cryptobyte.String
		if !body.ReadASN1Element(&name, cbasn1.SEQUENCE) {
			return GeneralName{}, false
		}
		return GeneralName{Type: "directoryName", Value: FormatName(name)}, true
	case gnRegID:
		// The OID's content octets under an implicit [8] tag.
		var oid asn1.ObjectIdentifier
		der := cryptobyte.String(append([]byte{0x06, byte(len(body))}, body...))
		if len(body) > 127 || !der.ReadASN1ObjectIdentifier(&oid) {
			return GeneralName{}, false
		}
		return GeneralName{Type: "registeredId", Value: oid.String()}, true
	case gnOther:
		var oid asn1.ObjectIdentifier
		if !body.ReadASN1ObjectIdentifier(&oid) {
			return GeneralName{}, false
		}
		return GeneralName{Type: "otherName", Value: oid.String()}, true
	case gnX400:
		return GeneralName{Type: "x400Address", Value: b64Std(body)}, true
	case gnEDI:
		return GeneralName{Type: "ediPartyName", Value: b64Std(body)}, true
	}
	return GeneralName{}, false
}

func decodePolicies(in cryptobyte.String) ([]Policy, bool) {
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, false
	}
	out := []Policy{}
	for !seq.Empty() {
		var info cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !seq.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1ObjectIdentifier(&oid) {
			return nil, false
		}
		p := Policy{OID: oid.String(), Name: nameOf(oid.String())}
		if !info.Empty() {
			var quals cryptobyte.String
			if !info.ReadASN1(&quals, cbasn1.SEQUENCE) || !info.Empty() {
				return nil, false
			}
			for !quals.Empty() {
				var q cryptobyte.String
				var qid asn1.ObjectIdentifier
				if !quals.ReadASN1(&q, cbasn1.SEQUENCE) || !q.ReadASN1ObjectIdentifier(&qid) {
					return nil, false
				}
				pq := PolicyQualifier{Type: qid.String()}
				if n := oidNames[qid.String()]; n != "" {
					pq.Type = n
				}
				switch pq.Type {
				case "cps":
					var s cryptobyte.String
					if !q.ReadASN1(&s, cbasn1.IA5String) || !utf8.Valid(s) {
						return nil, false
					}
					pq.Value = string(s)
				case "userNotice":
					pq.Value = userNoticeText(q)
				default:
					pq.Value = b64Std(q)
				}
				p.Qualifiers = append(p.Qualifiers, pq)
			}
		}
		out = append(out, p)
	}
	return out, true
}

// userNoticeText returns a user notice's explicit text, if any.
func userNoticeText(q cryptobyte.String) string {
	var notice cryptobyte.String
	if !q.ReadASN1(&notice, cbasn1.SEQUENCE) {
		return ""
	}
	if notice.PeekASN1Tag(cbasn1.SEQUENCE) { // noticeRef: skip it
		notice.SkipASN1(cbasn1.SEQUENCE)
	}
	var body cryptobyte.String
	var tag cbasn1.Tag
	if notice.Empty() || !notice.ReadAnyASN1(&body, &tag) {
		return ""
	}
	switch tag {
	case cbasn1.UTF8String, cbasn1.IA5String, cbasn1.Tag(26) /* VisibleString */ :
		if utf8.Valid(body) {
			return string(body)
		}
	case cbasn1.Tag(30): // BMPString
		var r []rune
		for i := 0; i+1 < len(body); i += 2 {
			r = append(r, rune(body[i])<<8|rune(body[i+1]))
		}
		return string(r)
	}
	return ""
}

func decodeAccess(in cryptobyte.String) ([]AccessDescription, bool) {
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, false
	}
	out := []AccessDescription{}
	for !seq.Empty() {
		var ad cryptobyte.String
		var method asn1.ObjectIdentifier
		if !seq.ReadASN1(&ad, cbasn1.SEQUENCE) || !ad.ReadASN1ObjectIdentifier(&method) {
			return nil, false
		}
		names, ok := readGeneralNames(ad)
		if !ok || len(names) != 1 {
			return nil, false
		}
		m := method.String()
		if n := oidNames[m]; n != "" {
			m = n
		}
		out = append(out, AccessDescription{Method: m, Location: names[0]})
	}
	return out, true
}

// decodeDistributionPoints lists each distribution point's full names;
// relative names and CRL issuers are rare and shown only by the count of
// names they contribute (none).
func decodeDistributionPoints(in cryptobyte.String) ([][]GeneralName, bool) {
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, false
	}
	out := [][]GeneralName{}
	for !seq.Empty() {
		var dp cryptobyte.String
		if !seq.ReadASN1(&dp, cbasn1.SEQUENCE) {
			return nil, false
		}
		names := []GeneralName{}
		var dpName cryptobyte.String
		var has bool
		if !dp.ReadOptionalASN1(&dpName, &has, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, false
		}
		if has {
			var full cryptobyte.String
			var hasFull bool
			if !dpName.ReadOptionalASN1(&full, &hasFull, cbasn1.Tag(0).Constructed().ContextSpecific()) {
				return nil, false
			}
			if hasFull {
				var ok bool
				if names, ok = readGeneralNames(full); !ok {
					return nil, false
				}
			}
		}
		out = append(out, names)
	}
	return out, true
}

func decodeBasicConstraints(in cryptobyte.String) (BasicConstraints, bool) {
	var seq cryptobyte.String
	var bc BasicConstraints
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return bc, false
	}
	if seq.PeekASN1Tag(cbasn1.BOOLEAN) && !seq.ReadASN1Boolean(&bc.CA) {
		return bc, false
	}
	if !seq.Empty() {
		var n int
		if !seq.ReadASN1Integer(&n) || !seq.Empty() || n < 0 {
			return bc, false
		}
		bc.PathLenConstraint = &n
	}
	return bc, true
}

func decodeAuthorityKeyID(in cryptobyte.String) (KeyIdentifier, bool) {
	var seq cryptobyte.String
	var k KeyIdentifier
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return k, false
	}
	var kid, issuer, serial cryptobyte.String
	var hasKID, hasIssuer, hasSerial bool
	if !seq.ReadOptionalASN1(&kid, &hasKID, cbasn1.Tag(0).ContextSpecific()) ||
		!seq.ReadOptionalASN1(&issuer, &hasIssuer, cbasn1.Tag(1).Constructed().ContextSpecific()) ||
		!seq.ReadOptionalASN1(&serial, &hasSerial, cbasn1.Tag(2).ContextSpecific()) || !seq.Empty() {
		return k, false
	}
	if hasKID {
		k.KeyIdentifier = hex.EncodeToString(kid)
	}
	if hasIssuer {
		names, ok := readGeneralNames(issuer)
		if !ok {
			return k, false
		}
		k.Issuer = names
	}
	if hasSerial {
		k.SerialNumber = hex.EncodeToString(serial)
	}
	return k, true
}

func decodeUsagePeriod(in cryptobyte.String) (UsagePeriod, bool) {
	var seq cryptobyte.String
	var p UsagePeriod
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return p, false
	}
	for i, dst := range []**time.Time{&p.NotBefore, &p.NotAfter} {
		var body cryptobyte.String
		var has bool
		if !seq.ReadOptionalASN1(&body, &has, cbasn1.Tag(i).ContextSpecific()) {
			return p, false
		}
		if has {
			t, err := time.Parse("20060102150405Z0700", string(body))
			if err != nil {
				return p, false
			}
			t = t.UTC()
			*dst = &t
		}
	}
	return p, seq.Empty()
}

func decodeStatements(in cryptobyte.String) ([]NamedOID, bool) {
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, false
	}
	out := []NamedOID{}
	for !seq.Empty() {
		var st cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !seq.ReadASN1(&st, cbasn1.SEQUENCE) || !st.ReadASN1ObjectIdentifier(&oid) {
			return nil, false
		}
		out = append(out, namedOID(oid))
	}
	return out, true
}

func b64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
