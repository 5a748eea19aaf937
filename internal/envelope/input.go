package envelope

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/i18n"
	"github.com/vellum-sign/vellum/internal/idp"
	"github.com/vellum-sign/vellum/internal/pki"

	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pdffont"
	"github.com/vellum-sign/vellum/pkg/pdftext"
)

// Limits of an envelope (Certyneo's and Signicat's where they have one).
const (
	MaxDocuments         = 50
	MaxRecipients        = 100
	MaxFieldsPerEnvelope = 1000
	MaxSubjectLen        = 255
	MaxMessageLen        = 10000
	MaxExternalRefLen    = 1024
	MaxSignTextLen       = 2048
	MaxNameLen           = 255
	MaxMetadataKeys      = 50
	MaxMetadataKeyLen    = 64
	MaxMetadataValueLen  = 1024
	MaxRoutingOrder      = 100
	MaxHorizon           = 45 * 24 * time.Hour
	MinURLTTL            = 5 * time.Minute
	DefaultURLTTL        = 30 * 24 * time.Hour
	MaxReminderHours     = 24 * 45
)

// Input is a new envelope as a client describes it.
type Input struct {
	Subject               string
	Message               string
	DocumentIDs           []string
	Recipients            []RecipientInput
	SigningOrder          SigningOrder
	ExpiresAt             *time.Time
	ReminderIntervalHours int
	Redirects             Redirects
	ExternalReference     string
	Metadata              map[string]string
	SignText              string
	// URLTTL is an ISO 8601 duration (signatureUrlTimeToLive).
	URLTTL string
	// Language is a BCP 47 tag of a supported language, or empty.
	Language string
}

// RecipientInput is one recipient of an Input.
type RecipientInput struct {
	Email      string
	Name       string
	Role       Role
	Order      int // 0 means 1
	Auth       AuthMethod
	AccessCode string
	// Provider and NationalID go with Auth OIDC: the identity provider's
	// name and, optionally, the national identification number it must
	// vouch for.
	Provider   string
	NationalID string
	// Locale is a BCP 47 tag of a supported language, or empty.
	Locale string
	Fields []FieldInput

	// accessCodeHash carries a stored recipient's hashed code through a
	// PATCH that leaves recipients alone.
	accessCodeHash string
}

// FieldInput is one field of a RecipientInput. It is placed by
// coordinates, by FieldName (the document's own signature form field, whose
// page and rectangle it takes), or by Anchor (at every occurrence of a
// text). Validation resolves the last two into coordinates.
type FieldInput struct {
	DocumentID string
	Type       FieldType
	Page       int
	X, Y       float64
	Width      float64
	Height     float64
	Required   bool
	FieldName  string
	Anchor     *Anchor

	// anchoredAt carries a stored field's anchor text through a PATCH,
	// which keeps the place it was resolved to.
	anchoredAt string
}

// Patch changes a DRAFT envelope; nil members are left alone. Documents and
// recipients (with their fields) are replaced as a whole when given.
type Patch struct {
	Subject               *string
	Message               *string
	DocumentIDs           *[]string
	Recipients            *[]RecipientInput
	SigningOrder          *SigningOrder
	ExpiresAt             **time.Time
	ReminderIntervalHours *int
	Redirects             *Redirects
	ExternalReference     *string
	Metadata              *map[string]string
	SignText              *string
	URLTTL                *string
	Language              *string
}

// docInfo is what validation needs to know about a referenced document.
type docInfo struct {
	found    bool
	signable bool
	pages    int
	// geometry and sigFields were read at upload; both empty when unknown.
	geometry  []pades.Page
	sigFields []document.SignatureField
	// text extracts the document's text for anchors (once, when asked).
	text func() (*pdftext.Document, error)
}

// docLookup resolves document ids in a scope.
type docLookup func(ctx context.Context, scope account.Scope, id string) (docInfo, error)

