// Package person holds the people of an account who hold long-lived
// certificates (RemSig's persons, Signex's portal users) and those
// certificates: issued by the platform CA, imported from PKCS #12 with their
// key, or linked (public part only). A held private key is encrypted at
// rest and usable only with its certificate's PIN; see keys.go.
package person

import (
	"errors"
	"fmt"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
)

// Errors. Not-found errors never say whether the object exists in another
// scope or belongs to another person.
var (
	ErrPersonNotFound      = errors.New("person not found")
	ErrCertificateNotFound = errors.New("certificate not found")
	ErrUniqueIDTaken       = errors.New("another person of this account already has this uniqueId")
	ErrEmailTaken          = errors.New("another person already uses this e-mail address")
	ErrCertificateExists   = errors.New("this certificate is already attached to a person of this account")
	ErrVersionMismatch     = errors.New("the object has changed since it was read (If-Match)")
	// ErrBadCredentials is the one answer to a failed portal login, whether
	// the address is unknown, the password wrong or the person disabled.
	ErrBadCredentials = errors.New("the e-mail address or password is wrong")
)

// Environment is re-exported for readability of the types below.
type Environment = account.Environment

// Person is someone (or a legal entity) of an account and environment who
// holds certificates. The portal password is stored only as an Argon2id
// hash.
type Person struct {
	ID string `gorm:"primaryKey"`
	// Number is the integer id RemSig's API shows, unique in the scope.
	Number      int64
	AccountID   string
	Environment Environment
	// UniqueID is the integrator's identifier (RemSig's personUniqueId),
	// unique in the scope.
	UniqueID string
	Email    string
	// EmailKey is the lower-cased address, unique across the deployment:
	// it is the portal login.
	EmailKey     string
	Name         string
	NationalID   string
	PasswordHash string
	Disabled     bool
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName maps Person to its table.
func (Person) TableName() string { return "persons" }

// Scope is the account and environment the person belongs to.
func (p *Person) Scope() account.Scope {
	return account.Scope{AccountID: p.AccountID, Environment: p.Environment}
}

// HasPassword reports whether the person can log in to the portal.
func (p *Person) HasPassword() bool { return p.PasswordHash != "" }

// Type is what a certificate is for.
type Type string

// Certificate types (RemSig's).
const (
	TypePersonal Type = "PERSONAL"
	TypeSeal     Type = "SEAL"
	TypeServer   Type = "SERVER"
)

// Types lists the certificate types.
var Types = []Type{TypePersonal, TypeSeal, TypeServer}

// Origin is how a certificate came to the person.
type Origin string

// Origins.
const (
	OriginIssued   Origin = "issued"   // by the platform CA, key generated here
	OriginImported Origin = "imported" // from PKCS #12, with its key
	OriginLinked   Origin = "linked"   // public certificate only
)

// Status is a certificate's state as shown to clients.
type Status string

// Statuses. Expired is computed from notAfter; disabled and revoked are
// stored.
const (
	StatusValid    Status = "valid"
	StatusExpired  Status = "expired"
	StatusRevoked  Status = "revoked"
	StatusDisabled Status = "disabled"
)

// MaxPINAttempts is how many wrong PINs in a row lock a certificate until
// its PIN is reset.
const MaxPINAttempts = 5

// Certificate is one of a person's certificates.
type Certificate struct {
	ID string `gorm:"primaryKey"`
	// Number is the integer id RemSig's API shows, unique in the scope.
	Number      int64
	AccountID   string
	Environment Environment
	PersonID    string
	// Index is RemSig's certificateIndex: 0, 1, 2… in order of arrival
	// per person, never reused.
	Index  int `gorm:"column:idx"`
	Type   Type
	Origin Origin
	// PlatformIssued: the platform CA issued it, so revocation is published
	// in its CRL and OCSP responses.
	PlatformIssued   bool
	IsPrimary        bool
	Disabled         bool
	RevokedAt        *time.Time
	RevocationReason int
	Template         string
	Algorithm        string
	SerialNumber     string // hex, lower case
	ThumbprintSHA1   string `gorm:"column:thumbprint_sha1"`
	ThumbprintSHA256 string `gorm:"column:thumbprint_sha256"`
	Subject          string
	Issuer           string
	NotBefore        time.Time
	NotAfter         time.Time
	DER              []byte `gorm:"column:der"`
	LinkedAt         time.Time
	FailedAttempts   int
	LockedAt         *time.Time
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// TableName maps Certificate to its table.
func (Certificate) TableName() string { return "person_certificates" }

// Status is the certificate's state at now: revoked and disabled win over
// expired, which wins over valid.
func (c *Certificate) Status(now time.Time) Status {
	switch {
	case c.RevokedAt != nil:
		return StatusRevoked
	case c.Disabled:
		return StatusDisabled
	case !now.Before(c.NotAfter):
		return StatusExpired
	}
	return StatusValid
}

// HasKey reports whether the platform holds the certificate's private key.
// Revocation destroys it.
func (c *Certificate) HasKey() bool { return c.Origin != OriginLinked && c.RevokedAt == nil }

// Locked reports whether wrong PINs have locked the key until a reset.
func (c *Certificate) Locked() bool { return c.LockedAt != nil }

// UnusableError says why a certificate's key cannot be used now.
type UnusableError struct {
	Status Status
}

func (e *UnusableError) Error() string {
	return fmt.Sprintf("the certificate is %s and cannot be used", e.Status)
}

// Unwrap makes every UnusableError match ErrCertificateUnusable.
func (e *UnusableError) Unwrap() error { return ErrCertificateUnusable }

// Errors of key use.
var (
	ErrCertificateUnusable = errors.New("certificate cannot be used")
	ErrNoKey               = errors.New("the platform holds no private key for this certificate (it was linked, or revoked)")
	ErrLocked              = fmt.Errorf("the certificate is locked after %d wrong PINs; its PIN must be reset", MaxPINAttempts)
	ErrWrongPIN            = errors.New("wrong PIN")
	// ErrKeysUnavailable means the deployment has no key-encryption key
	// configured, so no private key can be stored or used.
	ErrKeysUnavailable = errors.New("this deployment has no key-encryption key (VELLUM_KEK), so it cannot hold private keys")
)

// WrongPINError is a wrong PIN with the attempts left before the lock.
type WrongPINError struct{ Remaining int }

func (e *WrongPINError) Error() string {
	return fmt.Sprintf("wrong PIN; %d attempt(s) left before the certificate locks", e.Remaining)
}

// Unwrap makes every WrongPINError match ErrWrongPIN.
func (e *WrongPINError) Unwrap() error { return ErrWrongPIN }
