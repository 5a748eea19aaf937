package person

// Key protection. A held private key is encrypted with its own random data
// key (DEK, AES-256-GCM, bound to the certificate id). The DEK is stored
// twice, never in clear:
//
//	pin wrap:      KEK( AES-GCM_{Argon2id(PIN, salt)}( DEK ) )
//	recovery wrap: KEK( Recovery( DEK ) )
//
// Using the key takes the KEK and the PIN; resetting the PIN takes the KEK
// and the recovery key. A stolen database with the KEK opens neither, and
// the database alone cannot even be used to guess PINs offline: the PIN
// check is the inner layer, sealed under the KEK. The README's "Key
// protection" explains the choice.

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/validation"
)

// PIN length limits. Five tries against at least six characters leave a
// guesser one chance in 200,000 before the lock.
const (
	MinPINLen = 6
	MaxPINLen = 128
)

// ErrKeyringMismatch means a configured key does not open what was sealed
// under the deployment's key before: the wrong VELLUM_KEK (or recovery
// key, or PKCS #11 key) was configured.
var ErrKeyringMismatch = errors.New("the configured key-encryption key is not the one this database's private keys are sealed under")

// keyRecord is the key material of a certificate row.
type keyRecord struct {
	ID              string
	KeyCiphertext   []byte
	KeyPinWrap      []byte
	KeyRecoveryWrap []byte
	PinSalt         []byte
	PinParams       string
}

func (keyRecord) TableName() string { return "person_certificates" }

// keyColumns are the columns of keyRecord, written together.
func (k *keyRecord) columns() map[string]any {
	return map[string]any{"key_ciphertext": k.KeyCiphertext, "key_pin_wrap": k.KeyPinWrap,
		"key_recovery_wrap": k.KeyRecoveryWrap, "pin_salt": k.PinSalt, "pin_params": k.PinParams}
}

// keyRecords reads key material only.
func (s *Service) keyRecords(ctx context.Context) *gorm.DB {
	return s.db.Conn(ctx).Session(&gorm.Session{QueryFields: true}).Model(&keyRecord{})
}

// wiped is a keyRecord with no key: what revocation stores.
var wiped = keyRecord{}

// associated data: every sealed value is bound to its certificate and to
// its role, so no value can be moved to another row or slot.
func ad(role, certID string) []byte { return []byte("vellum/person-key/v1/" + role + "/" + certID) }

func sealGCM(key, plaintext, aad []byte) ([]byte, error) {
	k, err := newAESKey(key)
	if err != nil {
		return nil, err
	}
	return k.Seal(plaintext, aad)
}

func openGCM(key, sealed, aad []byte) ([]byte, error) {
	k, err := newAESKey(key)
	if err != nil {
		return nil, err
	}
	return k.Open(sealed, aad)
}

func checkPIN(errs validation.Errors, field, pin string) validation.Errors {
	n := utf8.RuneCountInString(pin)
	switch {
	case !utf8.ValidString(pin) || containsNUL(pin):
		return append(errs, validation.FieldError{Field: field, Reason: "must be valid UTF-8 text without NUL characters"})
	case n < MinPINLen || n > MaxPINLen:
		return append(errs, validation.FieldError{Field: field,
			Reason: fmt.Sprintf("the certificate's password (PIN) must be %d to %d characters", MinPINLen, MaxPINLen)})
	}
	return errs
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// protect encrypts key for certificate certID under pin and the keyring.
func (s *Service) protect(ctx context.Context, certID string, key crypto.Signer, pin string) (*keyRecord, error) {
	if s.keys == nil {
		return nil, ErrKeysUnavailable
	}
	if err := s.ensureKeyChecks(ctx); err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("protect key: %w", err)
	}
	defer clear(pkcs8)
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return nil, fmt.Errorf("protect key: %w", err)
	}
	defer clear(dek)
	rec := &keyRecord{ID: certID}
	if rec.KeyCiphertext, err = sealGCM(dek, pkcs8, ad("key", certID)); err != nil {
		return nil, fmt.Errorf("protect key: %w", err)
	}
	if err := s.wrapForPIN(ctx, rec, dek, pin); err != nil {
		return nil, err
	}
	inner, err := s.keys.Recovery.Seal(dek, ad("recovery", certID))
	if err != nil {
		return nil, fmt.Errorf("protect key: recovery wrap: %w", err)
	}
	if rec.KeyRecoveryWrap, err = s.keys.KEK.Seal(inner, ad("kek-recovery", certID)); err != nil {
		return nil, fmt.Errorf("protect key: recovery wrap: %w", err)
	}
	return rec, nil
}