var durationRE = regexp.MustCompile(`^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseISODuration parses the ISO 8601 durations Signicat accepts for
// signatureUrlTimeToLive: weeks, days, hours, minutes and seconds (no years
// or months, whose length varies).
func ParseISODuration(s string) (time.Duration, error) {
	m := durationRE.FindStringSubmatch(s)
	if m == nil || s == "P" || strings.HasSuffix(s, "T") {
		return 0, fmt.Errorf("%q is not an ISO 8601 duration such as P7D or PT1H30M", s)
	}
	var d time.Duration
	units := []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute}
	for i, u := range units {
		if m[i+1] != "" {
			n, err := strconv.ParseInt(m[i+1], 10, 64)
			if err != nil || n > 1e6 {
				return 0, fmt.Errorf("%q: number out of range", s)
			}
			d += time.Duration(n) * u
		}
	}
	if m[5] != "" {
		f, err := strconv.ParseFloat(m[5], 64)
		if err != nil || f > 1e9 {
			return 0, fmt.Errorf("%q: seconds out of range", s)
		}
		d += time.Duration(f * float64(time.Second))
	}
	return d, nil
}

type checker struct{ errs ValidationError }

func (c *checker) add(field, reason string, args ...any) {
	c.errs = append(c.errs, FieldError{Field: field, Reason: fmt.Sprintf(reason, args...)})
}

func (c *checker) text(field, v string, max int, required, singleLine bool) {
	switch {
	case !utf8.ValidString(v):
		c.add(field, "must be valid UTF-8")
	case required && strings.TrimSpace(v) == "":
		c.add(field, "is required")
	case utf8.RuneCountInString(v) > max:
		c.add(field, "must be at most %d characters", max)
	default:
		for _, r := range v {
			if r == 0 || (singleLine && unicode.IsControl(r)) || (!singleLine && unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t') {
				c.add(field, "must not contain control characters")
				return
			}
		}
	}
}

func (c *checker) httpURL(field, v string) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > 2048 {
		c.add(field, "must be an absolute http(s) URL of at most 2048 characters")
	}
}

// validate checks a complete input, reporting every problem at once. now
// anchors the 45-day horizons.
func validate(ctx context.Context, scope account.Scope, in *Input, lookup docLookup, now time.Time, fonts []*pdffont.Font,
	providers *idp.Registry) (ValidationError, error) {
	c := &checker{}
	c.text("subject", in.Subject, MaxSubjectLen, true, true)
	c.text("message", in.Message, MaxMessageLen, false, false)
	c.text("externalReference", in.ExternalReference, MaxExternalRefLen, false, true)
	c.text("signText", in.SignText, MaxSignTextLen, false, false)
	if in.Language != "" {
		if _, err := i18n.Parse(in.Language); err != nil {
			c.add("language", "%s", err.Error())
		}
	}
	for i, r := range in.Recipients {
		if r.Locale != "" {
			if _, err := i18n.Parse(r.Locale); err != nil {
				c.add(fmt.Sprintf("recipients[%d].locale", i), "%s", err.Error())
			}
		}
	}
	switch in.SigningOrder {
	case Parallel, Sequential:
	default:
		c.add("signingOrder", "must be PARALLEL or SEQUENTIAL")
	}
	if in.ExpiresAt != nil {
		switch {
		case !in.ExpiresAt.After(now):
			c.add("expiresAt", "must be in the future")
		case in.ExpiresAt.Sub(now) > MaxHorizon:
			c.add("expiresAt", "must be at most 45 days from now")
		}
	}
	if in.ReminderIntervalHours < 0 || in.ReminderIntervalHours > MaxReminderHours {
		c.add("reminderIntervalHours", "must be from 0 (no reminders) to %d", MaxReminderHours)
	}
	c.httpURL("redirects.success", in.Redirects.Success)
	c.httpURL("redirects.cancel", in.Redirects.Cancel)
	c.httpURL("redirects.error", in.Redirects.Error)
	if len(in.Metadata) > MaxMetadataKeys {
		c.add("metadata", "must have at most %d keys", MaxMetadataKeys)
	}
	for k, v := range in.Metadata {
		if k == "" || utf8.RuneCountInString(k) > MaxMetadataKeyLen {
			c.add("metadata", "keys must be 1 to %d characters", MaxMetadataKeyLen)
			break
		}
		c.text("metadata."+k, v, MaxMetadataValueLen, false, false)
	}
	if in.URLTTL != "" {
		d, err := ParseISODuration(in.URLTTL)
		switch {
		case err != nil:
			c.add("signatureUrlTimeToLive", "%v", err)
		case d < MinURLTTL || d > MaxHorizon:
			c.add("signatureUrlTimeToLive", "must be from 5 minutes to 45 days")
		}
	}

	pages := map[string]int{}
	docs := map[string]docInfo{}
	switch n := len(in.DocumentIDs); {
	case n == 0:
		c.add("documentIds", "at least one document is required")
	case n > MaxDocuments:
		c.add("documentIds", "at most %d documents", MaxDocuments)
	}
	for i, id := range in.DocumentIDs {
		field := fmt.Sprintf("documentIds[%d]", i)
		if _, dup := pages[id]; dup {
			c.add(field, "document %s is listed twice", id)
			continue
		}
		info, err := lookup(ctx, scope, id)
		if err != nil {
			return nil, err
		}
		switch {
		case !info.found:
			c.add(field, "no document %q in this account and environment", id)
		case !info.signable:
			c.add(field, "document %s cannot be signed (see its validation report)", id)
		}
		pages[id] = info.pages
		docs[id] = info
	}
	usedNames := map[string]string{}

	switch n := len(in.Recipients); {
	case n == 0:
		c.add("recipients", "at least one recipient is required")
	case n > MaxRecipients:
		c.add("recipients", "at most %d recipients", MaxRecipients)
	}
	acting, fields := 0, 0
	for i := range in.Recipients {
		r := &in.Recipients[i]
		p := fmt.Sprintf("recipients[%d].", i)
		if addr, err := mail.ParseAddress(r.Email); err != nil || addr.Address != r.Email || len(r.Email) > 254 {
			c.add(p+"email", "must be a bare e-mail address such as name@example.com")
		}
		c.text(p+"name", r.Name, MaxNameLen, true, true)
		if r.Role == RoleSigner {
			c.drawable(p+"name", r.Name, nameStack(fonts))
		}
		switch r.Role {
		case RoleSigner, RoleApprover:
			acting++
		case RoleCC, RoleViewer:
		default:
			c.add(p+"role", "must be SIGNER, APPROVER, CC or VIEWER")
		}
		if r.Order < 1 || r.Order > MaxRoutingOrder {
			c.add(p+"order", "must be from 1 to %d", MaxRoutingOrder)
		}
		switch r.Auth {
		case AuthNone, AuthEmailOTP:
			if r.AccessCode != "" {
				c.add(p+"auth.accessCode", "is only allowed with method ACCESS_CODE")
			}
		case AuthAccessCode:
			if r.accessCodeHash != "" && r.AccessCode == "" {
				break
			}
			if n := utf8.RuneCountInString(r.AccessCode); n < 4 || n > 64 {
				c.add(p+"auth.accessCode", "must be 4 to 64 characters with method ACCESS_CODE")
			}
		case AuthOIDC:
			checkOIDCRecipient(c, p, r, providers)
		default:
			c.add(p+"auth.method", "must be NONE, EMAIL_OTP, ACCESS_CODE or OIDC")
		}
		if r.Auth != AuthOIDC && (r.Provider != "" || r.NationalID != "") {
			c.add(p+"auth", "provider and nationalIdentificationNumber go only with method OIDC")
		}
		if r.Auth != AuthNone && !r.Role.Acts() && r.Role != RoleViewer && r.Role != "" {
			c.add(p+"auth.method", "only signers, approvers and viewers authenticate")
		}
		if len(r.Fields) > 0 && r.Role != RoleSigner {
			c.add(p+"fields", "only signers have fields")
		}
		r.Fields = c.anchored(p, r.Fields, docs)
		for j := range r.Fields {
			fields++
			fp := fmt.Sprintf("%sfields[%d].", p, j)
			if r.Fields[j].FieldName != "" {
				if !c.namedField(fp, &r.Fields[j], docs, usedNames) {
					continue
				}
			}
			f := r.Fields[j]
			switch f.Type {
			case FieldSignature, FieldInitials, FieldDate, FieldText, FieldCheckbox:
			default:
				c.add(fp+"type", "must be SIGNATURE, INITIALS, DATE, TEXT or CHECKBOX")
			}
			n, ok := pages[f.DocumentID]
			if !ok {
				c.add(fp+"documentId", "must be one of the envelope's documentIds")
			} else if n > 0 && (f.Page < 1 || f.Page > n) {
				c.add(fp+"page", "must be from 1 to %d (the document's page count)", n)
			}
			if f.Page < 1 {
				c.add(fp+"page", "must be 1 or more")
			}
			if f.X < 0 || f.Y < 0 || f.X > 14400 || f.Y > 14400 {
				c.add(fp+"x", "x and y must be from 0 to 14400 points")
			}
			if f.Width <= 0 || f.Height <= 0 || f.Width > 14400 || f.Height > 14400 {
				c.add(fp+"width", "width and height must be more than 0 and at most 14400 points")
			} else if geo := docs[f.DocumentID].geometry; len(geo) > 0 && f.Page >= 1 && f.Page <= len(geo) {
				var pe *pades.PlacementError
				if errors.As(pades.CheckPlacement(geo, f.Page, pades.Rect{X: f.X, Y: f.Y, W: f.Width, H: f.Height}), &pe) {
					c.add(strings.TrimSuffix(fp, "."), "the %s field's box (x %g, y %g, width %g, height %g) lies entirely outside page %d,"+
						" whose visible area runs from x %g to %g and y %g to %g", f.Type, f.X, f.Y, f.Width, f.Height, f.Page,
						pe.Box.X, pe.Box.X+pe.Box.W, pe.Box.Y, pe.Box.Y+pe.Box.H)
				}
			}
		}
	}
	if len(in.Recipients) > 0 && acting == 0 {
		c.add("recipients", "at least one recipient must be a SIGNER or APPROVER")
	}
	if fields > MaxFieldsPerEnvelope {
		c.add("recipients", "at most %d fields in all", MaxFieldsPerEnvelope)
	}
	return c.errs, nil
}

// normalize applies defaults before validation.
func normalize(in *Input) {
	in.Subject = strings.TrimSpace(in.Subject)
	if in.SigningOrder == "" {
		in.SigningOrder = Parallel
	}
	for i := range in.Recipients {
		r := &in.Recipients[i]
		r.Email = strings.TrimSpace(r.Email)
		r.Name = strings.TrimSpace(r.Name)
		if r.Role == "" {
			r.Role = RoleSigner
		}
		if r.Order == 0 {
			r.Order = 1
		}
		if r.Auth == "" {
			r.Auth = AuthNone
		}
	}
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC()
		in.ExpiresAt = &t
	}
}

// apply overlays a patch on the envelope's current input.
func (p *Patch) apply(in *Input) {
	if p.Subject != nil {
		in.Subject = *p.Subject
	}
	if p.Message != nil {
		in.Message = *p.Message
	}
	if p.DocumentIDs != nil {
		in.DocumentIDs = *p.DocumentIDs
	}
	if p.Recipients != nil {
		in.Recipients = *p.Recipients
	}
	if p.SigningOrder != nil {
		in.SigningOrder = *p.SigningOrder
	}
	if p.ExpiresAt != nil {
		in.ExpiresAt = *p.ExpiresAt
	}
	if p.ReminderIntervalHours != nil {
		in.ReminderIntervalHours = *p.ReminderIntervalHours
	}
	if p.Redirects != nil {
		in.Redirects = *p.Redirects
	}
	if p.ExternalReference != nil {
		in.ExternalReference = *p.ExternalReference
	}
	if p.Metadata != nil {
		in.Metadata = *p.Metadata
	}
	if p.Language != nil {
		in.Language = *p.Language
	}
	if p.SignText != nil {
		in.SignText = *p.SignText
	}
	if p.URLTTL != nil {
		in.URLTTL = *p.URLTTL
	}
}

// MaxNationalIDLen bounds a national identification number; it becomes the
// signer certificate's serialNumber (ub-serial-number is 64).
const MaxNationalIDLen = 64

// checkOIDCRecipient checks an OIDC recipient's provider and national
// identification number.
func checkOIDCRecipient(c *checker, p string, r *RecipientInput, providers *idp.Registry) {
	prov, ok := providers.Get(r.Provider)
	switch {
	case r.Provider == "":
		c.add(p+"auth.provider", "is required with method OIDC: one of %s", providerList(providers))
	case !ok:
		c.add(p+"auth.provider", "%q is not a configured identity provider: %s", r.Provider, providerList(providers))
	}
	if r.NationalID == "" {
		return
	}
	if !pki.ValidSerialNumber(r.NationalID) || strings.TrimSpace(r.NationalID) != r.NationalID {
		c.add(p+"auth.nationalIdentificationNumber", "must be 1 to %d letters, digits, spaces or '()+,-./:=? without leading or trailing spaces", MaxNationalIDLen)
	}
	if ok && prov.NationalIDClaim == "" {
		c.add(p+"auth.nationalIdentificationNumber", "identity provider %q supplies no national identification number, so it cannot be checked", r.Provider)
	}
}

func providerList(providers *idp.Registry) string {
	if names := providers.Names(); len(names) > 0 {
		return "configured are " + strings.Join(names, ", ")
	}
	return "this deployment configures no identity provider (VELLUM_OIDC_PROVIDERS)"
}
