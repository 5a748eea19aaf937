package person

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Public key algorithm identifiers of GOST keys, which crypto/x509 parses
// as UnknownPublicKeyAlgorithm.
var (
	oidGOST2012_256 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 1, 1} // GOST R 34.10-2012 (and KZ GOST 34.10-2015), 256-bit
	oidGOST2012_512 = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 1, 1, 2} // 512-bit
	oidGOST2001     = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 19}
	oidGOST94       = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 20}
)

// publicKeyOID reads the algorithm OID of the certificate's
// subjectPublicKeyInfo.
func publicKeyOID(c *x509.Certificate) asn1.ObjectIdentifier {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil
	}
	return spki.Algorithm.Algorithm
}

// IsGOST reports whether the certificate's key is a GOST key (Russian GOST
// R 34.10, Kazakh GOST 34.10-2015), which this platform can display but not
// verify.
func IsGOST(c *x509.Certificate) bool {
	oid := publicKeyOID(c)
	for _, g := range []asn1.ObjectIdentifier{oidGOST2012_256, oidGOST2012_512, oidGOST2001, oidGOST94} {
		if oid.Equal(g) {
			return true
		}
	}
	return false
}

// Algorithm names the certificate's key as Signex does: ECDSA-P256,
// RSA-3072, Ed25519, GOST3410-2022 (GOST R 34.10-2012 and Kazakhstan's
// GOST 34.10-2015 keys), or the algorithm's OID when unknown.
func Algorithm(c *x509.Certificate) string {
	alg, _ := keyAlgorithm(c)
	return alg
}

// keyAlgorithm returns Algorithm and the key size in bits (0 if unknown).
func keyAlgorithm(c *x509.Certificate) (string, int) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen()), k.N.BitLen()
	case *ecdsa.PublicKey:
		bits := k.Curve.Params().BitSize
		return fmt.Sprintf("ECDSA-P%d", bits), bits
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	oid := publicKeyOID(c)
	switch {
	case oid.Equal(oidGOST2012_256):
		return "GOST3410-2022", 256
	case oid.Equal(oidGOST2012_512):
		return "GOST3410-2022", 512
	case oid.Equal(oidGOST2001):
		return "GOST3410-2001", 256
	case oid.Equal(oidGOST94):
		return "GOST3410-94", 1024
	case oid == nil:
		return "unknown", 0
	}
	return oid.String(), 0
}

// Thumbprints are a certificate's SHA-1 (the conventional "thumbprint")
// and SHA-256 fingerprints of its DER, lower-case hex.
func Thumbprints(der []byte) (sha1Hex, sha256Hex string) {
	s1 := sha1.Sum(der)
	s256 := sha256.Sum256(der)
	return hex.EncodeToString(s1[:]), hex.EncodeToString(s256[:])
}

// attributeNames are the short names of distinguished-name attributes, as
// RFC 4514 and OpenSSL print them.
var attributeNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SURNAME",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "TITLE",
	"2.5.4.15":                   "BUSINESSCATEGORY",
	"2.5.4.17":                   "POSTALCODE",
	"2.5.4.42":                   "GIVENNAME",
	"2.5.4.43":                   "INITIALS",
	"2.5.4.44":                   "GENERATIONQUALIFIER",
	"2.5.4.46":                   "DNQUALIFIER",
	"2.5.4.65":                   "PSEUDONYM",
	"2.5.4.97":                   "ORGANIZATIONIDENTIFIER",
	"1.2.840.113549.1.9.1":       "EMAILADDRESS",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
}

// Attribute is one attribute of a distinguished name.
type Attribute struct {
	OID   string
	Name  string // short name, or the OID when unknown
	Value string
}

// Attributes lists a name's attributes in the order they are encoded.
func Attributes(rdns pkix.RDNSequence) []Attribute {
	var out []Attribute
	for _, rdn := range rdns {
		for _, atv := range rdn {
			oid := atv.Type.String()
			name := attributeNames[oid]
			if name == "" {
				name = oid
			}
			out = append(out, Attribute{OID: oid, Name: name, Value: attributeValue(atv.Value)})
		}
	}
	return out
}

func attributeValue(v any) string {
	if s, ok := v.(string); ok && utf8.ValidString(s) {
		return s
	}
	der, err := asn1.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return "#" + hex.EncodeToString(der)
}

// FormatName renders a raw DER distinguished name as an RFC 4514 string
// (most significant attribute last, as RFC 4514 orders it) with the short
// names above, e.g. "SERIALNUMBER=IIN123456789012,CN=AKHMETOVA AIGUL,C=KZ".
func FormatName(raw []byte) string {
	rdns := ParseName(raw)
	parts := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		var atvs []string
		for _, a := range Attributes(pkix.RDNSequence{rdns[i]}) {
			atvs = append(atvs, a.Name+"="+escapeDN(a.Value))
		}
		parts = append(parts, strings.Join(atvs, "+"))
	}
	return strings.Join(parts, ",")
}

