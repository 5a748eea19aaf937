package person

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/validation"
)

// Issuing defaults and bounds.
const (
	DefaultValidity = 365 * 24 * time.Hour
	// MaxCertificateBytes bounds an uploaded certificate or PKCS #12 file.
	MaxCertificateBytes = 512 << 10
)

// Revocation reasons (RFC 5280 §5.3.1) a client may give.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonPrivilegeWithdrawn   = 9
)

// RevocationReasons maps reason names to their codes.
var RevocationReasons = map[string]int{
	"unspecified": ReasonUnspecified, "keyCompromise": ReasonKeyCompromise,
	"affiliationChanged": ReasonAffiliationChanged, "superseded": ReasonSuperseded,
	"cessationOfOperation": ReasonCessationOfOperation, "privilegeWithdrawn": ReasonPrivilegeWithdrawn,
}

// Errors of certificate changes.
var (
	ErrCertificateRevoked = errors.New("the certificate is revoked; revocation is final")
	ErrCertificateExpired = errors.New("the certificate has expired and cannot be enabled")
)

// templateOfProfile names the templates of certificates the platform CA
// issues.
var templateOfProfile = map[Type]string{TypePersonal: "Individual", TypeSeal: "Seal", TypeServer: "Server"}

// IssueInput asks the platform CA for a certificate and a key.
type IssueInput struct {
	Type      Type          // default PERSONAL
	PIN       string        // the certificate's password
	Validity  time.Duration // default DefaultValidity
	Algorithm string        // pki.KeyECDSAP256 (default) or pki.KeyRSA3072
	Primary   bool          // make it the person's primary certificate
	// Name and Names, when set, are the subject a certificate request
	// asked for (its commonName and name attributes) instead of the
	// person's stored name and email.
	Name  string
	Names *pki.SubjectNames
}

// ImportInput brings a certificate and its key from a PKCS #12 file.
type ImportInput struct {
	PKCS12         []byte
	PKCS12Password string
	PIN            string
	Type           Type // empty: SERVER for a TLS server certificate, else PERSONAL
	Primary        bool
}

// LinkInput attaches a public certificate (PEM or DER) without a key.
type LinkInput struct {
	Certificate []byte
	Type        Type
	Primary     bool
}

func checkType(errs validation.Errors, t Type) validation.Errors {
	if t != "" && !slices.Contains(Types, t) {
		return append(errs, validation.FieldError{Field: "type", Reason: "must be one of PERSONAL, SEAL, SERVER"})
	}
	return errs
}

