package batch

import (
	"bytes"
	"context"
	"fmt"

	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// ValidatePDF pre-validates a PDF as RemSig's /api/sign/validate/pdf does:
// the document validator's findings, and a VISIBLE_WATERMARK_OVERLAP
// warning when the watermark asked for would cover a signature field. It
// stores nothing.
func ValidatePDF(ctx context.Context, pdf []byte, w *Watermark) (document.Validation, error) {
	rep, err := document.Validate(ctx, bytes.NewReader(pdf))
	if err != nil {
		return document.Validation{}, err
	}
	v := rep.Validation
	if w == nil || !v.Signable {
		return v, nil
	}
	info, err := pades.Inspect(bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		return v, nil
	}
	page, box, err := WatermarkBox(info, w)
	if err != nil {
		v.Errors = append(v.Errors, document.Issue{Code: document.CodeVisibleWatermarkOverlap,
			Name: document.CodeVisibleWatermarkOverlap.String(), Message: "The visible signature watermark cannot be placed: " + err.Error()})
		v.Signable = false
		return v, nil
	}
	for _, f := range info.SignatureFields {
		if f.Page == page && overlaps(box, f.Rect) {
			v.Warnings = append(v.Warnings, document.Issue{Code: document.CodeVisibleWatermarkOverlap,
				Name:    document.CodeVisibleWatermarkOverlap.String(),
				Message: fmt.Sprintf("The visible signature watermark overlaps with the existing area of signature field %q", f.Name)})
		}
	}
	return v, nil
}

func overlaps(a, b pades.Rect) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}