// wrapForPIN sets rec's PIN wrap of dek, with a new salt.
func (s *Service) wrapForPIN(ctx context.Context, rec *keyRecord, dek []byte, pin string) error {
	salt, err := newSalt()
	if err != nil {
		return err
	}
	pinKey, err := s.hash.derive(ctx, []byte(pin), salt, s.hash.params)
	if err != nil {
		return fmt.Errorf("derive PIN key: %w", err)
	}
	defer clear(pinKey)
	inner, err := sealGCM(pinKey, dek, ad("pin", rec.ID))
	if err != nil {
		return fmt.Errorf("PIN wrap: %w", err)
	}
	if rec.KeyPinWrap, err = s.keys.KEK.Seal(inner, ad("kek", rec.ID)); err != nil {
		return fmt.Errorf("PIN wrap: %w", err)
	}
	rec.PinSalt, rec.PinParams = salt, s.hash.params.String()
	return nil
}

// openWithPIN returns the DEK, or wrong=true when the PIN does not open
// it. Any other failure (the KEK) is an error and not the person's fault.
func (s *Service) openWithPIN(ctx context.Context, rec *keyRecord, pin string) (dek []byte, wrong bool, err error) {
	params, err := parseArgon2Params(rec.PinParams)
	if err != nil {
		return nil, false, err
	}
	inner, err := s.keys.KEK.Open(rec.KeyPinWrap, ad("kek", rec.ID))
	if err != nil {
		return nil, false, fmt.Errorf("open PIN wrap of %s: %w: %w", rec.ID, ErrKeyringMismatch, err)
	}
	pinKey, err := s.hash.derive(ctx, []byte(pin), rec.PinSalt, params)
	if err != nil {
		return nil, false, err
	}
	defer clear(pinKey)
	dek, err = openGCM(pinKey, inner, ad("pin", rec.ID))
	if err != nil {
		return nil, true, nil
	}
	return dek, false, nil
}

// openWithRecovery returns the DEK through the recovery wrap.
func (s *Service) openWithRecovery(rec *keyRecord) ([]byte, error) {
	inner, err := s.keys.KEK.Open(rec.KeyRecoveryWrap, ad("kek-recovery", rec.ID))
	if err != nil {
		return nil, fmt.Errorf("open recovery wrap of %s: %w: %w", rec.ID, ErrKeyringMismatch, err)
	}
	dek, err := s.keys.Recovery.Open(inner, ad("recovery", rec.ID))
	if err != nil {
		return nil, fmt.Errorf("open recovery wrap of %s: %w: %w", rec.ID, ErrKeyringMismatch, err)
	}
	return dek, nil
}

// decryptKey opens the private key with its DEK.
func decryptKey(rec *keyRecord, dek []byte) (crypto.Signer, error) {
	pkcs8, err := openGCM(dek, rec.KeyCiphertext, ad("key", rec.ID))
	if err != nil {
		return nil, fmt.Errorf("decrypt key of %s: %w", rec.ID, err)
	}
	defer clear(pkcs8)
	k, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("decrypt key of %s: %w", rec.ID, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("decrypt key of %s: %T cannot sign", rec.ID, k)
	}
	return signer, nil
}

// checkValue is what the key checks seal.
var checkValue = []byte("vellum key-encryption check v1")