// IssueCertificate has the platform CA issue a certificate to the person
// with a key generated here, sealed under in.PIN.
func (s *Service) IssueCertificate(ctx context.Context, scope account.Scope, personID string, in IssueInput) (*Certificate, error) {
	if in.Type == "" {
		in.Type = TypePersonal
	}
	if in.Validity == 0 {
		in.Validity = DefaultValidity
	}
	if in.Algorithm == "" {
		in.Algorithm = pki.KeyECDSAP256
	}
	errs := checkType(nil, in.Type)
	errs = checkPIN(errs, "password", in.PIN)
	if maxV := s.ca.MaxValidityAt(s.now()); in.Validity < 24*time.Hour || in.Validity > maxV {
		errs = append(errs, validation.FieldError{Field: "validityDays",
			Reason: fmt.Sprintf("must be from 1 to %d days (bounded by the issuing CA's expiry)", int(maxV/(24*time.Hour)))})
	}
	if in.Algorithm != pki.KeyECDSAP256 && in.Algorithm != pki.KeyRSA3072 {
		errs = append(errs, validation.FieldError{Field: "algorithm", Reason: "must be ECDSA-P256 or RSA-3072"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := s.canHoldKeys(ctx, scope, personID); err != nil {
		return nil, err // before the costly key generation
	}
	key, err := pki.GeneratePersonKey(in.Algorithm)
	if err != nil {
		return nil, err
	}
	certID := ident.New("crt")
	rec, err := s.protect(ctx, certID, key, in.PIN)
	if err != nil {
		return nil, err
	}
	return s.add(ctx, scope, personID, rec, in.Primary, func(ctx context.Context, p *Person) (*Certificate, error) {
		name, email := p.Name, p.Email
		if in.Names != nil {
			name, email = in.Name, ""
		}
		if len(name) > 64 {
			return nil, validation.Errors{{Field: "name", Reason: "the name is longer than the 64 characters a certificate's common name holds; shorten it first"}}
		}
		// The CA records the certificate in this transaction: if storing
		// it fails, it was never issued.
		x, err := s.ca.IssuePerson(ctx, pki.PersonRequest{Profile: string(in.Type), Name: name, Email: email,
			SerialNumber: p.NationalID, Key: key, Validity: in.Validity, Names: in.Names})
		if err != nil {
			return nil, err
		}
		c := s.newCertificate(certID, p, x, in.Type, OriginIssued)
		c.PlatformIssued = true
		c.Template = templateOfProfile[in.Type]
		return c, nil
	})
}

// MaxValidity is the longest validity IssueCertificate accepts now.
func (s *Service) MaxValidity() time.Duration { return s.ca.MaxValidityAt(s.now()) }

// canHoldKeys fails unless the deployment can store keys and the person
// exists: what to know before spending on key generation and Argon2id.
func (s *Service) canHoldKeys(ctx context.Context, scope account.Scope, personID string) error {
	if s.keys == nil {
		return ErrKeysUnavailable
	}
	_, err := s.Get(ctx, scope, personID)
	return err
}

// add stores the certificate build makes for person personID, with the
// sealed key rec (nil for none), in one transaction holding the person's
// row. Everything costly (key generation, Argon2id) is done before, so the
// transaction holds its locks only for the CA's signature and the rows.
func (s *Service) add(ctx context.Context, scope account.Scope, personID string, rec *keyRecord, primary bool,
	build func(ctx context.Context, p *Person) (*Certificate, error)) (*Certificate, error) {
	var c *Certificate
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		p, err := s.get(ctx, scope, personID, true)
		if err != nil {
			return err
		}
		if c, err = build(ctx, p); err != nil {
			return err
		}
		return s.attach(ctx, p, c, rec, primary)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ImportCertificate attaches a certificate and its private key from a
// PKCS #12 file; the key is sealed under in.PIN.
func (s *Service) ImportCertificate(ctx context.Context, scope account.Scope, personID string, in ImportInput) (*Certificate, error) {
	errs := checkType(nil, in.Type)
	errs = checkPIN(errs, "password", in.PIN)
	if len(in.PKCS12) == 0 {
		errs = append(errs, validation.FieldError{Field: "pkcs12", Reason: "required: the base64 PKCS#12 (.p12/.pfx) file"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := s.canHoldKeys(ctx, scope, personID); err != nil {
		return nil, err
	}
	key, cert, err := decodePKCS12(in.PKCS12, in.PKCS12Password)
	if err != nil {
		return nil, err
	}
	if err := checkLeaf(cert, "pkcs12"); err != nil {
		return nil, err
	}
	certID := ident.New("crt")
	rec, err := s.protect(ctx, certID, key, in.PIN)
	if err != nil {
		return nil, err
	}
	return s.add(ctx, scope, personID, rec, in.Primary, func(_ context.Context, p *Person) (*Certificate, error) {
		return s.newCertificate(certID, p, cert, in.Type, OriginImported), nil
	})
}

// LinkCertificate attaches a public certificate; the platform holds no
// key for it, so it is shown but cannot sign.
func (s *Service) LinkCertificate(ctx context.Context, scope account.Scope, personID string, in LinkInput) (*Certificate, error) {
	errs := checkType(nil, in.Type)
	cert, err := ParseCertificate(in.Certificate)
	if err != nil {
		errs = append(errs, validation.FieldError{Field: "certificate", Reason: err.Error()})
	} else if err := checkLeaf(cert, "certificate"); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s.add(ctx, scope, personID, nil, in.Primary, func(_ context.Context, p *Person) (*Certificate, error) {
		return s.newCertificate(ident.New("crt"), p, cert, in.Type, OriginLinked), nil
	})
}

// ParseCertificate reads one X.509 certificate in PEM or DER; GOST keys
// and other algorithms crypto/x509 cannot use still parse.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	if len(data) == 0 {
		return nil, errors.New("required: a PEM or base64 DER X.509 certificate")
	}
	if len(data) > MaxCertificateBytes {
		return nil, fmt.Errorf("must be at most %d bytes", MaxCertificateBytes)
	}
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("is a PEM %q block, not a CERTIFICATE", b.Type)
		}
		der = b.Bytes
	} else if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data))); err == nil {
		der = raw
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("is not an X.509 certificate: %v", err)
	}
	return c, nil
}

