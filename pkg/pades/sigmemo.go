package pades

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// A signature check is a pure function of the bytes checked, yet B-LT
// signing and verification repeat the same ones for every document: the
// issuing CA against the root, the root against itself, the TSA's chain, the
// CA's OCSP responses and CRLs. Each is an ECDSA or RSA verification
// (P-384: about 1 ms). sigMemo remembers the checks that passed, keyed by
// the SHA-256 of exactly the bytes involved, so a process checks each pair
// once. Failures are not remembered (they are rare and cheap to redo).
type sigMemo struct {
	mu     sync.Mutex
	ok     map[[32]byte]struct{}
	ocsps  map[[32]byte]*ocsp.Response
	chains map[[32]byte][]chainEntry
}

// memoLimit bounds the memo; when full it starts over.
const memoLimit = 4096

var memo = sigMemo{ok: map[[32]byte]struct{}{}, ocsps: map[[32]byte]*ocsp.Response{}, chains: map[[32]byte][]chainEntry{}}

func memoKey(kind string, parts ...[]byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		var n [8]byte
		for i, l := 0, len(p); i < 8; i, l = i+1, l>>8 {
			n[i] = byte(l)
		}
		h.Write(n[:]) // lengths keep the concatenation unambiguous
		h.Write(p)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// checked runs check unless the same check (kind over parts) passed before.
func (m *sigMemo) checked(check func() error, kind string, parts ...[]byte) error {
	k := memoKey(kind, parts...)
	m.mu.Lock()
	_, ok := m.ok[k]
	m.mu.Unlock()
	if ok {
		return nil
	}
	if err := check(); err != nil {
		return err
	}
	m.mu.Lock()
	if len(m.ok) >= memoLimit {
		clear(m.ok)
	}
	m.ok[k] = struct{}{}
	m.mu.Unlock()
	return nil
}

// certSignedBy is c.CheckSignatureFrom(parent), remembered.
func certSignedBy(c, parent *x509.Certificate) error {
	return memo.checked(func() error { return c.CheckSignatureFrom(parent) }, "cert", c.Raw, parent.Raw)
}

// crlSignedBy is rl.CheckSignatureFrom(issuer), remembered.
func crlSignedBy(rl *x509.RevocationList, issuer *x509.Certificate) error {
	return memo.checked(func() error { return rl.CheckSignatureFrom(issuer) }, "crl", rl.Raw, issuer.Raw)
}

// ocspFor is ocsp.ParseResponseForCert(der, c, issuer), remembered when it
// succeeds. The response returned is shared: callers only read it.
func ocspFor(der []byte, c, issuer *x509.Certificate) (*ocsp.Response, error) {
	k := memoKey("ocsp", der, c.Raw, issuer.Raw)
	memo.mu.Lock()
	resp := memo.ocsps[k]
	memo.mu.Unlock()
	if resp != nil {
		return resp, nil
	}
	resp, err := ocsp.ParseResponseForCert(der, c, issuer)
	if err != nil {
		return nil, err
	}
	memo.mu.Lock()
	if len(memo.ocsps) >= memoLimit {
		clear(memo.ocsps)
	}
	memo.ocsps[k] = resp
	memo.mu.Unlock()
	return resp, nil
}

// CertSignedBy reports c.CheckSignatureFrom(parent), remembering the pairs
// that passed for the life of the process: for callers that check the same
// certificates again and again (a CA deciding which certificates are its own
// on every signature's validation data).
func CertSignedBy(c, parent *x509.Certificate) error { return certSignedBy(c, parent) }

// chainEntry is a chain x509 built for a certificate with these roots and
// this extended key usage.
type chainEntry struct {
	roots *x509.CertPool
	usage x509.ExtKeyUsage
	chain []*x509.Certificate
}

// chainFor is cert.Verify's first chain, remembered: a chain that x509
// built once stays valid for the same certificate, roots and key usage at
// any time within every member's validity, as long as its intermediates are
// still at hand. x509 checks nothing else that depends on the time, and
// revocation is decided separately. The TSA's and the CA's certificates
// recur in every document, so their chains are built once per process.
func chainFor(cert *x509.Certificate, opts x509.VerifyOptions, inter []*x509.Certificate, usage x509.ExtKeyUsage) ([]*x509.Certificate, error) {
	k := memoKey("chain", cert.Raw)
	memo.mu.Lock()
	entries := memo.chains[k]
	memo.mu.Unlock()
	for _, e := range entries {
		if e.usage == usage && e.roots.Equal(opts.Roots) && chainUsable(e.chain, inter, opts.CurrentTime) {
			return e.chain, nil
		}
	}
	opts.KeyUsages = []x509.ExtKeyUsage{usage}
	chains, err := cert.Verify(opts)
	if err != nil {
		return nil, err
	}
	memo.mu.Lock()
	if len(memo.chains) >= memoLimit {
		clear(memo.chains)
	}
	memo.chains[k] = append(memo.chains[k], chainEntry{roots: opts.Roots, usage: usage, chain: chains[0]})
	memo.mu.Unlock()
	return chains[0], nil
}

// chainUsable reports whether every certificate of chain is valid at t and
// every one between the leaf and the anchor is among inter.
func chainUsable(chain, inter []*x509.Certificate, t time.Time) bool {
	for i, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return false
		}
		if i == 0 || i == len(chain)-1 {
			continue
		}
		if !slices.ContainsFunc(inter, func(o *x509.Certificate) bool { return bytes.Equal(o.Raw, c.Raw) }) {
			return false
		}
	}
	return true
}
