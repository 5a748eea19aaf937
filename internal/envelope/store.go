package envelope

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/audit"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/listing"
)

// store runs the envelope aggregate's queries, one named method each: the
// envelope row and its documents (here, with the two queries that answer
// other packages: documentInUse and platformSecret), recipients and their
// fields (store_recipients.go), signing sessions (store_sessions.go) and
// the blobs written ahead of their commit (store_blobs.go). Each method
// works on the connection of its context, so it joins the transaction
// db.WithTx opened; what to write, and when, is the service's business.
type store struct{ db *db.DB }

// scoped is the envelopes of one account and environment.
func (st store) scoped(ctx context.Context, scope account.Scope) *gorm.DB {
	return st.db.Conn(ctx).Model(&Envelope{}).
		Where("account_id = ? AND environment = ?", scope.AccountID, scope.Environment)
}

// envelope loads envelope id of scope with its parts, locked for update
// when forUpdate; another scope's envelope is ErrNotFound.
func (st store) envelope(ctx context.Context, scope account.Scope, id string, forUpdate bool) (*Envelope, error) {
	q := st.scoped(ctx, scope).Where("id = ?", id)
	if forUpdate {
		q = st.db.ForUpdate(q, false)
	}
	return st.take(ctx, q, id)
}

// lockEnvelope locks an envelope by id alone, for tasks and signer calls
// that reach it through a task payload or a token rather than an API key.
func (st store) lockEnvelope(ctx context.Context, id string) (*Envelope, error) {
	return st.take(ctx, st.db.ForUpdate(st.db.Conn(ctx).Model(&Envelope{}).Where("id = ?", id), false), id)
}

