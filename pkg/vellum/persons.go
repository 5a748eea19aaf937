package vellum

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// Person is a human or legal entity holding long-lived certificates.
type Person struct {
	ID string `json:"id"`
	// UniqueID is the integrator's identifier (RemSig's personUniqueId).
	UniqueID    string    `json:"uniqueId"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	NationalID  *string   `json:"nationalId"`
	HasPassword bool      `json:"hasPassword"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// ETag is the response's ETag header, for [WithIfMatch].
	ETag string `json:"-"`
}

// PersonRequest creates a person.
type PersonRequest struct {
	UniqueID   string `json:"uniqueId"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	NationalID string `json:"nationalId,omitempty"`
	// Password lets the person log in to the certificate portal.
	Password string `json:"password,omitempty"`
}

// PersonUpdate changes a person; nil members are kept.
type PersonUpdate struct {
	UniqueID   *string `json:"uniqueId,omitempty"`
	Email      *string `json:"email,omitempty"`
	Name       *string `json:"name,omitempty"`
	NationalID *string `json:"nationalId,omitempty"`
	Password   *string `json:"password,omitempty"`
	Disabled   *bool   `json:"disabled,omitempty"`
}

// PersonListParams filter a person listing.
type PersonListParams struct {
	ListParams
	UniqueID string
	Email    string
}

// Certificate is a person's certificate.
type Certificate struct {
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
	// Certificate is the PEM certificate.
	Certificate string    `json:"certificate"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// ETag is the response's ETag header, for [WithIfMatch].
	ETag string `json:"-"`
}

// CertificateRequest adds a certificate in one of three forms: issue (Type,
// Password, ValidityDays, Algorithm), import (PKCS12, PKCS12Password,
// Password) or link (Certificate).
type CertificateRequest struct {
	Type string `json:"type,omitempty"`
	// Password is the certificate's password (PIN), asked for each use.
	Password     string `json:"password,omitempty"`
	ValidityDays int    `json:"validityDays,omitempty"`
	// Algorithm is ECDSA-P256 (default) or RSA-3072.
	Algorithm string `json:"algorithm,omitempty"`
	// PKCS12 is the .p12/.pfx file; encoded as base64.
	PKCS12         []byte `json:"pkcs12,omitempty"`
	PKCS12Password string `json:"pkcs12Password,omitempty"`
	// Certificate is a certificate to link, in PEM or base64 DER.
	Certificate string `json:"certificate,omitempty"`
	IsPrimary   bool   `json:"isPrimary,omitempty"`
}

// CertificateUpdate makes a certificate primary, or disables or enables it.
type CertificateUpdate struct {
	IsPrimary *bool  `json:"isPrimary,omitempty"`
	Status    string `json:"status,omitempty"`
}

// RevokeRequest gives the reason for revoking (default unspecified).
type RevokeRequest struct {
	Reason string `json:"reason,omitempty"`
}

// PersonService is the /api/v1/persons resource and its certificates.
type PersonService struct{ c *Client }

// Create creates a person.
func (s *PersonService) Create(ctx context.Context, r *PersonRequest) (*Person, error) {
	return s.person(ctx, http.MethodPost, "/api/v1/persons", r)
}

// Get fetches a person.
func (s *PersonService) Get(ctx context.Context, id string) (*Person, error) {
	return s.person(ctx, http.MethodGet, pathf("/api/v1/persons/%s", id), nil)
}

// Update changes a person.
func (s *PersonService) Update(ctx context.Context, id string, u *PersonUpdate) (*Person, error) {
	return s.person(ctx, http.MethodPatch, pathf("/api/v1/persons/%s", id), u)
}

// Delete deletes a person.
func (s *PersonService) Delete(ctx context.Context, id string) error {
	return s.c.sendJSON(ctx, http.MethodDelete, pathf("/api/v1/persons/%s", id), nil, nil)
}

func (s *PersonService) person(ctx context.Context, method, path string, in any) (*Person, error) {
	var p Person
	if err := s.c.sendJSON(ctx, method, path, in, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// List walks the caller's persons.
func (s *PersonService) List(ctx context.Context, p *PersonListParams) iter.Seq2[Person, error] {
	var q url.Values
	if p == nil {
		q = (*ListParams)(nil).values()
	} else {
		q = p.values()
		if p.UniqueID != "" {
			q.Set("uniqueId", p.UniqueID)
		}
		if p.Email != "" {
			q.Set("email", p.Email)
		}
	}
	return list[Person](ctx, s.c, "/api/v1/persons", q)
}

// AddCertificate issues, imports or links a certificate for a person.
func (s *PersonService) AddCertificate(ctx context.Context, personID string, r *CertificateRequest) (*Certificate, error) {
	return s.cert(ctx, http.MethodPost, pathf("/api/v1/persons/%s/certificates", personID), r)
}

// Certificate fetches one of a person's certificates.
func (s *PersonService) Certificate(ctx context.Context, personID, certID string) (*Certificate, error) {
	return s.cert(ctx, http.MethodGet, pathf("/api/v1/persons/%s/certificates/%s", personID, certID), nil)
}

// UpdateCertificate makes a certificate primary, or disables or enables it.
func (s *PersonService) UpdateCertificate(ctx context.Context, personID, certID string, u *CertificateUpdate) (*Certificate, error) {
	return s.cert(ctx, http.MethodPatch, pathf("/api/v1/persons/%s/certificates/%s", personID, certID), u)
}

// RevokeCertificate revokes a certificate (reason: unspecified,
// keyCompromise, affiliationChanged, superseded, cessationOfOperation or
// privilegeWithdrawn).
func (s *PersonService) RevokeCertificate(ctx context.Context, personID, certID, reason string) (*Certificate, error) {
	return s.cert(ctx, http.MethodPost, pathf("/api/v1/persons/%s/certificates/%s/revoke", personID, certID), &RevokeRequest{Reason: reason})
}

// Certificates walks a person's certificates.
func (s *PersonService) Certificates(ctx context.Context, personID string, p *ListParams) iter.Seq2[Certificate, error] {
	return list[Certificate](ctx, s.c, pathf("/api/v1/persons/%s/certificates", personID), p.values())
}

func (s *PersonService) cert(ctx context.Context, method, path string, in any) (*Certificate, error) {
	var c Certificate
	if err := s.c.sendJSON(ctx, method, path, in, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func (v *Person) setETag(etag string) { v.ETag = etag }

func (v *Certificate) setETag(etag string) { v.ETag = etag }
