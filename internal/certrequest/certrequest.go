// Package certrequest keeps RemSig's PostSignum personal certificate
// requests: a manager files one for a person, approves or denies it, and an
// approved one is fulfilled by a certificate authority behind Fulfiller —
// the platform CA today, a PostSignum connector where one is configured —
// whose certificate is imported to the person.
package certrequest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/listing"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/validation"
)

// State is where a request is.
type State string

// A request's states, as RemSig spells them.
const (
	StateProcessing State = "PROCESSING"
	StateImported   State = "IMPORTED"
	StateExpired    State = "EXPIRED"
	StateFailed     State = "FAILED"
)

// Gender is the applicant's gender, as RemSig answers it.
type Gender string

// The genders.
const (
	GenderMale   Gender = "MALE"
	GenderFemale Gender = "FEMALE"
)

// Lifetimes RemSig gives a request: it expires unapproved after two weeks
// and is deleted after four.
const (
	Lifetime       = 14 * 24 * time.Hour
	DeletionPeriod = 28 * 24 * time.Hour
)

// Errors of the state machine.
var (
	ErrNotFound        = errors.New("certificate request not found")
	ErrAlreadyApproved = errors.New("the certificate request has already been approved")
	ErrAlreadyDenied   = errors.New("the certificate request has already been denied")
	ErrExpired         = errors.New("the certificate request has expired")
	// ErrFulfilment is what a failed CA answer wraps.
	ErrFulfilment = errors.New("the certificate authority did not fulfil the request")
)

// Request is one PostSignum personal certificate request.
type Request struct {
	ID                    string `gorm:"primaryKey"`
	Number                int64
	AccountID             string
	Environment           account.Environment
	PersonID              string
	UUID                  string `gorm:"column:uuid"`
	DegreeBefore          *string
	DegreeAfter           *string
	FirstName             string
	LastName              string
	BirthNumber           string
	Gender                *Gender
	InsertMPSV            bool   `gorm:"column:insert_mpsv"`
	EmailsJSON            string `gorm:"column:emails"`
	Position              *string
	Workplace             *string
	Country               string
	MultiYear             bool
	OrganizationUnitID    *int64
	RedirectSuccess       *string
	RedirectCancel        *string
	RedirectError         *string
	ExternalCertificate   *string
	SubsequentForID       *string
	Message               *string
	MessageSigned         *string
	State                 State
	ApprovedAt            *time.Time
	DeniedAt              *time.Time
	CARequestID           *string `gorm:"column:ca_request_id"`
	ImportedCertificateID *string
	CSR                   *string `gorm:"column:csr"`
	SubjectKey            *string
	ExpiresAt             time.Time
	DeleteAfter           time.Time
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// TableName maps Request to its table.
func (Request) TableName() string { return "postsignum_requests" }

// Emails are the request's addresses.
func (r *Request) Emails() []string {
	var out []string
	_ = json.Unmarshal([]byte(r.EmailsJSON), &out)
	return out
}

// StateAt is the request's state at now: an unapproved request past its
// expiry is EXPIRED.
func (r *Request) StateAt(now time.Time) State {
	if r.State == StateProcessing && r.ApprovedAt == nil && !now.Before(r.ExpiresAt) {
		return StateExpired
	}
	return r.State
}

// Fulfilment is what a certificate authority answered for an approved
// request.
type Fulfilment struct {
	// CARequestID is the CA's id for the request (PostSignum's request id).
	CARequestID string
	// CertificateID is the person's certificate the CA issued, imported.
	CertificateID string
	// CSR is the PKCS #10 request (PEM) the CA was sent.
	CSR string
	// SubjectKey is the hex key identifier of the certificate's key.
	SubjectKey string
}

// Fulfiller has a certificate authority issue the certificate of an
// approved request and import it to the request's person. A PostSignum
// connector implements it by sending the request's attributes and a
// PKCS #10 request to PostSignum and importing the certificate it returns;
// the person then sets the key's password at the request's redirectUrl,
// whose token is the request's uuid.
type Fulfiller interface {
	Fulfil(ctx context.Context, scope account.Scope, r *Request) (*Fulfilment, error)
}

// PlatformCA fulfils requests with the platform CA: a key generated here,
// sealed under a random password nobody keeps, and the request's link (its
// uuid) opened for the person to set their own.
type PlatformCA struct {
	Persons *person.Service
}

// Fulfil issues the certificate.
func (f PlatformCA) Fulfil(ctx context.Context, scope account.Scope, r *Request) (*Fulfilment, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	pin := hex.EncodeToString(b)
	validity, err := r.Validity(f.Persons.MaxValidity())
	if err != nil {
		return nil, err
	}
	c, err := f.Persons.IssueCertificate(ctx, scope, r.PersonID, person.IssueInput{Type: person.TypePersonal, PIN: pin,
		Validity: validity, Name: r.CommonName(), Names: r.SubjectNames()})
	if err != nil {
		return nil, err
	}
	// The request the CA would have been sent, signed with the new key.
	u, err := f.Persons.Unlock(ctx, scope, c.ID, pin)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: u.X509.Subject,
		EmailAddresses: r.Emails()}, u.Signer)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	if _, err := f.Persons.NewPINResetWithToken(ctx, scope, c.ID, r.UUID, person.PINReset{
		RedirectSuccess: deref(r.RedirectSuccess), RedirectCancel: deref(r.RedirectCancel), RedirectError: deref(r.RedirectError)}); err != nil {
		return nil, err
	}
	return &Fulfilment{CARequestID: "VELLUM-" + r.UUID, CertificateID: c.ID,
		CSR:        string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		SubjectKey: hex.EncodeToString(u.X509.SubjectKeyId)}, nil
}

