// Package cms builds and verifies CMS SignedData structures (RFC 5652) as used
// by PAdES signatures, RFC 3161 timestamp tokens and plain PKCS#7 signing.
//
// Signing goes through crypto.Signer, so keys held in an HSM work as well as
// keys in memory. Encoding is strict DER built with cryptobyte; parsing accepts
// DER (the form every PDF signer in use produces).
package cms
