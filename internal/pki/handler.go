package pki

import (
	"encoding/base64"
	"errors"
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
	resp, err := p.OCSP(r.Context(), req)
	if err != nil {
		http.Error(w, "OCSP responder error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Header().Set("Cache-Control", "max-age=300, public, no-transform, must-revalidate")
	w.Write(resp)
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
