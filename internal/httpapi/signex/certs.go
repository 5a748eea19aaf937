package signex

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/person"
)

// Validity is a certificate's validity period, in UTC.
type Validity struct {
	NotBeforeUTC string `json:"notBeforeUtc"`
	NotAfterUTC  string `json:"notAfterUtc"`
}

// CertSummary is a certificate in GET /api/cert/mine, with exactly the
// fields Signex documents.
type CertSummary struct {
	ID         string   `json:"id"`
	IIN        *string  `json:"iin"`
	FullName   string   `json:"fullName"`
	Thumbprint string   `json:"thumbprint"`
	Algorithm  string   `json:"algorithm"`
	IsPrimary  bool     `json:"isPrimary"`
	Validity   Validity `json:"validity"`
	Status     string   `json:"status"`
	Template   string   `json:"template"`
	LinkedAt   string   `json:"linkedAt"`
}

// mineResponse is GET /api/cert/mine.
type mineResponse struct {
	Items []CertSummary `json:"items"`
	Total int64         `json:"total"`
}

// attributeJSON is one attribute of a distinguished name.
type attributeJSON struct {
	OID   string `json:"oid"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type extensionJSON struct {
	OID      string `json:"oid"`
	Name     string `json:"name"`
	Critical bool   `json:"critical"`
	Value    any    `json:"value"`
}

type publicKeyJSON struct {
	Algorithm string `json:"algorithm"`
	Size      int    `json:"size"`
}

// CertDetail is GET /api/cert/{id}: the summary's fields and the whole
// certificate, every extension decoded, and its PEM.
type CertDetail struct {
	CertSummary
	SerialNumber       string          `json:"serialNumber"`
	Subject            string          `json:"subject"`
	SubjectAttributes  []attributeJSON `json:"subjectAttributes"`
	Issuer             string          `json:"issuer"`
	IssuerAttributes   []attributeJSON `json:"issuerAttributes"`
	SignatureAlgorithm string          `json:"signatureAlgorithm"`
	PublicKey          publicKeyJSON   `json:"publicKey"`
	ThumbprintSHA256   string          `json:"thumbprintSha256"`
	Type               string          `json:"type"`
	Origin             string          `json:"origin"`
	Extensions         []extensionJSON `json:"extensions"`
	PEM                string          `json:"pem"`
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

var kazakhIIN = regexp.MustCompile(`^(IIN)?([0-9]{12})$`)

// maskIIN keeps the first six digits (the birth date) and stars the rest,
// as Signex shows it.
func maskIIN(iin string) *string {
	if iin == "" {
		return nil
	}
	n := min(6, len(iin))
	s := iin[:n] + strings.Repeat("*", len(iin)-n)
	return &s
}

// iinOf is the IIN a certificate carries, else the person's national id
// when it is an IIN.
func iinOf(x *x509.Certificate, p *person.Person) string {
	if iin := person.IIN(x); iin != "" {
		return iin
	}
	if m := kazakhIIN.FindStringSubmatch(p.NationalID); m != nil {
		return m[2]
	}
	return ""
}

func (h *handlers) toSummary(c *person.Certificate, x *x509.Certificate, p *person.Person) CertSummary {
	name := person.FullName(x)
	if name == "" {
		name = p.Name
	}
	return CertSummary{
		ID: c.ID, IIN: maskIIN(iinOf(x, p)), FullName: name, Thumbprint: c.ThumbprintSHA1, Algorithm: c.Algorithm,
		IsPrimary: c.IsPrimary, Validity: Validity{NotBeforeUTC: utc(c.NotBefore), NotAfterUTC: utc(c.NotAfter)},
		Status: string(c.Status(h.Now())), Template: c.Template, LinkedAt: utc(c.LinkedAt),
	}
}

func attributesJSON(raw []byte) []attributeJSON {
	out := []attributeJSON{}
	for _, a := range person.Attributes(person.ParseName(raw)) {
		out = append(out, attributeJSON{OID: a.OID, Name: a.Name, Value: a.Value})
	}
	return out
}

func (h *handlers) toDetail(c *person.Certificate, x *x509.Certificate, p *person.Person) CertDetail {
	d := CertDetail{
		CertSummary:  h.toSummary(c, x, p),
		SerialNumber: c.SerialNumber, Subject: c.Subject, SubjectAttributes: attributesJSON(x.RawSubject),
		Issuer: c.Issuer, IssuerAttributes: attributesJSON(x.RawIssuer),
		SignatureAlgorithm: person.SignatureAlgorithm(x),
		PublicKey:          publicKeyJSON{Algorithm: c.Algorithm, Size: person.PublicKeySize(x)},
		ThumbprintSHA256:   c.ThumbprintSHA256, Type: string(c.Type), Origin: string(c.Origin),
		Extensions: []extensionJSON{},
		PEM:        string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})),
	}
	for _, e := range person.Extensions(x) {
		d.Extensions = append(d.Extensions, extensionJSON{OID: e.OID, Name: e.Name, Critical: e.Critical, Value: e.Value})
	}
	return d
}

func (h *handlers) mine(c echo.Context, who *caller) error {
	if err := h.Limiter.Allow(c, "mine", "signex:mine:"+who.person.ID, Limits.MinePerUser); err != nil {
		return err
	}
	page, err := h.Persons.ListCertificates(c.Request().Context(), who.person.Scope(), who.person.ID,
		listing.Query{Limit: listing.MaxLimit})
	if err != nil {
		return err
	}
	out := mineResponse{Items: make([]CertSummary, 0, len(page.Items)), Total: page.Total}
	for i := range page.Items {
		x, err := x509.ParseCertificate(page.Items[i].DER)
		if err != nil {
			return err // stored certificates parsed when they arrived
		}
		out.Items = append(out.Items, h.toSummary(&page.Items[i], x, who.person))
	}
	return c.JSON(http.StatusOK, out)
}

func (h *handlers) get(c echo.Context, who *caller) error {
	cert, err := h.Persons.GetCertificate(c.Request().Context(), who.person.Scope(), who.person.ID, c.Param("id"))
	if err != nil {
		return err
	}
	x, err := x509.ParseCertificate(cert.DER)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.toDetail(cert, x, who.person))
}

func (h *handlers) primary(c echo.Context, who *caller) error {
	yes := true
	cert, err := h.Persons.UpdateCertificate(c.Request().Context(), who.person.Scope(), who.person.ID, c.Param("id"),
		person.CertificatePatch{Primary: &yes}, nil)
	if err != nil {
		return err
	}
	x, err := x509.ParseCertificate(cert.DER)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.toSummary(cert, x, who.person))
}

// linkLimits applies both of cert/link's limits: per person and per IP.
func (h *handlers) linkLimits(c echo.Context, who *caller, route string) error {
	if err := h.Limiter.Allow(c, "link", "signex:"+route+":user:"+who.person.ID, Limits.LinkPerUser); err != nil {
		return err
	}
	return h.Limiter.Allow(c, "linkip", "signex:"+route+":ip:"+c.RealIP(), Limits.LinkPerIP)
}

type challengeResponse struct {
	Challenge string    `json:"challenge"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (h *handlers) challenge(c echo.Context, who *caller) error {
	if err := h.linkLimits(c, who, "challenge"); err != nil {
		return err
	}
	ch, err := h.Persons.NewLinkChallenge(c.Request().Context(), who.person)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, challengeResponse{Challenge: ch.Value, ExpiresAt: ch.ExpiresAt.UTC()})
}

type linkRequest struct {
	Certificate *string `json:"certificate"`
	Challenge   *string `json:"challenge"`
	Signature   *string `json:"signature"`
	Type        *string `json:"type"`
}

func (h *handlers) link(c echo.Context, who *caller) error {
	if err := h.linkLimits(c, who, "link"); err != nil {
		return err
	}
	var req linkRequest
	bad, err := httpapi.BindJSON(c, &req)
	if err != nil {
		return err
	}
	in := person.ProofInput{}
	if req.Certificate != nil {
		in.Certificate = []byte(*req.Certificate)
	}
	if req.Challenge != nil {
		in.Challenge = *req.Challenge
	}
	if req.Type != nil {
		in.Type = person.Type(*req.Type)
	}
	if req.Signature != nil {
		sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*req.Signature))
		if err != nil {
			bad = append(bad, httpapi.InvalidParam{Name: "signature", Reason: "must be the signature in base64"})
		}
		in.Signature = sig
	}
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	cert, err := h.Persons.LinkWithProof(c.Request().Context(), who.person, in)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	x, err := x509.ParseCertificate(cert.DER)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/cert/"+cert.ID)
	return c.JSON(http.StatusCreated, h.toSummary(cert, x, who.person))
}
