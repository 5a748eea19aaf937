package person

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/validation"
)

// Limits on a person's fields.
const (
	MaxUniqueIDLen   = 255
	MaxNameLen       = 200
	MaxNationalIDLen = 64
	MinPasswordLen   = 8
	MaxPasswordLen   = 256
)

// ErrPersonConflict is a uniqueId or e-mail address taken by a person
// created at the same moment.
var ErrPersonConflict = errors.New("another person with this uniqueId or e-mail address was just created")

// Config tunes the service.
type Config struct {
	// Argon2 is the cost of password and PIN hashing (default DefaultArgon2).
	Argon2 Argon2Params
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service manages persons, their certificates and the keys it holds for
// them.
type Service struct {
	db   *db.DB
	ca   *pki.PKI
	keys *Keyring
	hash *hasher
	now  func() time.Time
	// dummyHash is verified when a login names no usable person, so that
	// path costs what a wrong password costs.
	dummyHash   string
	keysChecked atomic.Bool
}

// NewService returns the person service. ca issues certificates; keys is
// nil when the deployment has no key-encryption key, and then every
// operation that stores or uses a private key fails with ErrKeysUnavailable.
func NewService(database *db.DB, ca *pki.PKI, keys *Keyring, cfg Config) (*Service, error) {
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if keys != nil && (keys.KEK == nil || keys.Recovery == nil) {
		return nil, errors.New("person: a keyring needs both the key-encryption key and the recovery key")
	}
	s := &Service{db: database, ca: ca, keys: keys, hash: newHasher(cfg.Argon2),
		now: func() time.Time { return cfg.Now().UTC() }}
	// The dummy hash is of a random password nobody knows, with the
	// parameters new hashes get.
	pw, salt := make([]byte, 16), make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return nil, err
	}
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	p := cfg.Argon2
	s.dummyHash = fmt.Sprintf("$argon2id$v=%d$%s$%s$%s", argon2.Version, p, b64.EncodeToString(salt),
		b64.EncodeToString(argon2.IDKey(pw, salt, p.Time, p.MemoryKiB, p.Threads, 32)))
	return s, nil
}

// CreateInput is a new person.
type CreateInput struct {
	UniqueID   string
	Email      string
	Name       string
	NationalID string
	Password   string // empty: no portal login
}

// Patch changes a person; nil fields are left alone. An empty NationalID
// or Password removes it.
type Patch struct {
	UniqueID   *string
	Email      *string
	Name       *string
	NationalID *string
	Password   *string
	Disabled   *bool
}

// Precondition is an If-Match check on a version; nil passes.
type Precondition func(version int) bool

// checkText refuses what no field may hold: invalid UTF-8, control
// characters (NUL above all, which PostgreSQL rejects) and surrounding
// whitespace.
func checkText(errs validation.Errors, field, s string, minLen, maxLen int) validation.Errors {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		return append(errs, validation.FieldError{Field: field, Reason: "must be valid UTF-8 text"})
	case n < minLen && minLen == 1:
		return append(errs, validation.FieldError{Field: field, Reason: "required: must not be empty"})
	case n < minLen:
		return append(errs, validation.FieldError{Field: field, Reason: fmt.Sprintf("must be at least %d characters", minLen)})
	case n > maxLen:
		return append(errs, validation.FieldError{Field: field, Reason: fmt.Sprintf("must be at most %d characters", maxLen)})
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return append(errs, validation.FieldError{Field: field, Reason: "must not contain control characters"})
	case strings.TrimSpace(s) != s:
		return append(errs, validation.FieldError{Field: field, Reason: "must not start or end with whitespace"})
	}
	return errs
}

func checkEmail(errs validation.Errors, field, s string) validation.Errors {
	before := len(errs)
	if errs = checkText(errs, field, s, 1, 254); len(errs) > before {
		return errs
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s || !strings.Contains(s, "@") {
		return append(errs, validation.FieldError{Field: field, Reason: fmt.Sprintf("%q is not a bare e-mail address such as ada@example.com", s)})
	}
	return errs
}

func checkNationalID(errs validation.Errors, field, s string) validation.Errors {
	if s == "" {
		return errs
	}
	if len(s) > MaxNationalIDLen || strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || strings.ContainsRune(" ./-", r))
	}) >= 0 || strings.TrimSpace(s) != s {
		return append(errs, validation.FieldError{Field: field,
			Reason: fmt.Sprintf("must be at most %d letters, digits, spaces, dots, slashes or hyphens (e.g. 123456789012 or IIN123456789012)", MaxNationalIDLen)})
	}
	return errs
}

