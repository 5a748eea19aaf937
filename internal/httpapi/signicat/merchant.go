package signicat

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/seal"
)

// Vendors are the merchant-signing vendors accepted. Signicat offers only
// Norwegian BankID (NBID); here NBID names the account's merchant seal —
// a SEAL certificate of its own, or the platform seal — and no BankID is
// involved.
var Vendors = []string{"NBID"}

// MaxMerchantDocuments is Signicat's limit per merchant-signing request.
const MaxMerchantDocuments = 20

type merchantHandlers struct {
	docs   *document.Service
	sealer *seal.Documents
}

func (h *merchantHandlers) routes(g *echo.Group) {
	g.POST("/merchant-sign", h.sign)
}

type merchantRequest struct {
	Vendor              *string             `json:"vendor"`
	ToBeSignedDocuments []documentReference `json:"toBeSignedDocuments"`
}

type merchantResult struct {
	DocumentID       string `json:"documentId"`
	DocumentResultID string `json:"documentResultId"`
}

// sign seals each document with the merchant seal, synchronously, and
// answers the new documents' ids. Every document is checked before any is
// sealed, so a bad request seals nothing.
func (h *merchantHandlers) sign(c echo.Context) error {
	var in merchantRequest
	bad, err := httpapi.BindJSON(c, &in)
	if err != nil {
		return err
	}
	switch {
	case in.Vendor == nil:
		bad = append(bad, httpapi.InvalidParam{Name: "vendor", Reason: "required; accepted: " + strings.Join(Vendors, ", ")})
	case !slices.Contains(Vendors, *in.Vendor):
		bad = append(bad, httpapi.InvalidParam{Name: "vendor", Reason: "unknown vendor " + *in.Vendor + "; accepted: " + strings.Join(Vendors, ", ")})
	}
	ctx, scope := c.Request().Context(), ScopeOf(c)
	switch n := len(in.ToBeSignedDocuments); {
	case n == 0:
		bad = append(bad, httpapi.InvalidParam{Name: "toBeSignedDocuments", Reason: "must list at least one document"})
	case n > MaxMerchantDocuments:
		bad = append(bad, httpapi.InvalidParam{Name: "toBeSignedDocuments", Reason: "must list at most 20 documents"})
		in.ToBeSignedDocuments = nil
	}
	ids := make([]string, len(in.ToBeSignedDocuments))
	for i, d := range in.ToBeSignedDocuments {
		name := "toBeSignedDocuments[" + itoa(i) + "].documentId"
		if reason := badUUID(d.DocumentID); reason != "" {
			bad = append(bad, httpapi.InvalidParam{Name: name, Reason: reason})
			continue
		}
		ids[i], _ = fromUUID("", documentIDPrefix, d.DocumentID)
		doc, err := h.docs.Get(ctx, scope, ids[i])
		switch {
		case errors.Is(err, document.ErrNotFound):
			bad = append(bad, httpapi.InvalidParam{Name: name, Reason: "no such document"})
		case err != nil:
			return err
		case !doc.Signable:
			bad = append(bad, httpapi.InvalidParam{Name: name, Reason: seal.ErrNotSignable.Error()})
		}
	}
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	out := make([]merchantResult, 0, len(ids))
	for i, id := range ids {
		res, err := h.sealer.SealDocument(ctx, scope, id, "Merchant signature ("+*in.Vendor+")")
		if err != nil {
			return err
		}
		out = append(out, merchantResult{DocumentID: in.ToBeSignedDocuments[i].DocumentID, DocumentResultID: toUUID(res.ID)})
	}
	return c.JSON(http.StatusOK, out)
}
