package document

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/validate"

	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/pdftext"
)

// Code is a pre-validation finding, numbered as RemSig's
// /api/sign/validate/pdf codes: the signing engine's own codes, so a
// refusal at upload and one at signing read the same.
type Code = pades.Code

// RemSig's codes.
const (
	CodeEncrypted               = pades.CodeEncrypted
	CodeInteractiveField        = pades.CodeInteractiveField
	CodeReadOnly                = pades.CodeReadOnly
	CodeUnmodifiable            = pades.CodeUnmodifiable
	CodeLocked                  = pades.CodeLocked
	CodeSigningError            = pades.CodeSigningError
	CodeVisibleWatermarkOverlap = pades.CodeVisibleWatermarkOverlap
	CodeUnknownError            = pades.CodeUnknownError
)

// Issue is one finding.
type Issue struct {
	Code    Code   `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

func issue(c Code, msg string) Issue { return Issue{Code: c, Name: c.String(), Message: msg} }

// Validation is the pre-validation report. Errors make a document
// unsignable; warnings do not.
type Validation struct {
	Signable bool    `json:"signable"`
	Errors   []Issue `json:"errors"`
	Warnings []Issue `json:"warnings"`
}

// PDF permission bits (ISO 32000-1, table 22), 1-based as in the standard.
const (
	permModify    = 1 << (4 - 1)
	permAnnotate  = 1 << (6 - 1)
	permFillForms = 1 << (9 - 1)
)

// headerWindow is how far into the file the %PDF- header may start, as
// conforming readers tolerate leading garbage.
const headerWindow = 1024

// structureDamaged starts the finding for a file pdfcpu reads as damaged;
// damageFindings replaces it when the signing engine can repair the file.
const structureDamaged = "The document's structure is damaged and cannot be signed reliably: "

// Report is what Validate learns about a PDF.
type Report struct {
	Pages      int
	Validation Validation
}

// Validate reads the PDF in rs with pdfcpu and reports RemSig's findings.
// It returns ErrNotPDF (wrapped, with the reason) when rs is not a readable
// PDF at all; any other outcome is a report, signable or not. Malformed
// input never panics out of Validate.
func Validate(ctx context.Context, rs io.ReadSeeker) (rep Report, err error) {
	head := make([]byte, headerWindow)
	n, err := io.ReadFull(rs, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return rep, fmt.Errorf("read document: %w", err)
	}
	if n == 0 {
		return rep, fmt.Errorf("%w: the file is empty", ErrNotPDF)
	}
	if !bytes.Contains(head[:n], []byte("%PDF-")) {
		return rep, fmt.Errorf("%w: the file does not start with a PDF header (%%PDF-)", ErrNotPDF)
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return rep, fmt.Errorf("rewind document: %w", err)
	}

	conf := pdftext.NewConfiguration()
	conf.Cmd = model.VALIDATE
	pctx, readErr := read(ctx, rs, conf)
	if readErr != nil {
		if errors.Is(readErr, pdfcpu.ErrWrongPassword) || errors.Is(readErr, pdfcpu.ErrOwnerPasswordRequired) {
			// Encrypted with an open password: readable by nobody without it.
			rep.Validation.Errors = append(rep.Validation.Errors,
				issue(CodeEncrypted, "The document is encrypted and needs a password to open"))
			return rep.finish(), nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return rep, ctxErr
		}
		return rep, fmt.Errorf("%w: %s", ErrNotPDF, conciseError(readErr))
	}
	v := &rep.Validation
	if err := check(func() error { return validate.XRefTable(pctx) }); err != nil {
		v.Errors = append(v.Errors, issue(CodeSigningError, structureDamaged+conciseError(err)))
		_ = check(pctx.EnsurePageCount)
	}
	rep.Pages = pctx.PageCount
	if rep.Pages <= 0 && len(v.Errors) == 0 {
		v.Errors = append(v.Errors, issue(CodeSigningError, "The document has no pages"))
	}
	if err := check(func() error { inspect(pctx, v); return nil }); err != nil {
		v.Errors = append(v.Errors, issue(CodeUnknownError, "The document could not be inspected: "+conciseError(err)))
	}
	return rep.finish(), nil
}

func (r Report) finish() Report {
	if r.Validation.Errors == nil {
		r.Validation.Errors = []Issue{}
	}
	if r.Validation.Warnings == nil {
		r.Validation.Warnings = []Issue{}
	}
	r.Validation.Signable = len(r.Validation.Errors) == 0
	return r
}

// read parses the file, turning pdfcpu's panics on hostile input into errors.
func read(ctx context.Context, rs io.ReadSeeker, conf *model.Configuration) (pctx *model.Context, err error) {
	err = check(func() error {
		var rerr error
		pctx, rerr = pdfcpu.ReadWithContext(ctx, rs, conf)
		return rerr
	})
	if err == nil && (pctx == nil || pctx.XRefTable == nil) {
		err = errors.New("no cross-reference table")
	}
	return pctx, err
}

// check runs f and converts a panic into an error.
func check(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("malformed PDF: %w", e)
				return
			}
			err = fmt.Errorf("malformed PDF: %v", r)
		}
	}()
	return f()
}

// conciseError keeps a parser message short enough for an API response.
func conciseError(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// inspect adds the permission, lock and form findings.
func inspect(pctx *model.Context, v *Validation) {
	xt := pctx.XRefTable
	if xt.Encrypt != nil || pctx.E != nil {
		v.Errors = append(v.Errors, issue(CodeEncrypted, "The document is encrypted"))
		if pctx.E != nil {
			p := pctx.E.P
			if p&permAnnotate == 0 && p&permFillForms == 0 {
				v.Errors = append(v.Errors, issue(CodeReadOnly,
					"The document has read-only access permission set (no annotations or form filling)"))
			}
			if p&permModify == 0 {
				v.Errors = append(v.Errors, issue(CodeUnmodifiable,
					"The document cannot be modified set by access permission"))
			}
		}
	}
	root, err := xt.Catalog()
	if err != nil {
		return
	}
	if docMDPLocked(xt, root) {
		v.Errors = append(v.Errors, issue(CodeLocked,
			"The document is locked and cannot be modified or signed (certification signature forbids changes)"))
	}
	if n, xfa := interactiveFields(xt, root); n > 0 || xfa {
		msg := fmt.Sprintf("The document contains %d interactive field(s); they are kept as they are and not filled in by signing", n)
		if xfa {
			msg = "The document contains an XFA form, which is not rendered by most viewers and is kept as it is"
		}
		v.Warnings = append(v.Warnings, issue(CodeInteractiveField, msg))
	}
}

// docMDPLocked reports a certification signature whose DocMDP transform
// permits no changes (P = 1).
func docMDPLocked(xt *model.XRefTable, root types.Dict) bool {
	perms := derefDict(xt, root, "Perms")
	if perms == nil {
		return false
	}
	sig := derefDict(xt, perms, "DocMDP")
	if sig == nil {
		return false
	}
	refs, _ := sig.Find("Reference")
	arr, err := xt.DereferenceArray(refs)
	if err != nil {
		return false
	}
	for _, o := range arr {
		ref, err := xt.DereferenceDict(o)
		if err != nil || ref == nil {
			continue
		}
		params := derefDict(xt, ref, "TransformParams")
		if params == nil {
			continue
		}
		if p, ok := params.Find("P"); ok {
			if i, err := xt.DereferenceInteger(p); err == nil && i != nil && i.Value() == 1 {
				return true
			}
		}
	}
	return false
}

// interactiveFields counts the top-level AcroForm fields that are not
// signature fields, and reports an XFA form.
func interactiveFields(xt *model.XRefTable, root types.Dict) (int, bool) {
	form := derefDict(xt, root, "AcroForm")
	if form == nil {
		return 0, false
	}
	_, xfa := form.Find("XFA")
	fo, _ := form.Find("Fields")
	fields, err := xt.DereferenceArray(fo)
	if err != nil {
		return 0, xfa
	}
	n := 0
	for _, o := range fields {
		f, err := xt.DereferenceDict(o)
		if err != nil || f == nil {
			continue
		}
		if ft := f.NameEntry("FT"); ft != nil && *ft == "Sig" {
			continue
		}
		n++
	}
	return n, xfa
}

func derefDict(xt *model.XRefTable, d types.Dict, key string) types.Dict {
	o, ok := d.Find(key)
	if !ok {
		return nil
	}
	out, err := xt.DereferenceDict(o)
	if err != nil {
		return nil
	}
	return out
}