// ensureKeyChecks makes sure the configured keys are the ones this
// database's keys are sealed under, recording them when it holds none yet.
func (s *Service) ensureKeyChecks(ctx context.Context) error {
	if s.keysChecked.Load() {
		return nil
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		for _, k := range []struct {
			purpose string
			key     KEK
		}{{"use", s.keys.KEK}, {"recovery", s.keys.Recovery}} {
			var row struct{ Sealed []byte }
			err := s.db.Conn(ctx).Table("key_encryption_checks").Select("sealed").Where("purpose = ?", k.purpose).Take(&row).Error
			switch {
			case errors.Is(err, gorm.ErrRecordNotFound):
				sealed, err := k.key.Seal(checkValue, ad("check", k.purpose))
				if err != nil {
					return err
				}
				if err := s.db.Conn(ctx).Exec("INSERT INTO key_encryption_checks (purpose, sealed, created_at) VALUES (?, ?, ?)",
					k.purpose, sealed, s.now()).Error; err != nil {
					return fmt.Errorf("record key check: %w", err)
				}
			case err != nil:
				return fmt.Errorf("read key check: %w", err)
			default:
				if _, err := k.key.Open(row.Sealed, ad("check", k.purpose)); err != nil {
					return fmt.Errorf("%s key: %w", k.purpose, ErrKeyringMismatch)
				}
			}
		}
		return nil
	})
	if err == nil {
		s.keysChecked.Store(true)
	}
	return err
}

// CheckKeys is the start-up check of serve, worker and dev: without a
// keyring, the database must hold no private keys; with one, the keys must
// be those the database's keys are sealed under. The error names what to
// configure.
func (s *Service) CheckKeys(ctx context.Context) error {
	if s.keys == nil {
		var n int64
		if err := s.db.Conn(ctx).Model(&Certificate{}).Where("key_pin_wrap IS NOT NULL").Count(&n).Error; err != nil {
			return fmt.Errorf("count stored private keys: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("the database holds %d encrypted private key(s) of persons' certificates, but no key-encryption key is configured: "+
				"set VELLUM_KEK and VELLUM_KEK_RECOVERY (or VELLUM_KEK_PKCS11_LABEL and VELLUM_KEK_RECOVERY_PKCS11_LABEL) to the keys they were sealed under", n)
		}
		return nil
	}
	var n int64
	if err := s.db.Conn(ctx).Table("key_encryption_checks").Count(&n).Error; err != nil {
		return fmt.Errorf("read key checks: %w", err)
	}
	if n == 0 {
		return nil // recorded with the first key
	}
	if err := s.ensureKeyChecks(ctx); err != nil {
		return fmt.Errorf("VELLUM_KEK / VELLUM_KEK_RECOVERY: %w", err)
	}
	return nil
}

// Unlocked is a certificate whose private key has been opened with its
// PIN, for the signatures of one request or one batch. Drop it when done:
// the key lives only in this value.
type Unlocked struct {
	Certificate *Certificate
	X509        *x509.Certificate
	Signer      crypto.Signer
}

// loadForKeyUse locks the certificate row and checks the key may be used.
func (s *Service) loadForKeyUse(ctx context.Context, scope account.Scope, certID string) (*Certificate, *keyRecord, error) {
	c, err := s.getCertificate(ctx, scope, "", certID, true)
	if err != nil {
		return nil, nil, err
	}
	if st := c.Status(s.now()); st != StatusValid {
		return nil, nil, fmt.Errorf("certificate %s: %w", certID, &UnusableError{Status: st})
	}
	if !c.HasKey() {
		return nil, nil, fmt.Errorf("certificate %s: %w", certID, ErrNoKey)
	}
	var rec keyRecord
	if err := s.keyRecords(ctx).Where("id = ?", certID).Take(&rec).Error; err != nil {
		return nil, nil, fmt.Errorf("read key of %s: %w", certID, err)
	}
	return c, &rec, nil
}

