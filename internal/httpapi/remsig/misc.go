package remsig

import (
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/pinpage"
	"github.com/vellum-sign/vellum/pkg/pades"
)

// issueJSON is one validation finding as RemSig shows it.
type issueJSON struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func toIssues(in []document.Issue) []issueJSON {
	out := make([]issueJSON, 0, len(in))
	for _, i := range in {
		out = append(out, issueJSON{Code: int(i.Code), Message: i.Message})
	}
	return out
}

type codesResponse struct {
	OperationID int64       `json:"operationId"`
	Errors      []issueJSON `json:"errors"`
	Warnings    []issueJSON `json:"warnings"`
}

// codeMessages are RemSig's descriptions of its codes.
var codeMessages = []issueJSON{
	{int(pades.CodeEncrypted), "The document is encrypted"},
	{int(pades.CodeInteractiveField), "The document contains at least 1 interactive field"},
	{int(pades.CodeReadOnly), "The document has read-only access permission set"},
	{int(pades.CodeUnmodifiable), "The document cannot be modified set by access permission"},
	{int(pades.CodeLocked), "The document is locked and cannot be modified or signed"},
	{int(pades.CodeSigningError), "The document cannot be signed"},
	{int(pades.CodeVisibleWatermarkOverlap), "The visible signature watermark overlaps with the existing area"},
	{int(pades.CodeUnknownError), "Unknown error"},
}

// validateCodes lists every code, as errors and as warnings: any code
// can be either, depending on the document and the request.
func (h *handlers) validateCodes(c echo.Context) error {
	return c.JSON(http.StatusOK, codesResponse{OperationID: opID(c), Errors: codeMessages, Warnings: codeMessages})
}

type validateRequest struct {
	Data      *dataJSON      `json:"data"`
	Watermark *watermarkJSON `json:"watermark"`
}

type validateResponse struct {
	OperationID int64       `json:"operationId"`
	Signable    bool        `json:"signable"`
	Errors      []issueJSON `json:"errors"`
	Warnings    []issueJSON `json:"warnings"`
}

func (h *handlers) validatePDF(c echo.Context, k *account.Key) error {
	var req validateRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	fe := &fieldErrs{}
	in := fe.toTaskInput(batch.KindPDF, taskCommon{Data: req.Data}, nil, "", ".pdf")
	if req.Data == nil {
		fe.add("data", "required: data.bytes (base64) or data.http")
	}
	var w *batch.Watermark
	if m := req.Watermark; m != nil && (m.Insert == nil || *m.Insert) {
		w = &batch.Watermark{Text: str(m.Text), Position: str(m.Position), Page: str(m.Page)}
	}
	if len(fe.list) > 0 {
		return httpapi.NewValidationProblem(fe.list)
	}
	ctx := c.Request().Context()
	pdf := in.Data
	if pdf == nil {
		var err error
		if pdf, err = h.Batches.FetchSource(ctx, in.Options.Source, "data.http.url"); err != nil {
			return httpapi.FieldProblem(err)
		}
	}
	v, err := batch.ValidatePDF(ctx, pdf, w)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	return c.JSON(http.StatusOK, validateResponse{OperationID: opID(c), Signable: v.Signable,
		Errors: toIssues(v.Errors), Warnings: toIssues(v.Warnings)})
}

type serverJSON struct {
	Name string `json:"name"`
}

type serversResponse struct {
	OperationID int64 `json:"operationId"`
	pageInfo
	Servers []serverJSON `json:"servers"`
}

func (h *handlers) timestampServers(c echo.Context, _ *account.Key) error {
	names := h.Batches.Servers()
	out := make([]serverJSON, 0, len(names))
	for _, n := range names {
		out = append(out, serverJSON{Name: n})
	}
	// Not paged: RemSig answers with the largest page size.
	info := pageInfo{Page: 0, Size: 1<<63 - 1, TotalElements: int64(len(out)), TotalPages: 1}
	return c.JSON(http.StatusOK, serversResponse{OperationID: opID(c), pageInfo: info, Servers: out})
}

// maxQueryBytes bounds a relayed timestamp query (a real one is ~100 bytes).
const maxQueryBytes = 64 << 10

