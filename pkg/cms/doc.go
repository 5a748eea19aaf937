// Package cms builds and verifies CMS SignedData structures (RFC 5652) as used
// by PAdES signatures, RFC 3161 timestamp tokens (pkg/rfc3161 parses and
// signs its tokens with this package) and plain PKCS#7 signing.
//
// Signing goes through crypto.Signer, so keys held in an HSM work as well as
// keys in memory, and writes strict DER. Parsing accepts DER and BER
// (indefinite lengths and segmented strings, as openssl cms -stream and some
// PDF signers write them). Verification is strict: the signed attributes
// must hold content-type and message-digest once each, and an ESS
// signing-certificate(-v2) attribute, when present (or required), must name
// the certificate whose key verifies the signature.
package cms
