package person

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/listing"
)

// Lookups by the identifiers RemSig's API uses: a person's uniqueId or
// number, a certificate's index, number or serial number.

// GetByUniqueID returns the person of scope with uniqueID.
func (s *Service) GetByUniqueID(ctx context.Context, scope account.Scope, uniqueID string) (*Person, error) {
	var p Person
	err := s.scoped(ctx, scope).Where("unique_id = ?", uniqueID).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("person %q: %w", uniqueID, ErrPersonNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get person %q: %w", uniqueID, err)
	}
	return &p, nil
}

// GetByNumber returns the person of scope with integer id n.
func (s *Service) GetByNumber(ctx context.Context, scope account.Scope, n int64) (*Person, error) {
	var p Person
	err := s.scoped(ctx, scope).Where("number = ?", n).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("person %d: %w", n, ErrPersonNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get person %d: %w", n, err)
	}
	return &p, nil
}

// PersonsByID returns the persons of scope with the given ids, by id.
func (s *Service) PersonsByID(ctx context.Context, scope account.Scope, ids []string) (map[string]*Person, error) {
	out := make(map[string]*Person, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var ps []Person
	if err := s.scoped(ctx, scope).Where("id IN ?", ids).Find(&ps).Error; err != nil {
		return nil, fmt.Errorf("get persons: %w", err)
	}
	for i := range ps {
		out[ps[i].ID] = &ps[i]
	}
	return out, nil
}

// CertificateFilter narrows a list of an account's certificates.
type CertificateFilter struct {
	// SerialNumber is hex, lower case; empty matches all.
	SerialNumber string
}

var accountCertificateColumns = map[string]string{"id": "number", "index": "idx", "type": "type",
	"serialNumber": "serial_number", "notBefore": "not_before", "notAfter": "not_after",
	"subject": "subject", "issuer": "issuer", "disabled": "disabled", "createdAt": "created_at"}

// AccountCertificateSortFields are the fields ListAccountCertificates sorts by.
var AccountCertificateSortFields = []string{"id", "index", "type", "serialNumber", "notBefore", "notAfter",
	"subject", "issuer", "disabled", "createdAt"}

// ListAccountCertificates returns one page of every certificate of scope's
// persons, in order of their integer ids unless q says otherwise.
func (s *Service) ListAccountCertificates(ctx context.Context, scope account.Scope, q listing.Query, f CertificateFilter) (listing.Page[Certificate], error) {
	var page listing.Page[Certificate]
	base := s.certificates(ctx).Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
	if f.SerialNumber != "" {
		base = base.Where("serial_number = ?", f.SerialNumber)
	}
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count certificates: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(accountCertificateColumns, listing.Order{Field: "id"})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list certificates: %w", err)
	}
	return page, nil
}

// LatestValidCertificate returns the person's valid certificate (of type t
// unless empty) that was issued last: the latest notBefore, then the
// highest index.
func (s *Service) LatestValidCertificate(ctx context.Context, scope account.Scope, personID string, t Type) (*Certificate, error) {
	var certs []Certificate
	q := s.certificates(ctx).Where("person_id = ? AND account_id = ? AND environment = ? AND revoked_at IS NULL AND NOT disabled AND not_after > ?",
		personID, scope.AccountID, scope.Environment, s.now())
	if t != "" {
		q = q.Where("type = ?", t)
	}
	if err := q.Order("not_before DESC, idx DESC").Limit(1).Find(&certs).Error; err != nil {
		return nil, fmt.Errorf("latest valid certificate: %w", err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("person %s has no valid certificate: %w", personID, ErrCertificateNotFound)
	}
	return &certs[0], nil
}

// CertificateForSigning returns the certificate of person personID to sign
// with: the one at index, or the primary one when index is nil.
func (s *Service) CertificateForSigning(ctx context.Context, scope account.Scope, personID string, index *int) (*Certificate, error) {
	var c Certificate
	q := s.certificates(ctx).Where("person_id = ? AND account_id = ? AND environment = ?", personID, scope.AccountID, scope.Environment)
	if index != nil {
		q = q.Where("idx = ?", *index)
	} else {
		q = q.Where("is_primary")
	}
	err := q.Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if index != nil {
			return nil, fmt.Errorf("certificate index %d of person %s: %w", *index, personID, ErrCertificateNotFound)
		}
		return nil, fmt.Errorf("primary certificate of person %s: %w", personID, ErrCertificateNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get certificate: %w", err)
	}
	return &c, nil
}

// GetCertificateByNumber returns the certificate of scope with integer id n.
func (s *Service) GetCertificateByNumber(ctx context.Context, scope account.Scope, n int64) (*Certificate, error) {
	var c Certificate
	err := s.certificates(ctx).Where("number = ? AND account_id = ? AND environment = ?", n, scope.AccountID, scope.Environment).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("certificate %d: %w", n, ErrCertificateNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get certificate %d: %w", n, err)
	}
	return &c, nil
}

// SerialHex renders an integer serial number as the stored hex form.
func SerialHex(n *big.Int) string { return hex.EncodeToString(n.Bytes()) }