func (h *handlers) relay(c echo.Context, _ *account.Key) error {
	name := c.Param("serverName")
	for _, q := range []string{"server", "name", "serverName", "server_name"} {
		if name == "" {
			name = c.QueryParam(q)
		}
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxQueryBytes+1))
	if err != nil {
		return err
	}
	if len(body) == 0 || len(body) > maxQueryBytes {
		return httpapi.NewProblem(http.StatusBadRequest, "invalid_timestamp_query",
			"the body must be an RFC 3161 timestamp query (application/timestamp-query) of at most 64 KiB")
	}
	ct, reply, err := h.Batches.Relay(c.Request().Context(), name, body)
	if err != nil {
		return err
	}
	if ct == "" {
		ct = "application/timestamp-reply"
	}
	return c.Blob(http.StatusOK, ct, reply)
}

// certificateRef picks a person's certificate: personUniqueId and
// certificateIndex (or index, as RemSig's examples spell it).
type certificateRef struct {
	PersonUniqueID   *string `json:"personUniqueId"`
	CertificateIndex *int    `json:"certificateIndex"`
	Index            *int    `json:"index"`
}

func (r certificateRef) resolve(c echo.Context, h *handlers, k *account.Key) (*person.Person, *person.Certificate, error) {
	var bad []httpapi.InvalidParam
	if r.PersonUniqueID == nil || *r.PersonUniqueID == "" {
		bad = append(bad, httpapi.InvalidParam{Name: "personUniqueId", Reason: "required"})
	}
	idx := r.CertificateIndex
	if idx == nil {
		idx = r.Index
	}
	if r.CertificateIndex != nil && r.Index != nil && *r.CertificateIndex != *r.Index {
		bad = append(bad, httpapi.InvalidParam{Name: "index", Reason: "differs from certificateIndex; give one"})
	}
	if len(bad) > 0 {
		return nil, nil, httpapi.NewValidationProblem(bad)
	}
	ctx := c.Request().Context()
	p, err := h.Persons.GetByUniqueID(ctx, k.Scope(), *r.PersonUniqueID)
	if err != nil {
		return nil, nil, err
	}
	cert, err := h.Persons.CertificateForSigning(ctx, k.Scope(), p.ID, idx)
	if err != nil {
		return nil, nil, err
	}
	return p, cert, nil
}

func (h *handlers) setDisabled(disabled bool) keyedHandler {
	return func(c echo.Context, k *account.Key) error {
		var req certificateRef
		if err := bind(c, &req); err != nil {
			return err
		}
		p, cert, err := req.resolve(c, h, k)
		if err != nil {
			return err
		}
		st := person.StatusValid
		if disabled {
			st = person.StatusDisabled
		}
		cert, err = h.Persons.UpdateCertificate(c.Request().Context(), k.Scope(), p.ID, cert.ID, person.CertificatePatch{Status: &st}, nil)
		if err != nil {
			return httpapi.FieldProblem(err)
		}
		return c.JSON(http.StatusOK, certificateResponse{OperationID: opID(c), Certificate: toCertificateJSON(cert, p)})
	}
}

type resetRedirectsJSON struct {
	Success *string `json:"success"`
	Cancel  *string `json:"cancel"`
	Error   *string `json:"error"`
	Expired *string `json:"expired"`
}

type resetRequest struct {
	certificateRef
	Redirects *resetRedirectsJSON `json:"redirects"`
}

type resetResponse struct {
	OperationID int64  `json:"operationId"`
	URL         string `json:"url"`
	ValidUntil  int64  `json:"validUntil"`
}

func (h *handlers) resetPassword(c echo.Context, k *account.Key) error {
	var req resetRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	var r person.PINReset
	if rd := req.Redirects; rd != nil {
		var bad []httpapi.InvalidParam
		for _, v := range []struct {
			name string
			val  *string
			dst  *string
		}{{"success", rd.Success, &r.RedirectSuccess}, {"cancel", rd.Cancel, &r.RedirectCancel},
			{"error", rd.Error, &r.RedirectError}, {"expired", rd.Expired, &r.RedirectExpired}} {
			if s := str(v.val); s != "" {
				if !redirectOK(s) {
					bad = append(bad, httpapi.InvalidParam{Name: "redirects." + v.name, Reason: "must be an absolute http(s) URL of at most 2048 characters"})
				}
				*v.dst = s
			}
		}
		if len(bad) > 0 {
			return httpapi.NewValidationProblem(bad)
		}
	}
	_, cert, err := req.resolve(c, h, k)
	if err != nil {
		return err
	}
	token, reset, err := h.Persons.NewPINReset(c.Request().Context(), k.Scope(), cert.ID, r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resetResponse{OperationID: opID(c), URL: pinpage.ResetURL(strings.TrimRight(h.PublicURL, "/"), token),
		ValidUntil: millis(reset.ExpiresAt)})
}

func redirectOK(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && len(v) <= 2048
}