// checkLeaf refuses CA certificates: a person holds end-entity ones.
func checkLeaf(c *x509.Certificate, field string) error {
	if c.BasicConstraintsValid && c.IsCA {
		return validation.Errors{{Field: field, Reason: "is a CA certificate; attach the person's own (end-entity) certificate"}}
	}
	return nil
}

// newCertificate fills what the X.509 certificate says.
func (s *Service) newCertificate(id string, p *Person, x *x509.Certificate, t Type, origin Origin) *Certificate {
	sha1Hex, sha256Hex := Thumbprints(x.Raw)
	if t == "" {
		t = inferType(x)
	}
	now := s.now()
	return &Certificate{
		ID: id, AccountID: p.AccountID, Environment: p.Environment, PersonID: p.ID,
		Type: t, Origin: origin, Template: TemplateOf(x), Algorithm: Algorithm(x),
		SerialNumber: hex.EncodeToString(x.SerialNumber.Bytes()), ThumbprintSHA1: sha1Hex, ThumbprintSHA256: sha256Hex,
		Subject: FormatName(x.RawSubject), Issuer: FormatName(x.RawIssuer),
		NotBefore: x.NotBefore.UTC(), NotAfter: x.NotAfter.UTC(), DER: x.Raw,
		LinkedAt: now, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
}

// attach stores c for p (whose row the caller holds locked, which orders
// index assignment), with its sealed key when rec is not nil. The person's
// first certificate becomes primary; primary moves it there.
func (s *Service) attach(ctx context.Context, p *Person, c *Certificate, rec *keyRecord, primary bool) error {
	var n int64
	if err := s.db.Conn(ctx).Model(&Certificate{}).
		Where("account_id = ? AND environment = ? AND thumbprint_sha256 = ?", p.AccountID, p.Environment, c.ThumbprintSHA256).
		Count(&n).Error; err != nil {
		return fmt.Errorf("check certificate: %w", err)
	}
	if n > 0 {
		return ErrCertificateExists
	}
	var next struct{ N *int }
	if err := s.db.Conn(ctx).Model(&Certificate{}).Select("MAX(idx) + 1 AS n").Where("person_id = ?", p.ID).Scan(&next).Error; err != nil {
		return fmt.Errorf("next certificate index: %w", err)
	}
	if next.N != nil {
		c.Index = *next.N
	}
	var err error
	if c.Number, err = s.db.Next(ctx, "certificate:"+p.AccountID+":"+string(p.Environment)); err != nil {
		return err
	}
	var primaries int64
	if err := s.db.Conn(ctx).Model(&Certificate{}).Where("person_id = ? AND is_primary", p.ID).Count(&primaries).Error; err != nil {
		return fmt.Errorf("find primary certificate: %w", err)
	}
	if primary && primaries > 0 {
		if err := s.db.Conn(ctx).Model(&Certificate{}).Where("person_id = ? AND is_primary", p.ID).
			Updates(map[string]any{"is_primary": false, "updated_at": c.CreatedAt}).Error; err != nil {
			return fmt.Errorf("move primary certificate: %w", err)
		}
	}
	c.IsPrimary = primary || primaries == 0
	if err := s.db.Conn(ctx).Create(c).Error; err != nil {
		if s.db.IsUniqueViolation(err) {
			return ErrCertificateExists
		}
		return fmt.Errorf("store certificate: %w", err)
	}
	if rec == nil {
		return nil
	}
	if err := s.db.Conn(ctx).Model(&Certificate{}).Where("id = ?", c.ID).Updates(rec.columns()).Error; err != nil {
		return fmt.Errorf("store key of %s: %w", c.ID, err)
	}
	return nil
}

// certificates reads certificate rows by the Certificate fields only, so
// the sealed key material is never loaded where it is not needed.
func (s *Service) certificates(ctx context.Context) *gorm.DB {
	return s.db.Conn(ctx).Session(&gorm.Session{QueryFields: true}).Model(&Certificate{})
}

// getCertificate returns certificate id of scope, and of person personID
// unless it is empty.
func (s *Service) getCertificate(ctx context.Context, scope account.Scope, personID, id string, forUpdate bool) (*Certificate, error) {
	var c Certificate
	q := s.certificates(ctx).
		Where("id = ? AND account_id = ? AND environment = ?", id, scope.AccountID, scope.Environment)
	if personID != "" {
		q = q.Where("person_id = ?", personID)
	}
	if forUpdate {
		q = s.db.ForUpdate(q, false)
	}
	if err := q.Take(&c).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("certificate %s: %w", id, ErrCertificateNotFound)
		}
		return nil, fmt.Errorf("get certificate %s: %w", id, err)
	}
	return &c, nil
}