// Unlock opens certificate certID's private key with its PIN. A wrong PIN
// counts; the fifth wrong PIN in a row locks the certificate (ErrLocked)
// until ResetPIN.
func (s *Service) Unlock(ctx context.Context, scope account.Scope, certID, pin string) (*Unlocked, error) {
	var out *Unlocked
	err := s.withPIN(ctx, scope, certID, pin, func(c *Certificate, rec *keyRecord, dek []byte) error {
		signer, err := decryptKey(rec, dek)
		if err != nil {
			return err
		}
		x, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return fmt.Errorf("parse certificate %s: %w", certID, err)
		}
		out = &Unlocked{Certificate: c, X509: x, Signer: signer}
		return nil
	})
	return out, err
}

// withPIN checks pin against certificate certID and hands the opened DEK
// to use, which must not keep it. Attempts on one certificate are
// serialised by a row lock, so parallel guesses cannot outrun the count.
func (s *Service) withPIN(ctx context.Context, scope account.Scope, certID, pin string,
	use func(c *Certificate, rec *keyRecord, dek []byte) error) error {
	if s.keys == nil {
		return ErrKeysUnavailable
	}
	var wrong *WrongPINError
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		c, rec, err := s.loadForKeyUse(ctx, scope, certID)
		if err != nil {
			return err
		}
		if c.Locked() {
			return fmt.Errorf("certificate %s: %w", certID, ErrLocked)
		}
		dek, bad, err := s.openWithPIN(ctx, rec, pin)
		if err != nil {
			return err
		}
		now := s.now()
		if bad {
			c.FailedAttempts++
			upd := map[string]any{"failed_attempts": c.FailedAttempts, "updated_at": now}
			if c.FailedAttempts >= MaxPINAttempts {
				upd["locked_at"] = now
			}
			wrong = &WrongPINError{Remaining: max(MaxPINAttempts-c.FailedAttempts, 0)}
			// Committed although the call fails: the attempt must count.
			return s.db.Conn(ctx).Model(&Certificate{}).Where("id = ?", certID).Updates(upd).Error
		}
		defer clear(dek)
		if c.FailedAttempts > 0 {
			if err := s.db.Conn(ctx).Model(&Certificate{}).Where("id = ?", certID).
				Updates(map[string]any{"failed_attempts": 0, "updated_at": now}).Error; err != nil {
				return err
			}
			c.FailedAttempts = 0
		}
		return use(c, rec, dek)
	})
	switch {
	case err != nil:
		return err
	case wrong != nil && wrong.Remaining == 0:
		return fmt.Errorf("certificate %s: %w", certID, ErrLocked)
	case wrong != nil:
		return fmt.Errorf("certificate %s: %w", certID, wrong)
	}
	return nil
}

