package envelope

import (
	"context"
	"fmt"
	"time"
)

// setRecipientStatus writes r's status.
func (st store) setRecipientStatus(ctx context.Context, r *Recipient) error {
	if err := st.db.Conn(ctx).Model(r).Update("status", r.Status).Error; err != nil {
		return fmt.Errorf("set recipient %s %s: %w", r.ID, r.Status, err)
	}
	return nil
}

// countReminder writes how many reminders r was sent.
func (st store) countReminder(ctx context.Context, r *Recipient) error {
	if err := st.db.Conn(ctx).Model(r).Update("reminders_sent", r.RemindersSent).Error; err != nil {
		return fmt.Errorf("count reminder of %s: %w", r.ID, err)
	}
	return nil
}

// markNotified writes when r's invitation went out (NotifiedAt is set), and r's status.
func (st store) markNotified(ctx context.Context, r *Recipient) error {
	if err := st.db.Conn(ctx).Model(r).Updates(map[string]any{"notified_at": *r.NotifiedAt, "status": r.Status}).Error; err != nil {
		return fmt.Errorf("mark %s notified: %w", r.ID, err)
	}
	return nil
}

// markViewed writes that r opened the signing page, and r's status.
func (st store) markViewed(ctx context.Context, r *Recipient) error {
	if err := st.db.Conn(ctx).Model(r).Updates(map[string]any{"status": r.Status, "viewed_at": *r.ViewedAt}).Error; err != nil {
		return fmt.Errorf("mark recipient viewed: %w", err)
	}
	return nil
}

// markApplied writes that r's signature is in the documents, made with
// the certificate of serial (empty for an approval).
func (st store) markApplied(ctx context.Context, r *Recipient, at time.Time, serial string) error {
	if err := st.db.Conn(ctx).Model(r).Updates(map[string]any{"applied_at": at, "certificate_serial": serial}).Error; err != nil {
		return fmt.Errorf("mark signature of %s applied: %w", r.ID, err)
	}
	return nil
}

// recordSignature writes r's signature: status, time, where from and how.
func (st store) recordSignature(ctx context.Context, r *Recipient) error {
	if err := st.db.Conn(ctx).Model(r).Select("status", "signed_at", "ip", "user_agent", "signature_type",
		"signature_text", "signature_image").Updates(r).Error; err != nil {
		return fmt.Errorf("record signature of %s: %w", r.ID, err)
	}
	return nil
}

// recordDecline writes r's decline: status, time, reason and where from.
func (st store) recordDecline(ctx context.Context, r *Recipient) error {
	if err := st.db.Conn(ctx).Model(r).Select("status", "declined_at", "decline_reason", "ip", "user_agent").Updates(r).Error; err != nil {
		return fmt.Errorf("record decline of %s: %w", r.ID, err)
	}
	return nil
}

// setFieldValue writes the value a recipient gave field f.
func (st store) setFieldValue(ctx context.Context, f *Field) error {
	if err := st.db.Conn(ctx).Model(f).Update("value", f.Value).Error; err != nil {
		return fmt.Errorf("store field value: %w", err)
	}
	return nil
}