// Validities of issued certificates: PostSignum's usual one year, and
// with multiYear ("povolit_vicelety_cert") a multi-year certificate of
// three years.
const (
	OneYear   = 365 * 24 * time.Hour
	MultiYear = 3 * OneYear
)

// Validity is how long the certificate of r is valid: MultiYear when it
// asks for a multi-year certificate, else OneYear. A CA that cannot issue
// that long (max, its own expiry) refuses rather than issue less than was
// asked.
func (r *Request) Validity(max time.Duration) (time.Duration, error) {
	v := OneYear
	if r.MultiYear {
		v = MultiYear
	}
	if v > max {
		return 0, fmt.Errorf("%w: the CA can issue certificates valid for at most %d days, the request asks for %d",
			ErrFulfilment, int(max.Hours()/24), int(v.Hours()/24))
	}
	return v, nil
}

// CommonName is the certificate's commonName as PostSignum writes it:
// the degrees before, the first and last name, and the degrees after
// behind a comma ("Ing. Jana Nováková, Ph.D."); without the degrees when
// that is over the 64 characters a commonName holds.
func (r *Request) CommonName() string {
	name := r.FirstName + " " + r.LastName
	full := name
	if d := deref(r.DegreeBefore); d != "" {
		full = d + " " + full
	}
	if d := deref(r.DegreeAfter); d != "" {
		full += ", " + d
	}
	if utf8.RuneCountInString(full) <= 64 {
		return full
	}
	return name
}

