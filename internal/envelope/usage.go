package envelope

import (
	"context"

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
	return store(u).documentInUse(ctx, scope, documentID)
}