// GetCertificate returns certificate id of person personID in scope.
func (s *Service) GetCertificate(ctx context.Context, scope account.Scope, personID, id string) (*Certificate, error) {
	return s.getCertificate(ctx, scope, personID, id, false)
}

var certificateColumns = map[string]string{"index": "idx", "createdAt": "created_at", "notAfter": "not_after", "linkedAt": "linked_at"}

// CertificateSortFields are the fields certificates can be sorted by.
var CertificateSortFields = []string{"index", "createdAt", "notAfter", "linkedAt"}

// ListCertificates returns one page of person personID's certificates.
func (s *Service) ListCertificates(ctx context.Context, scope account.Scope, personID string, q listing.Query) (listing.Page[Certificate], error) {
	var page listing.Page[Certificate]
	if _, err := s.Get(ctx, scope, personID); err != nil {
		return page, err
	}
	base := s.certificates(ctx).Where("person_id = ?", personID)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count certificates: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(certificateColumns, listing.Order{Field: "index"})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list certificates: %w", err)
	}
	return page, nil
}

// CertificatePatch changes a certificate; nil fields are left alone.
type CertificatePatch struct {
	// Primary true makes it the person's primary certificate; false is
	// refused: make another one primary instead.
	Primary *bool
	// Status is StatusDisabled or StatusValid (enable).
	Status *Status
}

