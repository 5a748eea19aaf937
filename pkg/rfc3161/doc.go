// Package rfc3161 implements the Time-Stamp Protocol of RFC 3161 (with the
// ESSCertIDv2 update of RFC 5816): a failover client for one or more
// time-stamping authorities, parsing and verification of time-stamp tokens,
// and the token-signing half of a TSA for servers built on top of it.
//
// A token is the DER ContentInfo (CMS SignedData over a TSTInfo) that a TSA
// returns inside its TimeStampResp; it is what a PAdES signature embeds as
// its signature-time-stamp attribute or document time-stamp.
//
// The package never falls back to the local clock: when no configured TSA
// yields a verified token, Timestamp returns an error naming every server
// and why it failed.
package rfc3161
