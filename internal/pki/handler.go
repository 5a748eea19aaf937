package pki

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxOCSPRequest bounds an OCSP request body; one CertID is ~100 bytes.
const maxOCSPRequest = 16 << 10

// Handler serves, under /pki/:
//
//	POST /pki/ocsp                  OCSP (application/ocsp-request)
//	GET  /pki/ocsp/{base64 request} OCSP (RFC 6960 appendix A.1)
//	GET  /pki/crl/issuing.crl       CRL of the issuing CA (DER)
//	GET  /pki/crl/root.crl          CRL of the root, when its key is loaded
//	GET  /pki/ca/root.crt           root certificate (DER)
//	GET  /pki/ca/issuing.crt        issuing CA certificate (DER)
//
// Mount it on "/pki/" (in Echo: e.Any("/pki/*", echo.WrapHandler(h))).
func (p *PKI) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pki/ocsp", p.serveOCSPPost)
	mux.HandleFunc("GET /pki/ocsp/{req...}", p.serveOCSPGet)
	mux.HandleFunc("GET /pki/crl/{name}", p.serveCRL)
	mux.HandleFunc("GET /pki/ca/{name}", p.serveCACert)
	return mux
}

func (p *PKI) serveOCSPPost(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOCSPRequest))
	if err != nil {
		http.Error(w, "OCSP request unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	p.answerOCSP(w, r, body)
}

func (p *PKI) serveOCSPGet(w http.ResponseWriter, r *http.Request) {
	// The path value is already percent-decoded; some clients also leave
	// '+' unescaped or drop padding, so accept both forms.
	enc := r.PathValue("req")
	if un, err := url.PathUnescape(enc); err == nil {
		enc = un
	}
	der, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		der, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "="))
	}
	if err != nil {
		der = nil // answered as a malformed request below
	}
	p.answerOCSP(w, r, der)
}

func (p *PKI) answerOCSP(w http.ResponseWriter, r *http.Request, req []byte) {
	a, err := p.answer(r.Context(), req)
	if err != nil {
		http.Error(w, "OCSP responder error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	if a.nextUpdate.IsZero() {
		w.Header().Set("Cache-Control", "no-store") // error responses
	} else {
		// RFC 5019 §6.2: HTTP caches may keep the response as long as the
		// responder itself would serve it again, never past nextUpdate.
		until := a.producedAt.Add(ocspRefresh)
		if a.nextUpdate.Before(until) {
			until = a.nextUpdate
		}
		age := max(0, int(until.Sub(p.now()).Seconds()))
		sum := sha256.Sum256(a.der)
		h := w.Header()
		h.Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", age))
		h.Set("Last-Modified", a.producedAt.UTC().Format(http.TimeFormat))
		h.Set("Expires", a.nextUpdate.UTC().Format(http.TimeFormat))
		h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	}
	w.Write(a.der)
}

func (p *PKI) serveCRL(w http.ResponseWriter, r *http.Request) {
	which, ok := strings.CutSuffix(r.PathValue("name"), ".crl")
	if !ok {
		http.NotFound(w, r)
		return
	}
	der, err := p.CRL(r.Context(), which)
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Cache-Control", "max-age=300, public")
	w.Write(der)
}

func (p *PKI) serveCACert(w http.ResponseWriter, r *http.Request) {
	var der []byte
	switch r.PathValue("name") {
	case "root.crt":
		der = p.m.Root.Raw
	case "issuing.crt":
		der = p.m.Issuing.Raw
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Header().Set("Cache-Control", "max-age=86400, public")
	w.Write(der)
}
