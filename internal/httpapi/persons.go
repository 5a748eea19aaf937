package httpapi

import (
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/person"
)

// PersonRoutes serves /api/v1/persons: persons and their certificates.
func PersonRoutes(persons *person.Service) func(e *echo.Echo, api *echo.Group) {
	h := &personHandlers{persons: persons}
	return func(_ *echo.Echo, api *echo.Group) {
		api.POST("/persons", h.create)
		api.GET("/persons", h.list)
		api.GET("/persons/:id", h.get)
		api.PATCH("/persons/:id", h.update)
		api.DELETE("/persons/:id", h.delete)
		api.POST("/persons/:id/certificates", h.addCertificate)
		api.GET("/persons/:id/certificates", h.listCertificates)
		api.GET("/persons/:id/certificates/:certId", h.getCertificate)
		api.PATCH("/persons/:id/certificates/:certId", h.updateCertificate)
		api.POST("/persons/:id/certificates/:certId/revoke", h.revokeCertificate)
	}
}

type personHandlers struct{ persons *person.Service }

// personResponse is a person as the API shows it: never the password.
type personResponse struct {
	ID          string    `json:"id"`
	UniqueID    string    `json:"uniqueId"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	NationalID  *string   `json:"nationalId"`
	HasPassword bool      `json:"hasPassword"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

func toPersonResponse(p *person.Person) personResponse {
	r := personResponse{ID: p.ID, UniqueID: p.UniqueID, Email: p.Email, Name: p.Name, HasPassword: p.HasPassword(),
		Disabled: p.Disabled, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
	if p.NationalID != "" {
		r.NationalID = &p.NationalID
	}
	return r
}

func versionETag(v int) string { return `"v` + strconv.Itoa(v) + `"` }

type createPersonRequest struct {
	UniqueID   *string `json:"uniqueId"`
	Email      *string `json:"email"`
	Name       *string `json:"name"`
	NationalID *string `json:"nationalId"`
	Password   *string `json:"password"`
}

type updatePersonRequest struct {
	UniqueID   *string `json:"uniqueId"`
	Email      *string `json:"email"`
	Name       *string `json:"name"`
	NationalID *string `json:"nationalId"`
	Password   *string `json:"password"`
	Disabled   *bool   `json:"disabled"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h *personHandlers) create(c echo.Context) error {
	var req createPersonRequest
	bad, err := bindJSON(c, &req)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	p, err := h.persons.Create(c.Request().Context(), APIKey(c).Scope(), person.CreateInput{
		UniqueID: deref(req.UniqueID), Email: deref(req.Email), Name: deref(req.Name),
		NationalID: deref(req.NationalID), Password: deref(req.Password),
	})
	if err != nil {
		return fieldProblem(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/persons/"+p.ID)
	c.Response().Header().Set("ETag", versionETag(p.Version))
	return c.JSON(http.StatusCreated, toPersonResponse(p))
}

func (h *personHandlers) list(c echo.Context) error {
	values := c.QueryParams()
	q, bad := listParams(values, person.SortFields, "uniqueId", "email")
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	page, err := h.persons.List(c.Request().Context(), APIKey(c).Scope(), q,
		person.Filter{UniqueID: values.Get("uniqueId"), Email: values.Get("email")})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListResponse(q, page, toPersonResponse))
}

func (h *personHandlers) get(c echo.Context) error {
	p, err := h.persons.Get(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return err
	}
	etag := versionETag(p.Version)
	c.Response().Header().Set("ETag", etag)
	if noneMatch(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSON(http.StatusOK, toPersonResponse(p))
}

func (h *personHandlers) update(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req updatePersonRequest
	bad, err := bindJSON(c, &req, "application/json", "application/merge-patch+json")
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	p, err := h.persons.Update(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), person.Patch{
		UniqueID: req.UniqueID, Email: req.Email, Name: req.Name, NationalID: req.NationalID,
		Password: req.Password, Disabled: req.Disabled,
	}, person.Precondition(match))
	if err != nil {
		return fieldProblem(err)
	}
	c.Response().Header().Set("ETag", versionETag(p.Version))
	return c.JSON(http.StatusOK, toPersonResponse(p))
}

func (h *personHandlers) delete(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := h.persons.Delete(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), person.Precondition(match)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// certificateResponse is a person's certificate as the native API shows
// it; thumbprint is the SHA-1 fingerprint, thumbprintSha256 the SHA-256.
type certificateResponse struct {
	ID               string     `json:"id"`
	PersonID         string     `json:"personId"`
	Index            int        `json:"index"`
	Type             string     `json:"type"`
	Status           string     `json:"status"`
	IsPrimary        bool       `json:"isPrimary"`
	Origin           string     `json:"origin"`
	HasKey           bool       `json:"hasKey"`
	Locked           bool       `json:"locked"`
	Algorithm        string     `json:"algorithm"`
	SerialNumber     string     `json:"serialNumber"`
	Thumbprint       string     `json:"thumbprint"`
	ThumbprintSHA256 string     `json:"thumbprintSha256"`
	Subject          string     `json:"subject"`
	Issuer           string     `json:"issuer"`
	NotBefore        time.Time  `json:"notBefore"`
	NotAfter         time.Time  `json:"notAfter"`
	Template         string     `json:"template"`
	LinkedAt         time.Time  `json:"linkedAt"`
	RevokedAt        *time.Time `json:"revokedAt"`
	RevocationReason *string    `json:"revocationReason"`
	Certificate      string     `json:"certificate"`
	CreatedAt        time.Time  `json:"createdAt"`
	UpdatedAt        time.Time  `json:"updatedAt"`
}

// reasonNames names RFC 5280 revocation reasons.
var reasonNames = func() map[int]string {
	m := map[int]string{}
	for name, code := range person.RevocationReasons {
		m[code] = name
	}
	return m
}()

func toCertificateResponse(c *person.Certificate) certificateResponse {
	r := certificateResponse{
		ID: c.ID, PersonID: c.PersonID, Index: c.Index, Type: string(c.Type), Status: string(c.Status(time.Now())),
		IsPrimary: c.IsPrimary, Origin: string(c.Origin), HasKey: c.HasKey(), Locked: c.Locked(), Algorithm: c.Algorithm,
		SerialNumber: c.SerialNumber, Thumbprint: c.ThumbprintSHA1, ThumbprintSHA256: c.ThumbprintSHA256,
		Subject: c.Subject, Issuer: c.Issuer, NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		Template: c.Template, LinkedAt: c.LinkedAt.UTC(), RevokedAt: utcPtr(c.RevokedAt),
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})),
		CreatedAt:   c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
	if c.RevokedAt != nil {
		name := reasonNames[c.RevocationReason]
		r.RevocationReason = &name
	}
	return r
}

// createCertificateRequest is one of three forms: issue ({type, password,
// validityDays, algorithm}), import ({pkcs12, pkcs12Password, password})
// or link ({certificate}); isPrimary and type go with any.
type createCertificateRequest struct {
	Type           *string `json:"type"`
	Password       *string `json:"password"`
	ValidityDays   *int    `json:"validityDays"`
	Algorithm      *string `json:"algorithm"`
	PKCS12         *string `json:"pkcs12"`
	PKCS12Password *string `json:"pkcs12Password"`
	Certificate    *string `json:"certificate"`
	IsPrimary      *bool   `json:"isPrimary"`
}

// notWith lists fields that do not belong to a form.
func notWith(bad []InvalidParam, form string, fields map[string]bool) []InvalidParam {
	for name, set := range fields {
		if set {
			bad = append(bad, InvalidParam{Name: name, Reason: "not used when " + form})
		}
	}
	return bad
}

func (h *personHandlers) addCertificate(c echo.Context) error {
	var req createCertificateRequest
	bad, err := bindJSON(c, &req)
	if err != nil {
		return err
	}
	ctx, scope, personID := c.Request().Context(), APIKey(c).Scope(), c.Param("id")
	primary := req.IsPrimary != nil && *req.IsPrimary
	var cert *person.Certificate
	switch {
	case req.PKCS12 != nil && req.Certificate != nil:
		bad = append(bad, InvalidParam{Name: "certificate", Reason: "give either pkcs12 (import with the key) or certificate (link the public certificate), not both"})
		return NewValidationProblem(bad)
	case req.PKCS12 != nil:
		bad = notWith(bad, "importing a PKCS#12 file", map[string]bool{"validityDays": req.ValidityDays != nil, "algorithm": req.Algorithm != nil})
		pfx, decErr := base64.StdEncoding.DecodeString(strings.TrimSpace(*req.PKCS12))
		if decErr != nil {
			bad = append(bad, InvalidParam{Name: "pkcs12", Reason: "must be the PKCS#12 file in base64"})
		}
		if len(bad) > 0 {
			return NewValidationProblem(bad)
		}
		cert, err = h.persons.ImportCertificate(ctx, scope, personID, person.ImportInput{PKCS12: pfx,
			PKCS12Password: deref(req.PKCS12Password), PIN: deref(req.Password), Type: person.Type(deref(req.Type)), Primary: primary})
	case req.Certificate != nil:
		bad = notWith(bad, "linking a public certificate (no key is stored, so there is no password)", map[string]bool{
			"password": req.Password != nil, "validityDays": req.ValidityDays != nil, "algorithm": req.Algorithm != nil,
			"pkcs12Password": req.PKCS12Password != nil})
		if len(bad) > 0 {
			return NewValidationProblem(bad)
		}
		cert, err = h.persons.LinkCertificate(ctx, scope, personID, person.LinkInput{Certificate: []byte(*req.Certificate),
			Type: person.Type(deref(req.Type)), Primary: primary})
	default:
		bad = notWith(bad, "issuing a certificate", map[string]bool{"pkcs12Password": req.PKCS12Password != nil})
		if req.Password == nil && !hasParam(bad, "password") {
			bad = append(bad, InvalidParam{Name: "password", Reason: "required: the certificate's password (PIN), which every use of its key needs"})
		}
		if len(bad) > 0 {
			return NewValidationProblem(bad)
		}
		in := person.IssueInput{Type: person.Type(deref(req.Type)), PIN: *req.Password, Algorithm: deref(req.Algorithm), Primary: primary}
		if req.ValidityDays != nil {
			in.Validity = time.Duration(*req.ValidityDays) * 24 * time.Hour
			if *req.ValidityDays < 1 || *req.ValidityDays > 100*365 {
				in.Validity = -1 // refused by the service with the allowed range
			}
		}
		cert, err = h.persons.IssueCertificate(ctx, scope, personID, in)
	}
	if err != nil {
		return fieldProblem(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/persons/"+personID+"/certificates/"+cert.ID)
	c.Response().Header().Set("ETag", versionETag(cert.Version))
	return c.JSON(http.StatusCreated, toCertificateResponse(cert))
}

func (h *personHandlers) listCertificates(c echo.Context) error {
	q, bad := listParams(c.QueryParams(), person.CertificateSortFields)
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	page, err := h.persons.ListCertificates(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListResponse(q, page, toCertificateResponse))
}

func (h *personHandlers) getCertificate(c echo.Context) error {
	cert, err := h.persons.GetCertificate(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), c.Param("certId"))
	if err != nil {
		return err
	}
	etag := versionETag(cert.Version)
	c.Response().Header().Set("ETag", etag)
	if noneMatch(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSON(http.StatusOK, toCertificateResponse(cert))
}

type updateCertificateRequest struct {
	IsPrimary *bool   `json:"isPrimary"`
	Status    *string `json:"status"`
}

func (h *personHandlers) updateCertificate(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req updateCertificateRequest
	bad, err := bindJSON(c, &req, "application/json", "application/merge-patch+json")
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	patch := person.CertificatePatch{Primary: req.IsPrimary}
	if req.Status != nil {
		st := person.Status(*req.Status)
		patch.Status = &st
	}
	cert, err := h.persons.UpdateCertificate(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), c.Param("certId"),
		patch, person.Precondition(match))
	if err != nil {
		return fieldProblem(err)
	}
	c.Response().Header().Set("ETag", versionETag(cert.Version))
	return c.JSON(http.StatusOK, toCertificateResponse(cert))
}

type revokeCertificateRequest struct {
	Reason *string `json:"reason"`
}

func (h *personHandlers) revokeCertificate(c echo.Context) error {
	var req revokeCertificateRequest
	bad, err := bindJSONOrEmpty(c, &req)
	if err != nil {
		return err
	}
	reason := person.ReasonUnspecified
	if req.Reason != nil {
		code, ok := person.RevocationReasons[*req.Reason]
		if !ok {
			bad = append(bad, InvalidParam{Name: "reason", Reason: "must be one of unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn"})
		}
		reason = code
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	cert, err := h.persons.RevokeCertificate(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), c.Param("certId"), reason)
	if err != nil {
		return fieldProblem(err)
	}
	c.Response().Header().Set("ETag", versionETag(cert.Version))
	return c.JSON(http.StatusOK, toCertificateResponse(cert))
}
