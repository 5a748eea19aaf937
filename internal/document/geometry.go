package document

import (
	"io"
	"slices"
	"strings"

	"github.com/vellum-sign/vellum/pkg/pades"
)

// Box is a rectangle in PDF points: lower-left corner, width and height.
type Box struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// PageBox is a page's geometry as read at upload.
type PageBox struct {
	MediaBox Box `json:"mediaBox"`
	CropBox  Box `json:"cropBox"`
	Rotate   int `json:"rotate"`
}

// SignatureField is a signature form field the uploaded PDF carries.
type SignatureField struct {
	Name   string `json:"name"`
	Page   int    `json:"page"` // 0 when its widget is on no page
	Rect   Box    `json:"rect"`
	Signed bool   `json:"signed"`
}

// PageGeometry converts the stored boxes for the signing engine's placement check.
func (d *Document) PageGeometry() []pades.Page {
	out := make([]pades.Page, 0, len(d.PageBoxes))
	for _, p := range d.PageBoxes {
		out = append(out, pades.Page{MediaBox: toRect(p.MediaBox), CropBox: toRect(p.CropBox), Rotate: p.Rotate})
	}
	return out
}

// readGeometry reads page boxes and signature fields with the signing engine's
// reader, the one that will sign the document, and whether it had to
// reconstruct damaged cross-reference data. Both stay empty (unknown)
// when it cannot read the file; Validate reports why.
func readGeometry(r io.ReaderAt, size int64) ([]PageBox, []SignatureField, bool) {
	pages, fields := []PageBox{}, []SignatureField{}
	info, err := pades.Inspect(r, size)
	if err != nil {
		return pages, fields, false
	}
	for _, p := range info.Pages {
		pages = append(pages, PageBox{MediaBox: toBox(p.MediaBox), CropBox: toBox(p.CropBox), Rotate: p.Rotate})
	}
	for _, f := range info.SignatureFields {
		fields = append(fields, SignatureField{Name: f.Name, Page: f.Page, Rect: toBox(f.Rect), Signed: f.Signed})
	}
	return pages, fields, info.Damaged
}

func toBox(r pades.Rect) Box  { return Box{X: r.X, Y: r.Y, Width: r.W, Height: r.H} }
func toRect(b Box) pades.Rect { return pades.Rect{X: b.X, Y: b.Y, W: b.Width, H: b.Height} }

// damageFindings adds what a damaged file means for signing: one with
// signatures cannot be repaired without breaking them (UNMODIFIABLE, the
// signing engine's refusal); one without is rewritten cleanly once when
// first signed, which a warning says.
func damageFindings(rep Report, pages []PageBox, fields []SignatureField, damaged bool) Report {
	if !damaged || len(pages) == 0 {
		return rep
	}
	v := &rep.Validation
	// The signing engine reconstructed what pdfcpu found damaged.
	v.Errors = slices.DeleteFunc(v.Errors, func(i Issue) bool {
		return i.Code == CodeSigningError && strings.HasPrefix(i.Message, structureDamaged)
	})
	if rep.Pages == 0 {
		rep.Pages = len(pages)
	}
	for _, f := range fields {
		if f.Signed {
			v.Errors = append(v.Errors, issue(CodeUnmodifiable, "The file's cross-reference data is damaged and it carries signatures,"+
				" which repairing it would invalidate; ask the sender for an undamaged copy"))
			return rep.finish()
		}
	}
	v.Warnings = append(v.Warnings, issue(CodeSigningError, "The file's cross-reference data is damaged; it is rewritten cleanly once before the first signature"))
	return rep.finish()
}