// SubjectNames are the certificate's name attributes from the request's
// fields (zadatel_jmeno, zadatel_prijmeni, udaj_funkce, udaj_ou2,
// zadatel_stat and the first three of udaj_e_mail1..3), not the person's
// stored name.
func (r *Request) SubjectNames() *pki.SubjectNames {
	emails := r.Emails()
	if len(emails) > pki.MaxEmails {
		emails = emails[:pki.MaxEmails]
	}
	return &pki.SubjectNames{GivenName: r.FirstName, Surname: r.LastName, Title: deref(r.Position),
		Unit: deref(r.Workplace), Country: r.Country, Emails: emails}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Service files and decides requests.
type Service struct {
	db      *db.DB
	persons *person.Service
	ca      Fulfiller
	now     func() time.Time
}

// NewService returns the service; ca fulfils approved requests. now is
// the clock (nil: time.Now).
func NewService(database *db.DB, persons *person.Service, ca Fulfiller, now ...func() time.Time) *Service {
	s := &Service{db: database, persons: persons, ca: ca, now: time.Now}
	if len(now) > 0 && now[0] != nil {
		s.now = now[0]
	}
	return s
}

// CreateInput is a new request as RemSig's API gives it.
type CreateInput struct {
	PersonUniqueID      *string
	DegreeBefore        *string
	DegreeAfter         *string
	FirstName           *string
	LastName            *string
	BirthNumber         *string
	Gender              *string
	InsertMPSV          *bool
	Emails              []string
	Position            *string
	Workplace           *string
	Country             *string
	MultiYear           *bool
	OrganizationUnitID  *int64
	RedirectSuccess     *string
	RedirectError       *string
	RedirectCancel      *string
	CertificateIndex    *int
	ExternalCertificate *string
	SubsequentRequest   *bool
}

// birthNumber is RemSig's rule for zadatel_rc: a birth number's digits or
// a date of birth as dd.mm.YYYY.
var birthNumber = regexp.MustCompile(`^([0-9]+|\d{2}\.\d{2}\.\d{4})$`)

var country = regexp.MustCompile(`^[A-Z]{2}$`)

// Limits on text fields.
const (
	maxText   = 200
	maxEmails = 10
)

func checkText(errs validation.Errors, field string, s *string, required bool) validation.Errors {
	if s == nil || *s == "" {
		if required {
			return append(errs, validation.FieldError{Field: field, Reason: "required"})
		}
		return errs
	}
	if why := validation.CheckText(*s, validation.Line); why != "" {
		return append(errs, validation.FieldError{Field: field, Reason: why})
	}
	if len([]rune(*s)) > maxText {
		return append(errs, validation.FieldError{Field: field, Reason: fmt.Sprintf("must be at most %d characters", maxText)})
	}
	return errs
}

func redirectOK(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && len(v) <= 2048
}

// parseGender accepts RemSig's spellings: male, female, m, f in any case.
func parseGender(s string) (Gender, bool) {
	switch strings.ToLower(s) {
	case "male", "m":
		return GenderMale, true
	case "female", "f":
		return GenderFemale, true
	}
	return "", false
}

// validate checks in and builds the request's fields (not its ids).
func validate(in CreateInput) (*Request, validation.Errors) {
	var errs validation.Errors
	errs = checkText(errs, "personUniqueId", in.PersonUniqueID, true)
	errs = checkText(errs, "degreeBefore", in.DegreeBefore, false)
	errs = checkText(errs, "degreeAfter", in.DegreeAfter, false)
	errs = checkText(errs, "firstName", in.FirstName, true)
	errs = checkText(errs, "lastName", in.LastName, true)
	errs = checkText(errs, "position", in.Position, false)
	errs = checkText(errs, "workplace", in.Workplace, false)
	r := &Request{DegreeBefore: in.DegreeBefore, DegreeAfter: in.DegreeAfter, Position: in.Position, Workplace: in.Workplace,
		OrganizationUnitID: in.OrganizationUnitID}
	if in.FirstName != nil {
		r.FirstName = *in.FirstName
	}
	if in.LastName != nil {
		r.LastName = *in.LastName
	}
	switch {
	case in.BirthNumber == nil || *in.BirthNumber == "":
		errs = append(errs, validation.FieldError{Field: "birthCertificateNumber", Reason: "required"})
	case len(*in.BirthNumber) > 32 || !birthNumber.MatchString(*in.BirthNumber):
		errs = append(errs, validation.FieldError{Field: "birthCertificateNumber",
			Reason: "must be the birth number's digits or the date of birth as dd.mm.YYYY (^([0-9]+|\\d{2}.\\d{2}.\\d{4})$, at most 32 characters)"})
	default:
		r.BirthNumber = *in.BirthNumber
	}
	if in.Country == nil || *in.Country == "" {
		errs = append(errs, validation.FieldError{Field: "country", Reason: "required"})
	} else if c := strings.ToUpper(*in.Country); !country.MatchString(c) {
		errs = append(errs, validation.FieldError{Field: "country", Reason: "must be an ISO 3166-1 alpha-2 code such as CZ"})
	} else {
		r.Country = c
	}
	if in.Gender != nil && *in.Gender != "" {
		if g, ok := parseGender(*in.Gender); ok {
			r.Gender = &g
		} else {
			errs = append(errs, validation.FieldError{Field: "gender", Reason: `must be valid gender: "male", "female", "m" or "f"`})
		}
	} else if r.Country != "" && r.Country != "CZ" {
		errs = append(errs, validation.FieldError{Field: "gender", Reason: "required when country is other than CZ"})
	}
	if in.InsertMPSV != nil {
		r.InsertMPSV = *in.InsertMPSV
	}
	if in.MultiYear != nil {
		r.MultiYear = *in.MultiYear
	}
	switch {
	case len(in.Emails) == 0:
		errs = append(errs, validation.FieldError{Field: "emails", Reason: "required: at least one address"})
	case len(in.Emails) > maxEmails:
		errs = append(errs, validation.FieldError{Field: "emails", Reason: fmt.Sprintf("at most %d addresses", maxEmails)})
	default:
		for i, e := range in.Emails {
			if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > 254 {
				errs = append(errs, validation.FieldError{Field: fmt.Sprintf("emails[%d]", i), Reason: "must be an e-mail address"})
			}
		}
		b, _ := json.Marshal(in.Emails)
		r.EmailsJSON = string(b)
	}
	if in.OrganizationUnitID != nil && *in.OrganizationUnitID < 1 {
		errs = append(errs, validation.FieldError{Field: "organizationUnitId", Reason: "must be a positive integer"})
	}
	for _, v := range []struct {
		name string
		val  *string
		dst  **string
	}{{"redirects.success", in.RedirectSuccess, &r.RedirectSuccess}, {"redirects.error", in.RedirectError, &r.RedirectError},
		{"redirects.cancel", in.RedirectCancel, &r.RedirectCancel}} {
		if v.val == nil || *v.val == "" {
			continue
		}
		if !redirectOK(*v.val) {
			errs = append(errs, validation.FieldError{Field: v.name, Reason: "must be an absolute http(s) URL of at most 2048 characters"})
		}
		*v.dst = v.val
	}
	if in.CertificateIndex != nil && in.ExternalCertificate != nil && *in.ExternalCertificate != "" {
		errs = append(errs, validation.FieldError{Field: "externalCertificate", Reason: "give certificateIndex or externalCertificate, not both"})
	}
	if in.CertificateIndex != nil && *in.CertificateIndex < 0 {
		errs = append(errs, validation.FieldError{Field: "certificateIndex", Reason: "must be a non-negative integer"})
	}
	if e := in.ExternalCertificate; e != nil && *e != "" {
		if _, err := parseExternal(*e); err != nil {
			errs = append(errs, validation.FieldError{Field: "externalCertificate", Reason: "must be valid X509 certificate in PEM or DER format"})
		} else {
			r.ExternalCertificate = e
		}
	}
	subsequent := in.CertificateIndex != nil || r.ExternalCertificate != nil
	if in.SubsequentRequest != nil && *in.SubsequentRequest != subsequent {
		errs = append(errs, validation.FieldError{Field: "subsequentRequest",
			Reason: "a subsequent request gives certificateIndex or externalCertificate; a new one gives neither"})
	}
	return r, errs
}

// parseExternal reads a PEM certificate, or DER given as base64.
func parseExternal(s string) (*x509.Certificate, error) {
	if strings.Contains(s, "-----BEGIN") {
		return person.ParseCertificate([]byte(s))
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	return person.ParseCertificate(der)
}

func (s *Service) scoped(ctx context.Context, scope account.Scope) *gorm.DB {
	return s.db.Conn(ctx).Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
}

// Create files a request for the person in.PersonUniqueID.
func (s *Service) Create(ctx context.Context, scope account.Scope, in CreateInput) (*Request, error) {
	r, errs := validate(in)
	if len(errs) > 0 {
		return nil, errs
	}
	p, err := s.persons.GetByUniqueID(ctx, scope, *in.PersonUniqueID)
	if err != nil {
		return nil, err
	}
	if in.CertificateIndex != nil {
		c, err := s.persons.CertificateForSigning(ctx, scope, p.ID, in.CertificateIndex)
		if err != nil {
			return nil, err
		}
		r.SubsequentForID = &c.ID
	}
	r.ID, r.AccountID, r.Environment, r.PersonID, r.UUID = ident.New("psr"), scope.AccountID, scope.Environment, p.ID, newUUID()
	r.State = StateProcessing
	now := s.now().Truncate(time.Millisecond)
	r.CreatedAt, r.UpdatedAt, r.ExpiresAt, r.DeleteAfter = now, now, now.Add(Lifetime), now.Add(DeletionPeriod)
	if r.SubsequentForID != nil || r.ExternalCertificate != nil {
		// A subsequent request is proven by the current certificate's key:
		// this message is signed with it and the signature patched in.
		m := base64.StdEncoding.EncodeToString([]byte("PostSignum subsequent certificate request " + r.UUID))
		r.Message = &m
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		n, err := s.db.Next(ctx, "postsignum:"+scope.AccountID+":"+string(scope.Environment))
		if err != nil {
			return err
		}
		r.Number = n
		if err := s.db.Conn(ctx).Create(r).Error; err != nil {
			return fmt.Errorf("create certificate request: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Get returns the request numbered n in scope.
func (s *Service) Get(ctx context.Context, scope account.Scope, n int64) (*Request, error) {
	return s.get(ctx, s.scoped(ctx, scope), n)
}

func (s *Service) get(ctx context.Context, q *gorm.DB, n int64) (*Request, error) {
	var r Request
	err := q.Where("number = ? AND delete_after > ?", n, s.now()).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("request %d: %w", n, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get certificate request: %w", err)
	}
	return &r, nil
}

var columns = map[string]string{"id": "number", "creationDate": "created_at", "lastModifiedDate": "updated_at",
	"expirationDate": "expires_at", "lastName": "last_name"}

// SortFields are what List sorts by.
var SortFields = []string{"id", "creationDate", "lastModifiedDate", "expirationDate", "lastName"}

// List pages the scope's requests, newest first unless q sorts.
func (s *Service) List(ctx context.Context, scope account.Scope, q listing.Query) (listing.Page[Request], error) {
	base := s.scoped(ctx, scope).Model(&Request{}).Where("delete_after > ?", s.now())
	var total int64
	if err := base.Count(&total).Error; err != nil {
		return listing.Page[Request]{}, fmt.Errorf("count certificate requests: %w", err)
	}
	db := s.scoped(ctx, scope).Where("delete_after > ?", s.now())
	for _, o := range q.Sort {
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		db = db.Order(columns[o.Field] + dir)
	}
	if len(q.Sort) == 0 {
		db = db.Order("number DESC")
	}
	var items []Request
	if err := db.Offset(q.Offset).Limit(q.Limit).Find(&items).Error; err != nil {
		return listing.Page[Request]{}, fmt.Errorf("list certificate requests: %w", err)
	}
	return listing.Page[Request]{Items: items, Total: total}, nil
}

// Decided is a request after approval, with what the CA answered.
type Decided struct {
	Request    *Request
	Fulfilment *Fulfilment
}

// update locks the request, runs change and saves it.
func (s *Service) update(ctx context.Context, scope account.Scope, n int64, change func(ctx context.Context, r *Request) error) (*Request, error) {
	var out *Request
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := s.get(ctx, s.db.ForUpdate(s.scoped(ctx, scope), false), n)
		if err != nil {
			return err
		}
		if err := change(ctx, r); err != nil {
			return err
		}
		r.UpdatedAt = s.now().Truncate(time.Millisecond)
		if err := s.db.Conn(ctx).Save(r).Error; err != nil {
			return fmt.Errorf("save certificate request: %w", err)
		}
		out = r
		return nil
	})
	return out, err
}

func (s *Service) undecided(r *Request) error {
	switch {
	case r.DeniedAt != nil:
		return ErrAlreadyDenied
	case r.ApprovedAt != nil:
		return ErrAlreadyApproved
	case r.StateAt(s.now()) == StateExpired:
		return ErrExpired
	}
	return nil
}

// Approve approves the request and has the CA fulfil it: the certificate
// is imported to the person and the request becomes IMPORTED. When the CA
// fails the request becomes FAILED and the error wraps ErrFulfilment.
func (s *Service) Approve(ctx context.Context, scope account.Scope, n int64) (*Decided, error) {
	var f *Fulfilment
	r, err := s.update(ctx, scope, n, func(ctx context.Context, r *Request) error {
		if err := s.undecided(r); err != nil {
			return err
		}
		now := s.now().Truncate(time.Millisecond)
		r.ApprovedAt = &now
		var err error
		// The CA's writes share this transaction: a failure leaves nothing
		// half imported.
		if f, err = s.ca.Fulfil(ctx, scope, r); err != nil {
			return fmt.Errorf("%w: %w", ErrFulfilment, err)
		}
		r.State, r.CARequestID, r.ImportedCertificateID, r.CSR, r.SubjectKey = StateImported, &f.CARequestID, &f.CertificateID, &f.CSR, &f.SubjectKey
		return nil
	})
	if err == nil {
		return &Decided{Request: r, Fulfilment: f}, nil
	}
	var v validation.Errors
	if !errors.Is(err, ErrFulfilment) || errors.As(err, &v) {
		return nil, err
	}
	// The CA refused: the request was approved and has failed.
	if _, ferr := s.update(ctx, scope, n, func(_ context.Context, r *Request) error {
		if err := s.undecided(r); err != nil {
			return err
		}
		now := s.now().Truncate(time.Millisecond)
		r.ApprovedAt, r.State = &now, StateFailed
		return nil
	}); ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	return nil, err
}

// Deny denies the request.
func (s *Service) Deny(ctx context.Context, scope account.Scope, n int64) (*Request, error) {
	return s.update(ctx, scope, n, func(_ context.Context, r *Request) error {
		if err := s.undecided(r); err != nil {
			return err
		}
		now := s.now().Truncate(time.Millisecond)
		r.DeniedAt = &now
		return nil
	})
}

// SetSignedMessage records the signed message (base64 DER) that goes to
// the CA with a subsequent request.
func (s *Service) SetSignedMessage(ctx context.Context, scope account.Scope, n int64, signed *string) (*Request, error) {
	if signed != nil {
		if _, err := base64.StdEncoding.DecodeString(*signed); err != nil || *signed == "" || len(*signed) > 1<<20 {
			return nil, validation.Errors{{Field: "postSignumRequestMessageSigned", Reason: "must be a valid base64 encoded string of at most 1 MiB"}}
		}
	}
	return s.update(ctx, scope, n, func(_ context.Context, r *Request) error {
		if r.DeniedAt != nil {
			return ErrAlreadyDenied
		}
		if st := r.StateAt(s.now()); st != StateProcessing {
			return fmt.Errorf("the request is %s: %w", st, ErrAlreadyApproved)
		}
		r.MessageSigned = signed
		return nil
	})
}

// Delete deletes a request that has not been approved.
func (s *Service) Delete(ctx context.Context, scope account.Scope, n int64) error {
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		r, err := s.get(ctx, s.db.ForUpdate(s.scoped(ctx, scope), false), n)
		if err != nil {
			return err
		}
		if r.ApprovedAt != nil {
			return fmt.Errorf("it cannot be deleted: %w", ErrAlreadyApproved)
		}
		if err := s.db.Conn(ctx).Delete(&Request{}, "id = ?", r.ID).Error; err != nil {
			return fmt.Errorf("delete certificate request: %w", err)
		}
		return nil
	})
}

// Purge deletes the requests whose deletion date has passed: RemSig
// deletes stale requests, so they are not only hidden (as Get and List
// already do) but gone, with the personal data they hold.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	res := s.db.Conn(ctx).Where("delete_after <= ?", s.now()).Delete(&Request{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge certificate requests: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// Purger is the background loop that purges every interval. Several
// workers may run it; the delete is idempotent.
func (s *Service) Purger(interval time.Duration, log *slog.Logger) jobs.Periodic {
	return jobs.Periodic{Name: "certificate request purge", Interval: interval, Run: func(ctx context.Context) error {
		n, err := s.Purge(ctx)
		if n > 0 {
			log.Info("purged certificate requests past their deletion date", "count", n)
		}
		return err
	}}
}
