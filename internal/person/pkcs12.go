package person

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/vellum-sign/vellum/internal/validation"
)

// maxPKCS12Iterations bounds every key-derivation iteration count in an
// uploaded PKCS #12 file. The counts come from the file and the decoder
// spends as long as they say, so without a bound one small upload could
// hold a CPU for hours. Tools write 2,048 (OpenSSL) to 600,000 (OWASP's
// advice for PBKDF2-SHA256).
const maxPKCS12Iterations = 1_000_000

// maxDERDepth bounds the nesting the iteration scan follows.
const maxDERDepth = 24

var errTooManyIterations = fmt.Errorf("a key derivation in the file asks for more than %d iterations", maxPKCS12Iterations)

// checkIterations walks DER and fails on any iteration count above the
// bound. Every PKCS #12 iteration count (PBKDF2-params, pkcs-12PbeParams,
// MacData) is an INTEGER that directly follows the salt, an OCTET STRING,
// in its SEQUENCE; OCTET STRINGs that hold DER (the AuthenticatedSafe and
// SafeContents) are followed into. Input that is not DER fails too: the
// decoder would refuse it anyway.
func checkIterations(der []byte, depth int) error {
	if depth > maxDERDepth {
		return errors.New("the file nests too deeply")
	}
	in := cryptobyte.String(der)
	prevOctets := false
	for !in.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !in.ReadAnyASN1(&elem, &tag) {
			return errors.New("not DER")
		}
		switch {
		case tag == cbasn1.INTEGER && prevOctets:
			if len(elem) == 0 || elem[0]&0x80 != 0 {
				return errors.New("malformed iteration count")
			}
			if len(elem) > 4 {
				return errTooManyIterations
			}
			n := 0
			for _, b := range elem {
				n = n<<8 | int(b)
			}
			if n > maxPKCS12Iterations {
				return errTooManyIterations
			}
		case tag&0x20 != 0: // constructed
			if err := checkIterations(elem, depth+1); err != nil {
				return err
			}
		case tag == cbasn1.OCTET_STRING && looksLikeDER(elem):
			// Encrypted bags are OCTET STRINGs of random bytes, and now and
			// then those parse as DER at the top level by chance; only a
			// count above the bound is a finding inside them, anything else
			// just means the octets were not DER after all.
			if err := checkIterations(elem, depth+1); errors.Is(err, errTooManyIterations) {
				return err
			}
		}
		prevOctets = tag == cbasn1.OCTET_STRING
	}
	return nil
}

// looksLikeDER reports whether b parses completely as DER elements.
func looksLikeDER(b []byte) bool {
	in := cryptobyte.String(b)
	if in.Empty() {
		return false
	}
	for !in.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !in.ReadAnyASN1Element(&elem, &tag) {
			return false
		}
	}
	return true
}

// decodePKCS12 opens a PKCS #12 file holding one private key and its
// certificate. Problems are field errors on pkcs12 or pkcs12Password.
func decodePKCS12(data []byte, password string) (crypto.Signer, *x509.Certificate, error) {
	bad := func(field, reason string) error {
		return validation.Errors{{Field: field, Reason: reason}}
	}
	if err := checkIterations(data, 0); err != nil {
		if errors.Is(err, errTooManyIterations) {
			return nil, nil, bad("pkcs12", err.Error())
		}
		return nil, nil, bad("pkcs12", "is not a PKCS#12 (.p12/.pfx) file in DER: "+err.Error())
	}
	key, cert, _, err := pkcs12.DecodeChain(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword):
		return nil, nil, bad("pkcs12Password", "does not open the PKCS#12 file")
	case err != nil:
		return nil, nil, bad("pkcs12", "could not be read as a PKCS#12 file with one private key and its certificate: "+err.Error())
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, bad("pkcs12", fmt.Sprintf("holds a %T key, which cannot sign", key))
	}
	if err := checkKey(signer); err != nil {
		return nil, nil, bad("pkcs12", err.Error())
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := signer.Public().(equaler); !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, bad("pkcs12", "the private key does not belong to the certificate")
	}
	return signer, cert, nil
}

// checkKey accepts the keys the platform signs with.
func checkKey(k crypto.Signer) error {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("holds a %d-bit RSA key; at least 2048 bits are required", k.N.BitLen())
		}
	case *ecdsa.PrivateKey:
		switch k.Curve.Params().BitSize {
		case 256, 384, 521:
		default:
			return errors.New("holds an ECDSA key on an unsupported curve (P-256, P-384 and P-521 are)")
		}
	case ed25519.PrivateKey:
	default:
		return fmt.Errorf("holds a %T key; RSA, ECDSA and Ed25519 keys are supported", k)
	}
	return nil
}
