// Package pades signs PDF documents with PAdES signatures (ETSI EN 319 142)
// and validates them.
//
// # Signing
//
// Sign appends an incremental update (ISO 32000 §7.5.6) holding a detached
// CMS signature (ETSI.CAdES.detached, built by package cms) to a PDF read
// through an io.ReaderAt, and streams the whole signed file to an io.Writer:
// the input is read once, and only the objects the update touches — the
// cross-reference chain, the catalog, the page-tree path to the target
// page, the form — are parsed, so memory stays near the size of the
// cross-reference data whatever the file's size. Classic cross-reference
// tables, cross-reference streams, object streams, hybrid files and any
// number of earlier revisions are supported; earlier signatures stay valid.
//
// Options.Level chooses the PAdES baseline level: B-B; B-T adds a signature
// timestamp (Options.Timestamper, e.g. a pkg/rfc3161.Client); B-LT a DSS
// with the certificates and revocation data (Options.Revocation, e.g. built
// on pkg/revocation) that every certificate up to the root needs — Sign
// refuses rather than write an incomplete one; B-LTA a document timestamp
// over it. AddDSS and AddDocumentTimestamp extend an existing file later.
// Documents that must not be signed (encrypted, certified with no changes
// permitted) are refused with an *Error carrying RemSig's code.
//
// # Validation
//
// Verify checks every signature and document timestamp of a file, from the
// file alone: integrity, a difference analysis of later revisions under the
// signature's DocMDP and FieldMDP permissions, certificate chains built from
// the document's certificates, revocation from its OCSP responses and CRLs,
// and timestamps as proof of existence. Each signature gets a Verdict and
// the PAdES level actually validated.
//
// The reader is a parser of untrusted input: every walk is bounded, and it
// is fuzzed (FuzzRead, FuzzSign).
package pades
