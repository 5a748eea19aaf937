package envelope

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/idp"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/mail"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/webhook"
	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// Publisher fans events out to webhooks inside the caller's transaction.
type Publisher interface {
	Publish(ctx context.Context, e webhook.Event) error
}

// PKI issues per-signer certificates and holds the platform seal;
// internal/pki's *PKI is one.
type PKI interface {
	IssueSignerFor(ctx context.Context, sub pki.SignerSubject) (*pki.Credential, error)
	Seal() pki.Credential
}

// Deps are what the service is built from.
type Deps struct {
	DB        *db.DB
	Outbox    *jobs.Outbox
	Blobs     blob.Store
	Documents *document.Service
	Accounts  *account.Service
	EventLog  *audit.Log
	// Publisher is optional: nil publishes nothing.
	Publisher Publisher
	// Mailer delivers notifications from tasks; nil drops them (logged).
	Mailer mail.Mailer
	// PKI issues signer certificates and the seal; Timestamper and
	// Revocation make documents B-LTA at finalisation.
	PKI         PKI
	Timestamper cms.Timestamper
	Revocation  pades.RevocationFunc
	// Fonts are tried, in order, for characters of names and text the
	// built-in fonts lack, in stamps and audit trails (VELLUM_FONT_PATH).
	Fonts []*pdffont.Font
	// PublicURL is the base of signUrl links and e-mailed links.
	PublicURL string
	// TokenKey (≥ 32 bytes) derives signing tokens and one-time codes from
	// session ids, so only their hashes need be stored.
	TokenKey []byte
	// IdentityProviders are the OpenID Connect providers OIDC recipients
	// log in with; nil: none configured.
	IdentityProviders *idp.Registry
	// MaxAttachmentBytes bounds the signed documents attached to a
	// completion e-mail; larger results are linked (default 10 MB).
	MaxAttachmentBytes int64
	Log                *slog.Logger
	Now                func() time.Time
}

// Service runs the envelope workflow.
type Service struct {
	Deps
	store store
}

// NewService checks deps and returns the service.
func NewService(d Deps) (*Service, error) {
	if d.DB == nil || d.Outbox == nil || d.Blobs == nil || d.Documents == nil || d.EventLog == nil {
		return nil, errors.New("envelope: DB, Outbox, Blobs, Documents and EventLog are required")
	}
	if len(d.TokenKey) < 32 {
		return nil, errors.New("envelope: the token key must be at least 32 bytes")
	}
	d.PublicURL = strings.TrimSuffix(d.PublicURL, "/")
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxAttachmentBytes <= 0 {
		d.MaxAttachmentBytes = 10 << 20
	}
	return &Service{Deps: d, store: store{db: d.DB}}, nil
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Actor is who causes a change, as the event log records it.
type Actor struct {
	// Name is "api:<key id>", "recipient:<id>" or "system".
	Name      string
	IP        string
	UserAgent string
}

// System is the actor of background work.
var System = Actor{Name: "system"}