func checkPassword(errs validation.Errors, field, s string) validation.Errors {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return append(errs, validation.FieldError{Field: field, Reason: "must be valid UTF-8 text without NUL characters"})
	case n < MinPasswordLen || n > MaxPasswordLen:
		return append(errs, validation.FieldError{Field: field, Reason: fmt.Sprintf("must be %d to %d characters", MinPasswordLen, MaxPasswordLen)})
	}
	return errs
}

func emailKey(email string) string { return strings.ToLower(email) }

func (s *Service) scoped(ctx context.Context, scope account.Scope) *gorm.DB {
	return s.db.Conn(ctx).Model(&Person{}).Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
}

// Create adds a person to scope.
func (s *Service) Create(ctx context.Context, scope account.Scope, in CreateInput) (*Person, error) {
	var errs validation.Errors
	errs = checkText(errs, "uniqueId", in.UniqueID, 1, MaxUniqueIDLen)
	errs = checkEmail(errs, "email", in.Email)
	errs = checkText(errs, "name", in.Name, 1, MaxNameLen)
	errs = checkNationalID(errs, "nationalId", in.NationalID)
	if in.Password != "" {
		errs = checkPassword(errs, "password", in.Password)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	p := &Person{ID: ident.New("per"), AccountID: scope.AccountID, Environment: scope.Environment,
		UniqueID: in.UniqueID, Email: in.Email, EmailKey: emailKey(in.Email), Name: in.Name,
		NationalID: in.NationalID, Version: 1}
	if in.Password != "" {
		h, err := s.hash.hash(ctx, in.Password)
		if err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
		p.PasswordHash = h
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.checkUnique(ctx, scope, "", p.UniqueID, p.EmailKey); err != nil {
			return err
		}
		n, err := s.db.Next(ctx, "person:"+scope.AccountID+":"+string(scope.Environment))
		if err != nil {
			return err
		}
		p.Number = n
		p.CreatedAt = s.now()
		p.UpdatedAt = p.CreatedAt
		if err := s.db.Conn(ctx).Create(p).Error; err != nil {
			if s.db.IsUniqueViolation(err) {
				return ErrPersonConflict
			}
			return fmt.Errorf("create person: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkUnique fails when another person (not id) has uniqueID in scope or
// the e-mail key anywhere.
func (s *Service) checkUnique(ctx context.Context, scope account.Scope, id, uniqueID, email string) error {
	var n int64
	if err := s.scoped(ctx, scope).Where("unique_id = ? AND id <> ?", uniqueID, id).Count(&n).Error; err != nil {
		return fmt.Errorf("check uniqueId: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("uniqueId %q: %w", uniqueID, ErrUniqueIDTaken)
	}
	if err := s.db.Conn(ctx).Model(&Person{}).Where("email_key = ? AND id <> ?", email, id).Count(&n).Error; err != nil {
		return fmt.Errorf("check e-mail: %w", err)
	}
	if n > 0 {
		return ErrEmailTaken
	}
	return nil
}

// Get returns person id of scope.
func (s *Service) Get(ctx context.Context, scope account.Scope, id string) (*Person, error) {
	return s.get(ctx, scope, id, false)
}

func (s *Service) get(ctx context.Context, scope account.Scope, id string, forUpdate bool) (*Person, error) {
	var p Person
	q := s.scoped(ctx, scope).Where("id = ?", id)
	if forUpdate {
		q = s.db.ForUpdate(q, false)
	}
	if err := q.Take(&p).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("person %s: %w", id, ErrPersonNotFound)
		}
		return nil, fmt.Errorf("get person %s: %w", id, err)
	}
	return &p, nil
}

// Lookup returns an enabled person by id in any scope: the subject of a
// portal session. A disabled or deleted person is ErrPersonNotFound.
func (s *Service) Lookup(ctx context.Context, id string) (*Person, error) {
	var p Person
	err := s.db.Conn(ctx).Where("id = ? AND NOT disabled", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("person %s: %w", id, ErrPersonNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("look up person %s: %w", id, err)
	}
	return &p, nil
}

var personColumns = map[string]string{"createdAt": "created_at", "updatedAt": "updated_at",
	"uniqueId": "unique_id", "email": "email_key", "name": "name"}

// SortFields are the fields persons can be sorted by.
var SortFields = []string{"createdAt", "updatedAt", "uniqueId", "email", "name"}

// Filter narrows a person list; empty fields match everything.
type Filter struct {
	UniqueID string
	Email    string // compared case-insensitively
}

// List returns one page of scope's persons.
func (s *Service) List(ctx context.Context, scope account.Scope, q listing.Query, f Filter) (listing.Page[Person], error) {
	base := s.scoped(ctx, scope)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	if f.UniqueID != "" {
		base = base.Where("unique_id = ?", f.UniqueID)
	}
	if f.Email != "" {
		base = base.Where("email_key = ?", emailKey(f.Email))
	}
	var page listing.Page[Person]
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count persons: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(personColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list persons: %w", err)
	}
	return page, nil
}

// Update applies p to person id of scope.
func (s *Service) Update(ctx context.Context, scope account.Scope, id string, patch Patch, match Precondition) (*Person, error) {
	var errs validation.Errors
	if patch.UniqueID != nil {
		errs = checkText(errs, "uniqueId", *patch.UniqueID, 1, MaxUniqueIDLen)
	}
	if patch.Email != nil {
		errs = checkEmail(errs, "email", *patch.Email)
	}
	if patch.Name != nil {
		errs = checkText(errs, "name", *patch.Name, 1, MaxNameLen)
	}
	if patch.NationalID != nil {
		errs = checkNationalID(errs, "nationalId", *patch.NationalID)
	}
	if patch.Password != nil && *patch.Password != "" {
		errs = checkPassword(errs, "password", *patch.Password)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var newHash string
	if patch.Password != nil && *patch.Password != "" {
		var err error
		if newHash, err = s.hash.hash(ctx, *patch.Password); err != nil {
			return nil, fmt.Errorf("hash password: %w", err)
		}
	}
	var p *Person
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if p, err = s.get(ctx, scope, id, true); err != nil {
			return err
		}
		if match != nil && !match(p.Version) {
			return fmt.Errorf("person %s is at version %d: %w", id, p.Version, ErrVersionMismatch)
		}
		if patch.UniqueID != nil {
			p.UniqueID = *patch.UniqueID
		}
		if patch.Email != nil {
			p.Email, p.EmailKey = *patch.Email, emailKey(*patch.Email)
		}
		if patch.Name != nil {
			p.Name = *patch.Name
		}
		if patch.NationalID != nil {
			p.NationalID = *patch.NationalID
		}
		if patch.Password != nil {
			p.PasswordHash = newHash
		}
		if patch.Disabled != nil {
			p.Disabled = *patch.Disabled
		}
		if err := s.checkUnique(ctx, scope, p.ID, p.UniqueID, p.EmailKey); err != nil {
			return err
		}
		p.Version++
		p.UpdatedAt = s.now()
		err = s.db.Conn(ctx).Model(&Person{}).Where("id = ?", p.ID).Updates(map[string]any{
			"unique_id": p.UniqueID, "email": p.Email, "email_key": p.EmailKey, "name": p.Name,
			"national_id": p.NationalID, "password_hash": p.PasswordHash, "disabled": p.Disabled,
			"version": p.Version, "updated_at": p.UpdatedAt,
		}).Error
		if s.db.IsUniqueViolation(err) {
			return ErrPersonConflict
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Delete removes a person with their certificates. Certificates the
// platform CA issued are revoked first (cessation of operation): their
// keys are destroyed with the row, and relying parties must learn that.
func (s *Service) Delete(ctx context.Context, scope account.Scope, id string, match Precondition) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		p, err := s.get(ctx, scope, id, true)
		if err != nil {
			return err
		}
		if match != nil && !match(p.Version) {
			return fmt.Errorf("person %s is at version %d: %w", id, p.Version, ErrVersionMismatch)
		}
		var certs []Certificate
		if err := s.certificates(ctx).Where("person_id = ? AND platform_issued AND revoked_at IS NULL", id).Find(&certs).Error; err != nil {
			return fmt.Errorf("delete person %s: %w", id, err)
		}
		for i := range certs {
			if err := s.revokeAtCA(ctx, &certs[i], ReasonCessationOfOperation); err != nil {
				return err
			}
		}
		if err := s.db.Conn(ctx).Where("id = ?", id).Delete(&Person{}).Error; err != nil {
			return fmt.Errorf("delete person %s: %w", id, err)
		}
		return nil
	})
}

// Authenticate checks a portal login. Unknown address, disabled person,
// person without a password and wrong password all take one Argon2id
// verification and end in ErrBadCredentials, so neither the answer nor
// the work done tells them apart.
func (s *Service) Authenticate(ctx context.Context, email, password string) (*Person, error) {
	var p Person
	err := s.db.Conn(ctx).Where("email_key = ?", emailKey(email)).Take(&p).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	usable := err == nil && !p.Disabled && p.PasswordHash != ""
	hash := s.dummyHash
	if usable {
		hash = p.PasswordHash
	}
	ok, verr := s.hash.verify(ctx, hash, password)
	if verr != nil {
		return nil, fmt.Errorf("authenticate: %w", verr)
	}
	if !usable || !ok {
		return nil, ErrBadCredentials
	}
	return &p, nil
}
