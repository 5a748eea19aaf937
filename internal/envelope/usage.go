package envelope

import (
	"context"
	"fmt"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/db"
)

// DocumentUsage implements document.UsageChecker: a document may not be
// deleted while an envelope that is not final uses it. It needs only the
// database, so the document service, which the envelope service depends
// on, is built with it before the envelope service exists.
type DocumentUsage struct{ db *db.DB }

// NewDocumentUsage answers from database.
func NewDocumentUsage(database *db.DB) DocumentUsage { return DocumentUsage{db: database} }

// DocumentInUse reports whether an envelope in DRAFT or SENT uses the
// document.
func (u DocumentUsage) DocumentInUse(ctx context.Context, scope account.Scope, documentID string) (bool, error) {
	var n int64
	err := u.db.Conn(ctx).Table("envelope_documents AS d").
		Joins("JOIN envelopes e ON e.id = d.envelope_id").
		Where("d.document_id = ? AND e.account_id = ? AND e.environment = ? AND e.status IN ?",
			documentID, scope.AccountID, scope.Environment, []Status{StatusDraft, StatusSent}).
		Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("check use of document %s: %w", documentID, err)
	}
	return n > 0, nil
}