// UpdateCertificate applies patch to certificate id of person personID.
func (s *Service) UpdateCertificate(ctx context.Context, scope account.Scope, personID, id string, patch CertificatePatch, match Precondition) (*Certificate, error) {
	var errs validation.Errors
	if patch.Primary != nil && !*patch.Primary {
		errs = append(errs, validation.FieldError{Field: "isPrimary", Reason: "can only be set to true; make another certificate primary instead"})
	}
	if patch.Status != nil && *patch.Status != StatusDisabled && *patch.Status != StatusValid {
		errs = append(errs, validation.FieldError{Field: "status", Reason: "must be disabled or valid"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var c *Certificate
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.getCertificate(ctx, scope, personID, id, true); err != nil {
			return err
		}
		if match != nil && !match(c.Version) {
			return fmt.Errorf("certificate %s is at version %d: %w", id, c.Version, ErrVersionMismatch)
		}
		now := s.now()
		if patch.Status != nil {
			switch {
			case c.RevokedAt != nil:
				return fmt.Errorf("certificate %s: %w", id, ErrCertificateRevoked)
			case *patch.Status == StatusValid && !now.Before(c.NotAfter):
				return fmt.Errorf("certificate %s: %w", id, ErrCertificateExpired)
			}
			c.Disabled = *patch.Status == StatusDisabled
		}
		if patch.Primary != nil && !c.IsPrimary {
			if err := s.db.Conn(ctx).Model(&Certificate{}).Where("person_id = ? AND is_primary", c.PersonID).
				Updates(map[string]any{"is_primary": false, "updated_at": now}).Error; err != nil {
				return fmt.Errorf("move primary certificate: %w", err)
			}
			c.IsPrimary = true
		}
		c.Version++
		c.UpdatedAt = now
		return s.db.Conn(ctx).Model(&Certificate{}).Where("id = ?", c.ID).Updates(map[string]any{
			"disabled": c.Disabled, "is_primary": c.IsPrimary, "version": c.Version, "updated_at": now,
		}).Error
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// RevokeCertificate revokes certificate id for reason and destroys its
// key. A certificate of the platform CA is published as revoked in its CRL
// and OCSP answers; another CA's certificate is only marked revoked here.
// Revoking twice changes nothing.
func (s *Service) RevokeCertificate(ctx context.Context, scope account.Scope, personID, id string, reason int) (*Certificate, error) {
	if !slices.Contains(slices.Collect(maps.Values(RevocationReasons)), reason) {
		return nil, validation.Errors{{Field: "reason", Reason: "must be one of unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn"}}
	}
	var c *Certificate
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.getCertificate(ctx, scope, personID, id, true); err != nil {
			return err
		}
		if c.RevokedAt != nil {
			return nil
		}
		return s.revokeAtCA(ctx, c, reason)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// revokeAtCA records c's revocation, publishes it through the platform CA
// when c is the CA's, and wipes the key.
func (s *Service) revokeAtCA(ctx context.Context, c *Certificate, reason int) error {
	now := s.now()
	if c.PlatformIssued {
		x, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return fmt.Errorf("revoke %s: %w", c.ID, err)
		}
		if err := s.ca.Revoke(ctx, x.SerialNumber, reason); err != nil {
			return fmt.Errorf("revoke %s: %w", c.ID, err)
		}
	}
	c.RevokedAt, c.RevocationReason, c.UpdatedAt = &now, reason, now
	c.Version++
	upd := wiped.columns()
	upd["revoked_at"], upd["revocation_reason"], upd["version"], upd["updated_at"] = now, reason, c.Version, now
	if err := s.db.Conn(ctx).Model(&Certificate{}).Where("id = ?", c.ID).Updates(upd).Error; err != nil {
		return fmt.Errorf("revoke %s: %w", c.ID, err)
	}
	return nil
}

// Challenge is a value a person signs with a certificate's key to prove
// possession before linking it.
type Challenge struct {
	Value     string
	ExpiresAt time.Time
}

// Challenge lifetime and how many a person may hold at once.
const (
	ChallengeTTL  = 10 * time.Minute
	maxChallenges = 5
)

func challengeHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// NewLinkChallenge issues a single-use challenge to p.
func (s *Service) NewLinkChallenge(ctx context.Context, p *Person) (*Challenge, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	now := s.now()
	ch := &Challenge{Value: "vellum-link-v1:" + base64.RawURLEncoding.EncodeToString(b), ExpiresAt: now.Add(ChallengeTTL)}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		conn := s.db.Conn(ctx)
		if err := conn.Exec("DELETE FROM person_link_challenges WHERE person_id = ? AND expires_at <= ?", p.ID, now).Error; err != nil {
			return err
		}
		// Keep the newest few: every open tab may hold one.
		if err := conn.Exec(`DELETE FROM person_link_challenges WHERE person_id = ? AND challenge_hash NOT IN
			(SELECT challenge_hash FROM person_link_challenges WHERE person_id = ? ORDER BY created_at DESC LIMIT ?)`,
			p.ID, p.ID, maxChallenges-1).Error; err != nil {
			return err
		}
		return conn.Exec("INSERT INTO person_link_challenges (challenge_hash, person_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
			challengeHash(ch.Value), p.ID, ch.ExpiresAt, now).Error
	})
	if err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	return ch, nil
}

// ProofInput links a certificate with proof of possession of its key.
type ProofInput struct {
	Certificate []byte // PEM or DER
	Challenge   string // from NewLinkChallenge
	Signature   []byte // over the challenge's bytes; see verifyProof
	Type        Type
}

// LinkWithProof attaches a certificate to p after checking that the
// signature over a challenge issued to p verifies with the certificate's
// key. The challenge is spent whether or not the proof holds.
func (s *Service) LinkWithProof(ctx context.Context, p *Person, in ProofInput) (*Certificate, error) {
	errs := checkType(nil, in.Type)
	cert, err := ParseCertificate(in.Certificate)
	if err != nil {
		errs = append(errs, validation.FieldError{Field: "certificate", Reason: err.Error()})
	}
	if in.Challenge == "" {
		errs = append(errs, validation.FieldError{Field: "challenge", Reason: "required: the challenge from POST /api/cert/link/challenge"})
	}
	if len(in.Signature) == 0 {
		errs = append(errs, validation.FieldError{Field: "signature", Reason: "required: the base64 signature of the challenge"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := checkLeaf(cert, "certificate"); err != nil {
		return nil, err
	}
	res := s.db.Conn(ctx).Exec("DELETE FROM person_link_challenges WHERE challenge_hash = ? AND person_id = ? AND expires_at > ?",
		challengeHash(in.Challenge), p.ID, s.now())
	if res.Error != nil {
		return nil, fmt.Errorf("spend challenge: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return nil, ErrChallengeInvalid
	}
	if err := verifyProof(cert, []byte(in.Challenge), in.Signature); err != nil {
		return nil, err
	}
	return s.add(ctx, p.Scope(), p.ID, nil, false, func(_ context.Context, locked *Person) (*Certificate, error) {
		return s.newCertificate(ident.New("crt"), locked, cert, in.Type, OriginLinked), nil
	})
}