// ResetPIN sets a new PIN without the old one, through the recovery wrap,
// and lifts a lock: RemSig's reset-password. The key stays the same.
func (s *Service) ResetPIN(ctx context.Context, scope account.Scope, certID, newPIN string) (*Certificate, error) {
	if errs := checkPIN(nil, "password", newPIN); len(errs) > 0 {
		return nil, errs
	}
	if s.keys == nil {
		return nil, ErrKeysUnavailable
	}
	var c *Certificate
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.getCertificate(ctx, scope, "", certID, true); err != nil {
			return err
		}
		if !c.HasKey() {
			return fmt.Errorf("certificate %s: %w", certID, ErrNoKey)
		}
		var rec keyRecord
		if err := s.keyRecords(ctx).Where("id = ?", certID).Take(&rec).Error; err != nil {
			return fmt.Errorf("read key of %s: %w", certID, err)
		}
		dek, err := s.openWithRecovery(&rec)
		if err != nil {
			return err
		}
		defer clear(dek)
		if err := s.wrapForPIN(ctx, &rec, dek, newPIN); err != nil {
			return err
		}
		c.FailedAttempts, c.LockedAt, c.UpdatedAt = 0, nil, s.now()
		c.Version++
		return s.db.Conn(ctx).Model(&Certificate{}).Where("id = ?", certID).Updates(map[string]any{
			"key_pin_wrap": rec.KeyPinWrap, "pin_salt": rec.PinSalt, "pin_params": rec.PinParams,
			"failed_attempts": 0, "locked_at": nil, "version": c.Version, "updated_at": c.UpdatedAt,
		}).Error
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Grant is a PIN entry turned into a time-limited authorisation to use one
// certificate's key, for work done later or elsewhere (a RemSig batch that
// a worker signs after the person entered the PIN on a page served by the
// API). It holds the DEK sealed under the KEK and bound to the certificate
// and the expiry: keep it with the work and delete it when the work ends.
type Grant struct {
	CertificateID string
	ExpiresAt     time.Time
	Sealed        []byte
}

// MaxGrantLifetime bounds how long a PIN entry authorises a batch.
const MaxGrantLifetime = 24 * time.Hour

func grantAD(certID string, expires time.Time) []byte {
	return ad("grant/"+strconv.FormatInt(expires.Unix(), 10), certID)
}

// Authorize checks the PIN as Unlock does (a wrong one counts toward the
// lock) and returns a Grant valid for ttl.
func (s *Service) Authorize(ctx context.Context, scope account.Scope, certID, pin string, ttl time.Duration) (*Grant, error) {
	if ttl <= 0 || ttl > MaxGrantLifetime {
		return nil, fmt.Errorf("authorize %s: lifetime %s outside (0, %s]", certID, ttl, MaxGrantLifetime)
	}
	var g *Grant
	err := s.withPIN(ctx, scope, certID, pin, func(c *Certificate, _ *keyRecord, dek []byte) error {
		g = &Grant{CertificateID: c.ID, ExpiresAt: s.now().Add(ttl).Truncate(time.Second)}
		var err error
		g.Sealed, err = s.keys.KEK.Seal(dek, grantAD(c.ID, g.ExpiresAt))
		return err
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// SealSecret seals a secret that pending work must keep until it runs (a
// signing task's timestamp server password, its data source's credentials)
// under the key-encryption key that seals grants, bound to what and id so
// the sealed value cannot be moved to another row. Nothing else can open it.
func (s *Service) SealSecret(what, id string, plaintext []byte) ([]byte, error) {
	if s.keys == nil {
		return nil, ErrKeysUnavailable
	}
	out, err := s.keys.KEK.Seal(plaintext, ad("secret/"+what, id))
	if err != nil {
		return nil, fmt.Errorf("seal %s of %s: %w", what, id, err)
	}
	return out, nil
}

// OpenSecret opens what SealSecret sealed for the same what and id.
func (s *Service) OpenSecret(what, id string, sealed []byte) ([]byte, error) {
	if s.keys == nil {
		return nil, ErrKeysUnavailable
	}
	out, err := s.keys.KEK.Open(sealed, ad("secret/"+what, id))
	if err != nil {
		return nil, fmt.Errorf("open %s of %s: %w", what, id, err)
	}
	return out, nil
}

// ErrGrantExpired means a Grant's time is up; the person must enter the
// PIN again.
var ErrGrantExpired = errors.New("the authorisation to use the key has expired")

// UnlockGrant opens the key a Grant authorises, if the certificate is
// still usable and the grant has not expired.
func (s *Service) UnlockGrant(ctx context.Context, scope account.Scope, g *Grant) (*Unlocked, error) {
	if s.keys == nil {
		return nil, ErrKeysUnavailable
	}
	if !s.now().Before(g.ExpiresAt) {
		return nil, ErrGrantExpired
	}
	c, rec, err := s.loadForKeyUse(ctx, scope, g.CertificateID)
	if err != nil {
		return nil, err
	}
	if c.Locked() {
		return nil, fmt.Errorf("certificate %s: %w", c.ID, ErrLocked)
	}
	dek, err := s.keys.KEK.Open(g.Sealed, grantAD(g.CertificateID, g.ExpiresAt))
	if err != nil {
		return nil, fmt.Errorf("grant for %s: %w", g.CertificateID, ErrGrantExpired)
	}
	defer clear(dek)
	signer, err := decryptKey(rec, dek)
	if err != nil {
		return nil, err
	}
	x, err := x509.ParseCertificate(c.DER)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %s: %w", c.ID, err)
	}
	return &Unlocked{Certificate: c, X509: x, Signer: signer}, nil
}