// escapeDN escapes an attribute value as RFC 4514 §2.4 requires.
func escapeDN(s string) string {
	if strings.HasPrefix(s, "#") && len(s) > 1 && isHex(s[1:]) {
		return s // already the hex form of a non-string value
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(`,+"\<>;=`, r),
			i == 0 && (r == ' ' || r == '#'),
			i == len(s)-1 && r == ' ':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// ParseName parses a DER distinguished name; nil when it does not parse.
func ParseName(raw []byte) pkix.RDNSequence {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &rdns); err != nil {
		return nil
	}
	return rdns
}

// subjectRDNs parses the certificate's subject.
func subjectRDNs(c *x509.Certificate) pkix.RDNSequence { return ParseName(c.RawSubject) }

func firstAttribute(rdns pkix.RDNSequence, oid string) string {
	for _, a := range Attributes(rdns) {
		if a.OID == oid {
			return a.Value
		}
	}
	return ""
}

var iinSerial = regexp.MustCompile(`^IIN([0-9]{12})$`)

// IIN returns the Kazakh individual identification number a certificate
// carries in its subject's SERIALNUMBER ("IIN" and 12 digits), or "".
func IIN(c *x509.Certificate) string {
	if m := iinSerial.FindStringSubmatch(firstAttribute(subjectRDNs(c), "2.5.4.5")); m != nil {
		return m[1]
	}
	return ""
}

// FullName is the holder's name as the certificate gives it: the common
// name, followed by the given name when the CN lacks it (Kazakh
// certificates put the patronymic there: CN=AKHMETOVA AIGUL, G=ERKINOVNA).
func FullName(c *x509.Certificate) string {
	rdns := subjectRDNs(c)
	cn := firstAttribute(rdns, "2.5.4.3")
	gn := firstAttribute(rdns, "2.5.4.42")
	if gn != "" && !strings.Contains(cn, gn) {
		return strings.TrimSpace(cn + " " + gn)
	}
	return cn
}

// templates name certificate policies and the Kazakh NCA's holder-kind
// OIDs (which NCA certificates carry in their extended key usage).
var templates = map[string]string{
	"1.2.398.3.3.4.1.1":       "Individual",
	"1.2.398.3.3.4.1.2":       "Legal entity",
	"0.4.0.194112.1.0":        "QCP-n",
	"0.4.0.194112.1.1":        "QCP-l",
	"0.4.0.194112.1.2":        "QCP-n-qscd",
	"0.4.0.194112.1.3":        "QCP-l-qscd",
	"0.4.0.194112.1.4":        "QCP-w",
	"0.4.0.2042.1.1":          "NCP",
	"0.4.0.2042.1.2":          "NCP+",
	"0.4.0.2042.1.3":          "LCP",
	"2.23.140.1.2.1":          "Domain validated",
	"2.23.140.1.2.2":          "Organization validated",
	"2.23.140.1.2.3":          "Individual validated",
	"2.23.140.1.1":            "Extended validation",
	"1.3.6.1.4.1.311.10.3.12": "Document signing",
}

// TemplateOf names the certificate's template from its policies and the
// holder-kind OIDs of its extended key usage; "" when none is known.
func TemplateOf(c *x509.Certificate) string {
	for _, oid := range c.UnknownExtKeyUsage {
		if t := templates[oid.String()]; t != "" {
			return t
		}
	}
	for _, oid := range c.PolicyIdentifiers {
		if t := templates[oid.String()]; t != "" {
			return t
		}
	}
	return ""
}

// inferType guesses the type of a certificate that came without one: a
// TLS server certificate is SERVER, anything else PERSONAL.
func inferType(c *x509.Certificate) Type {
	server, personal := false, false
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			server = true
		case x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth:
			personal = true
		}
	}
	if server && !personal {
		return TypeServer
	}
	return TypePersonal
}

// gostSignatureNames name GOST signature algorithms, which crypto/x509
// reports as unknown.
var gostSignatureNames = map[string]string{
	"1.2.643.7.1.1.3.2": "GOST R 34.10-2012 with GOST R 34.11-2012 (256 bit)",
	"1.2.643.7.1.1.3.3": "GOST R 34.10-2012 with GOST R 34.11-2012 (512 bit)",
	"1.2.643.2.2.3":     "GOST R 34.10-2001 with GOST R 34.11-94",
}

// SignatureAlgorithm names the algorithm the issuer signed the certificate
// with (the OID when unknown).
func SignatureAlgorithm(c *x509.Certificate) string {
	if c.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		return c.SignatureAlgorithm.String()
	}
	var outer struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.Raw, &outer); err != nil {
		return "unknown"
	}
	oid := outer.Algorithm.Algorithm.String()
	if n := gostSignatureNames[oid]; n != "" {
		return n
	}
	return oid
}

// PublicKeySize is the certificate key's size in bits (0 if unknown).
func PublicKeySize(c *x509.Certificate) int {
	_, bits := keyAlgorithm(c)
	return bits
}

// Extensions decodes every extension of c, in order.
func Extensions(c *x509.Certificate) []Extension {
	out := make([]Extension, 0, len(c.Extensions))
	for _, e := range c.Extensions {
		out = append(out, DescribeExtension(e.Id, e.Critical, e.Value))
	}
	return out
}
