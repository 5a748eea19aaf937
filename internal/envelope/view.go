package envelope

import "time"

// View is an envelope's public JSON: what GET /api/v1/envelopes/{id}
// returns and what webhook events carry as data. One type serves both so
// the two can never disagree.
type View struct {
	ID                    string            `json:"id"`
	Status                Status            `json:"status"`
	Subject               string            `json:"subject"`
	Message               string            `json:"message"`
	SigningOrder          SigningOrder      `json:"signingOrder"`
	Documents             []DocumentView    `json:"documents"`
	Recipients            []RecipientView   `json:"recipients"`
	CreatedAt             time.Time         `json:"createdAt"`
	UpdatedAt             time.Time         `json:"updatedAt"`
	SentAt                *time.Time        `json:"sentAt"`
	CompletedAt           *time.Time        `json:"completedAt"`
	DeclinedAt            *time.Time        `json:"declinedAt"`
	VoidedAt              *time.Time        `json:"voidedAt"`
	ExpiredAt             *time.Time        `json:"expiredAt"`
	ExpiresAt             *time.Time        `json:"expiresAt"`
	VoidReason            string            `json:"voidReason,omitempty"`
	ReminderIntervalHours int               `json:"reminderIntervalHours"`
	Redirects             Redirects         `json:"redirects"`
	ExternalReference     string            `json:"externalReference"`
	Metadata              map[string]string `json:"metadata"`
	SignText              string            `json:"signText"`
	// Language is the envelope's BCP 47 language ("" when unset).
	Language               string `json:"language"`
	SignatureURLTimeToLive string `json:"signatureUrlTimeToLive,omitempty"`
}

// DocumentView is one document of an envelope.
type DocumentView struct {
	ID       string `json:"id"`
	Filename string `json:"filename"`
	Title    string `json:"title,omitempty"`
	Pages    int    `json:"pages"`
	// OriginalSHA256 is the uploaded file's hash; SHA256 the current
	// revision's (the signed one once signatures are applied).
	OriginalSHA256 string `json:"originalSha256"`
	SHA256         string `json:"sha256"`
	Size           int64  `json:"size"`
}

// RecipientView is one recipient of an envelope.
type RecipientView struct {
	ID     string          `json:"id"`
	Email  string          `json:"email"`
	Name   string          `json:"name"`
	Role   Role            `json:"role"`
	Order  int             `json:"order"`
	Status RecipientStatus `json:"status"`
	Auth   AuthView        `json:"auth"`
	// Locale is the recipient's BCP 47 language ("" when unset).
	Locale        string     `json:"locale"`
	SignURL       string     `json:"signUrl,omitempty"`
	NotifiedAt    *time.Time `json:"notifiedAt"`
	ViewedAt      *time.Time `json:"viewedAt"`
	SignedAt      *time.Time `json:"signedAt"`
	DeclinedAt    *time.Time `json:"declinedAt"`
	DeclineReason string     `json:"declineReason,omitempty"`
	// Identity is whom an OIDC recipient's provider vouched for.
	Identity *IdentityView `json:"identity,omitempty"`
	Fields   []FieldView   `json:"fields"`
}

// AuthView says how a recipient authenticates (the access code is never shown).
type AuthView struct {
	Method AuthMethod `json:"method"`
	// Provider and NationalIdentificationNumber are an OIDC recipient's.
	Provider                     string `json:"provider,omitempty"`
	NationalIdentificationNumber string `json:"nationalIdentificationNumber,omitempty"`
}

// FieldView is one field.
type FieldView struct {
	ID         string    `json:"id"`
	DocumentID string    `json:"documentId"`
	Type       FieldType `json:"type"`
	Page       int       `json:"page"`
	X          float64   `json:"x"`
	Y          float64   `json:"y"`
	Width      float64   `json:"width"`
	Height     float64   `json:"height"`
	Required   bool      `json:"required"`
	Value      string    `json:"value,omitempty"`
	// FieldName is the document's signature form field it fills;
	// AnchorString the text it was placed at.
	FieldName    string `json:"fieldName,omitempty"`
	AnchorString string `json:"anchorString,omitempty"`
}

// View converts env to its public JSON. signUrl is set for each recipient
// whose turn has come while their link can still be used.
func (s *Service) View(env *Envelope) View {
	v := View{
		ID: env.ID, Status: env.Status, Subject: env.Subject, Message: env.Message, SigningOrder: env.SigningOrder,
		Documents: make([]DocumentView, 0, len(env.Documents)), Recipients: make([]RecipientView, 0, len(env.Recipients)),
		CreatedAt: env.CreatedAt.UTC(), UpdatedAt: env.UpdatedAt.UTC(), SentAt: utc(env.SentAt),
		CompletedAt: utc(env.CompletedAt), DeclinedAt: utc(env.DeclinedAt), VoidedAt: utc(env.VoidedAt),
		ExpiredAt: utc(env.ExpiredAt), ExpiresAt: utc(env.ExpiresAt), VoidReason: env.VoidReason,
		ReminderIntervalHours: env.ReminderIntervalHours, Redirects: env.Redirects,
		ExternalReference: env.ExternalReference, Metadata: env.Metadata, SignText: env.SignText,
		SignatureURLTimeToLive: env.URLTTL, Language: env.Language,
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	for _, d := range env.Documents {
		v.Documents = append(v.Documents, DocumentView{ID: d.DocumentID, Filename: d.Filename, Title: d.Title,
			Pages: d.Pages, OriginalSHA256: d.OriginalSHA256, SHA256: d.CurrentSHA256, Size: d.CurrentSize})
	}
	for i := range env.Recipients {
		r := &env.Recipients[i]
		rv := RecipientView{ID: r.ID, Email: r.Email, Name: r.Name, Role: r.Role, Order: r.RoutingOrder,
			Status: r.Status, Auth: AuthView{Method: r.AuthMethod, Provider: r.AuthProvider,
				NationalIdentificationNumber: r.NationalID}, Identity: identityView(r), Locale: r.Locale, NotifiedAt: utc(r.NotifiedAt),
			ViewedAt: utc(r.ViewedAt), SignedAt: utc(r.SignedAt), DeclinedAt: utc(r.DeclinedAt),
			DeclineReason: r.DeclineReason, Fields: []FieldView{}}
		if ss := env.session(r.ID); ss != nil && env.Status == StatusSent && r.Role != RoleCC &&
			r.Status != RecipientPending && ss.Status.open() {
			rv.SignURL = s.SignURL(ss)
		}
		for _, f := range env.fieldsOf(r.ID) {
			rv.Fields = append(rv.Fields, FieldView{ID: f.ID, DocumentID: f.DocumentID, Type: f.Type, Page: f.Page,
				X: f.X, Y: f.Y, Width: f.Width, Height: f.Height, Required: f.Required, Value: f.Value,
				FieldName: f.FieldName, AnchorString: f.AnchorString})
		}
		v.Recipients = append(v.Recipients, rv)
	}
	return v
}

// eventView is View without signUrls, for event payloads: they are stored
// (webhook events for 30 days) and sent to third parties, while a live
// signing link is a credential that belongs to its session alone. Clients
// read signUrl from GET /api/v1/envelopes/{id}.
func (s *Service) eventView(env *Envelope) View {
	v := s.View(env)
	for i := range v.Recipients {
		v.Recipients[i].SignURL = ""
	}
	return v
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
