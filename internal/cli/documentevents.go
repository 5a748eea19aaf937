package cli

import (
	"context"
	"fmt"

	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/ident"
	"github.com/vellum-sign/vellum/internal/webhook"
)

// documentWebhooks turns document changes into webhook events carrying the
// document's API JSON. It lives in the composition root because it joins
// the document domain, the API's representation and the webhook service.
type documentWebhooks struct{ w *webhook.Service }

func (d documentWebhooks) publish(ctx context.Context, typ string, doc *document.Document) error {
	err := d.w.Publish(ctx, webhook.Event{
		ID: ident.New("evt"), Type: typ, AccountID: doc.AccountID, Environment: string(doc.Environment),
		OccurredAt: doc.UpdatedAt, Data: httpapi.DocumentJSON(doc),
	})
	if err != nil {
		return fmt.Errorf("publish %s for %s: %w", typ, doc.ID, err)
	}
	return nil
}

func (d documentWebhooks) DocumentUploaded(ctx context.Context, doc *document.Document) error {
	return d.publish(ctx, webhook.EventDocumentUploaded, doc)
}

func (d documentWebhooks) DocumentDeleted(ctx context.Context, doc *document.Document) error {
	return d.publish(ctx, webhook.EventDocumentDeleted, doc)
}
