package cms

import "encoding/pem"

// EncodePEM wraps a DER CMS structure in a "PKCS7" PEM block, the form
// `openssl cms -inform PEM` and RemSig's PEM output use.
func EncodePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: der})
}

// DecodePEM returns the DER content of the first PKCS7 or CMS PEM block, or
// der unchanged when it is not PEM.
func DecodePEM(data []byte) []byte {
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return data
		}
		if b.Type == "PKCS7" || b.Type == "CMS" {
			return b.Bytes
		}
	}
}