// readEnvelope loads an envelope by id without locking (task preparation).
func (st store) readEnvelope(ctx context.Context, id string) (*Envelope, error) {
	var env Envelope
	if err := st.db.Conn(ctx).Where("id = ?", id).Take(&env).Error; err != nil {
		return nil, fmt.Errorf("read envelope %s: %w", id, err)
	}
	if err := st.loadParts(ctx, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

// take runs q for envelope id and loads its parts.
func (st store) take(ctx context.Context, q *gorm.DB, id string) (*Envelope, error) {
	var env Envelope
	if err := q.Take(&env).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("envelope %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get envelope %s: %w", id, err)
	}
	if err := st.loadParts(ctx, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

// loadParts loads an envelope's documents, recipients, fields and sessions.
func (st store) loadParts(ctx context.Context, env *Envelope) error {
	c := st.db.Conn(ctx)
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Documents).Error; err != nil {
		return fmt.Errorf("load documents of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Recipients).Error; err != nil {
		return fmt.Errorf("load recipients of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Order("position").Find(&env.Fields).Error; err != nil {
		return fmt.Errorf("load fields of %s: %w", env.ID, err)
	}
	if err := c.Where("envelope_id = ?", env.ID).Find(&env.Sessions).Error; err != nil {
		return fmt.Errorf("load sessions of %s: %w", env.ID, err)
	}
	return nil
}

var envelopeColumns = map[string]string{
	"createdAt": "created_at", "updatedAt": "updated_at", "subject": "subject",
	"status": "status", "expiresAt": "expires_at", "sentAt": "sent_at", "completedAt": "completed_at",
}

// listEnvelopes returns one page of scope's envelopes, each with its parts.
func (st store) listEnvelopes(ctx context.Context, scope account.Scope, q listing.Query, f Filter) (listing.Page[Envelope], error) {
	base := st.scoped(ctx, scope)
	if q.CreatedFrom != nil {
		base = base.Where("created_at >= ?", *q.CreatedFrom)
	}
	if q.CreatedTo != nil {
		base = base.Where("created_at <= ?", *q.CreatedTo)
	}
	if len(f.Statuses) > 0 {
		base = base.Where("status IN ?", f.Statuses)
	}
	if f.SubjectLike != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f.SubjectLike))
		base = base.Where(`LOWER(subject) LIKE ? ESCAPE '\'`, "%"+esc+"%")
	}
	if f.ExternalReference != "" {
		base = base.Where("external_reference = ?", f.ExternalReference)
	}
	var page listing.Page[Envelope]
	if err := base.Session(&gorm.Session{}).Count(&page.Total).Error; err != nil {
		return page, fmt.Errorf("count envelopes: %w", err)
	}
	err := base.Session(&gorm.Session{}).
		Order(q.OrderClause(envelopeColumns, listing.Order{Field: "createdAt", Desc: true})).
		Offset(q.Offset).Limit(q.Limit).Find(&page.Items).Error
	if err != nil {
		return page, fmt.Errorf("list envelopes: %w", err)
	}
	for i := range page.Items {
		if err := st.loadParts(ctx, &page.Items[i]); err != nil {
			return page, err
		}
	}
	return page, nil
}

// insertEnvelope stores a new envelope row and its parts.
func (st store) insertEnvelope(ctx context.Context, env *Envelope) error {
	if err := st.db.Conn(ctx).Create(env).Error; err != nil {
		return fmt.Errorf("create envelope: %w", err)
	}
	return st.insertParts(ctx, env)
}

// insertParts stores an envelope's documents, recipients and fields.
func (st store) insertParts(ctx context.Context, env *Envelope) error {
	c := st.db.Conn(ctx)
	if len(env.Documents) > 0 {
		if err := c.Create(&env.Documents).Error; err != nil {
			return fmt.Errorf("store envelope documents: %w", err)
		}
	}
	if len(env.Recipients) > 0 {
		if err := c.Create(&env.Recipients).Error; err != nil {
			return fmt.Errorf("store recipients: %w", err)
		}
	}
	if len(env.Fields) > 0 {
		if err := c.Create(&env.Fields).Error; err != nil {
			return fmt.Errorf("store fields: %w", err)
		}
	}
	return nil
}

// deleteParts deletes an envelope's fields, sessions, recipients and
// documents.
func (st store) deleteParts(ctx context.Context, envID string) error {
	c := st.db.Conn(ctx)
	for _, m := range []any{&Field{}, &Session{}, &Recipient{}, &Document{}} {
		if err := c.Where("envelope_id = ?", envID).Delete(m).Error; err != nil {
			return fmt.Errorf("delete children of %s: %w", envID, err)
		}
	}
	return nil
}

// deleteEnvelope deletes an envelope with its parts and its events (a
// draft's: a sent envelope's events are evidence and stay).
func (st store) deleteEnvelope(ctx context.Context, envID string) error {
	if err := st.db.Conn(ctx).Where("envelope_id = ?", envID).Delete(&audit.Event{}).Error; err != nil {
		return fmt.Errorf("delete events of %s: %w", envID, err)
	}
	if err := st.deleteParts(ctx, envID); err != nil {
		return err
	}
	return st.db.Conn(ctx).Where("id = ?", envID).Delete(&Envelope{}).Error
}

// saveEnvelope writes the envelope row (not its parts).
func (st store) saveEnvelope(ctx context.Context, env *Envelope) error {
	if err := st.db.Conn(ctx).Select("*").Omit("id", "account_id", "environment", "created_at").Save(env).Error; err != nil {
		return fmt.Errorf("save envelope %s: %w", env.ID, err)
	}
	return nil
}

// setAuditTrailKey records the sealed audit trail of an envelope that has
// none yet; false means another run recorded one first.
func (st store) setAuditTrailKey(ctx context.Context, envID, key string) (bool, error) {
	res := st.db.Conn(ctx).Model(&Envelope{}).Where("id = ? AND audit_trail_key = ''", envID).
		Update("audit_trail_key", key)
	if res.Error != nil {
		return false, fmt.Errorf("record audit trail of %s: %w", envID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// advanceDocument makes rv the current revision of its document if the
// document is still at rv.base; false means it moved on.
func (st store) advanceDocument(ctx context.Context, envID string, rv revisionFile) (bool, error) {
	res := st.db.Conn(ctx).Model(&Document{}).
		Where("envelope_id = ? AND document_id = ? AND revision = ?", envID, rv.documentID, rv.base).
		Updates(map[string]any{"current_blob_key": rv.key, "current_sha256": rv.sha256,
			"current_size": rv.size, "revision": rv.base + 1})
	if res.Error != nil {
		return false, fmt.Errorf("advance document %s: %w", rv.documentID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// expiredEnvelopeIDs lists SENT envelopes whose expiry has passed at now.
func (st store) expiredEnvelopeIDs(ctx context.Context, now time.Time) ([]string, error) {
	var ids []string
	if err := st.db.Conn(ctx).Model(&Envelope{}).Where("status = ? AND expires_at IS NOT NULL AND expires_at <= ?", StatusSent, now).
		Limit(1000).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("find expired envelopes: %w", err)
	}
	return ids, nil
}

// withReminders lists SENT envelopes with automatic reminders (rows only).
func (st store) withReminders(ctx context.Context) ([]Envelope, error) {
	var due []Envelope
	if err := st.db.Conn(ctx).Where("status = ? AND reminder_interval_hours > 0", StatusSent).Limit(5000).Find(&due).Error; err != nil {
		return nil, fmt.Errorf("find reminders: %w", err)
	}
	return due, nil
}

// platformSecret returns the platform secret called name, storing value
// under it first unless another instance already did: every instance ends
// up with the same one.
func (st store) platformSecret(ctx context.Context, name, value string) (string, error) {
	row := map[string]any{"name": name, "value": value, "created_at": time.Now().UTC()}
	if err := st.db.Conn(ctx).Table("platform_secrets").Clauses(clause.OnConflict{DoNothing: true}).Create(row).Error; err != nil {
		return "", fmt.Errorf("store %s: %w", name, err)
	}
	var stored string
	if err := st.db.Conn(ctx).Table("platform_secrets").Where("name = ?", name).Pluck("value", &stored).Error; err != nil {
		return "", fmt.Errorf("read %s: %w", name, err)
	}
	return stored, nil
}

// documentInUse reports whether an envelope of scope in DRAFT or SENT uses
// the document.
func (st store) documentInUse(ctx context.Context, scope account.Scope, documentID string) (bool, error) {
	var n int64
	err := st.db.Conn(ctx).Table("envelope_documents AS d").
		Joins("JOIN envelopes e ON e.id = d.envelope_id").
		Where("d.document_id = ? AND e.account_id = ? AND e.environment = ? AND e.status IN ?",
			documentID, scope.AccountID, scope.Environment, []Status{StatusDraft, StatusSent}).
		Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("check use of document %s: %w", documentID, err)
	}
	return n > 0, nil
}
