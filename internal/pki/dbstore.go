package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/vellum-sign/vellum/internal/db"
)

// DBStore is the CertStore of a deployment: every instance's OCSP responder
// and CRL see the same issued and revoked certificates.
type DBStore struct{ db *db.DB }

// NewDBStore returns a CertStore over the pki_certificates table.
func NewDBStore(database *db.DB) *DBStore { return &DBStore{db: database} }

type certRow struct {
	Serial    string `gorm:"primaryKey"`
	Subject   string
	NotAfter  time.Time
	IssuedAt  time.Time
	RevokedAt *time.Time
	Reason    int
}

func (certRow) TableName() string { return "pki_certificates" }

func (r certRow) entry() Entry {
	serial, _ := new(big.Int).SetString(r.Serial, 16)
	e := Entry{Serial: serial, Subject: r.Subject, NotAfter: r.NotAfter, Reason: r.Reason}
	if r.RevokedAt != nil {
		e.RevokedAt = *r.RevokedAt
	}
	return e
}

// Record implements CertStore; recording a serial again keeps its state.
func (s *DBStore) Record(ctx context.Context, cert *x509.Certificate) error {
	row := certRow{Serial: cert.SerialNumber.Text(16), Subject: cert.Subject.String(),
		NotAfter: cert.NotAfter.UTC(), IssuedAt: time.Now().UTC()}
	if err := s.db.Conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return fmt.Errorf("record certificate %s: %w", row.Serial, err)
	}
	return nil
}

// Revoke implements CertStore.
func (s *DBStore) Revoke(ctx context.Context, serial *big.Int, reason int, at time.Time) error {
	at = at.UTC()
	res := s.db.Conn(ctx).Model(&certRow{}).Where("serial = ?", serial.Text(16)).
		Updates(map[string]any{"revoked_at": at, "reason": reason})
	if res.Error != nil {
		return fmt.Errorf("revoke certificate %s: %w", serial.Text(16), res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("revoke certificate %s: %w", serial.Text(16), ErrNotFound)
	}
	return nil
}

// Status implements CertStore.
func (s *DBStore) Status(ctx context.Context, serial *big.Int) (Entry, error) {
	var row certRow
	err := s.db.Conn(ctx).Where("serial = ?", serial.Text(16)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("certificate status %s: %w", serial.Text(16), err)
	}
	return row.entry(), nil
}

// Revoked implements CertStore.
func (s *DBStore) Revoked(ctx context.Context, now time.Time) ([]Entry, error) {
	var rows []certRow
	if err := s.db.Conn(ctx).Where("revoked_at IS NOT NULL AND not_after > ?", now.UTC()).Order("serial").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list revoked certificates: %w", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return out, nil
}
