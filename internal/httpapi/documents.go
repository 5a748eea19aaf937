package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/validation"
)

// maxParts caps the parts of a multipart upload: the four it knows, and
// room for a client's stray extra field or two to be named in the answer.
const maxParts = 8

// multipartSlack is what multipart framing and text fields may add to the
// file itself.
const multipartSlack = 1 << 20

// DocumentRoutes serves /api/v1/documents.
func DocumentRoutes(docs *document.Service) func(e *echo.Echo, api *echo.Group) {
	h := &documentHandlers{docs: docs}
	return func(_ *echo.Echo, api *echo.Group) {
		api.POST("/documents", h.create)
		api.GET("/documents", h.list)
		api.GET("/documents/:id", h.get)
		api.GET("/documents/:id/content", h.content)
		api.PATCH("/documents/:id", h.update)
		api.DELETE("/documents/:id", h.delete)
	}
}

type documentHandlers struct{ docs *document.Service }

func documentETag(d *document.Document) string { return `"v` + strconv.Itoa(d.Version) + `"` }

// uploadQuery are the query parameters of an upload (Signicat's).
var uploadQuery = []string{"filename", "title", "description"}

func (h *documentHandlers) create(c echo.Context) error {
	r := c.Request()
	mt, err := requireContentType(c, "multipart/form-data", document.MimeType)
	if err != nil {
		return err
	}
	var bad []InvalidParam
	meta := document.Meta{}
	q := r.URL.Query()
	for name := range q {
		if !contains(uploadQuery, name) {
			bad = append(bad, InvalidParam{Name: name, Reason: "unknown query parameter; known: " + strings.Join(uploadQuery, ", ")})
		}
	}
	meta.Filename, meta.Title, meta.Description = q.Get("filename"), q.Get("title"), q.Get("description")
	limit := h.docs.MaxSize()
	if mt == document.MimeType && r.ContentLength > limit ||
		mt != document.MimeType && r.ContentLength > limit+multipartSlack {
		return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("the document exceeds the limit of %d bytes", limit))
	}

	var up *document.Upload
	defer func() { _ = up.Close() }()
	receive := func(body io.Reader) error {
		rr := &recordingReader{r: body}
		u, err := h.docs.Receive(r.Context(), rr)
		if err != nil {
			return uploadError(err, rr.err)
		}
		up = u
		return nil
	}
	if mt == document.MimeType {
		if err := receive(r.Body); err != nil {
			return err
		}
	} else {
		mr, err := r.MultipartReader()
		if err != nil {
			return NewProblem(http.StatusBadRequest, "malformed_multipart", "malformed multipart body: "+err.Error())
		}
		for parts := 0; ; parts++ {
			if parts == maxParts {
				// Stop reading: a body of a million empty parts must cost
				// neither memory nor a response listing each of them.
				c.Response().Header().Set(echo.HeaderConnection, "close")
				return NewProblem(http.StatusBadRequest, "too_many_parts",
					fmt.Sprintf("a document upload has at most %d multipart parts: file, filename, title, description", maxParts))
			}
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				if p := bodyProblem(err); p != nil {
					return p
				}
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
						fmt.Sprintf("the document exceeds the limit of %d bytes", limit))
				}
				return NewProblem(http.StatusBadRequest, "malformed_multipart", "malformed multipart body: "+err.Error())
			}
			switch name := part.FormName(); name {
			case "file":
				if up != nil {
					bad = append(bad, InvalidParam{Name: "file", Reason: "only one file per request"})
					continue
				}
				if err := receive(part); err != nil {
					return err
				}
				if meta.Filename == "" {
					meta.Filename = part.FileName()
				}
			case "filename", "title", "description":
				b, err := io.ReadAll(io.LimitReader(part, 4096))
				if p := bodyProblem(err); p != nil {
					return p
				}
				if err != nil {
					return NewProblem(http.StatusBadRequest, "malformed_multipart", "malformed multipart body: "+err.Error())
				}
				v := string(b)
				switch name {
				case "filename":
					meta.Filename = v
				case "title":
					meta.Title = v
				case "description":
					meta.Description = v
				}
			default:
				bad = append(bad, InvalidParam{Name: name, Reason: "unknown form field; send the PDF in the field \"file\" and optionally filename, title, description"})
			}
		}
		if up == nil {
			bad = append(bad, InvalidParam{Name: "file", Reason: "required: the PDF as a multipart file field named \"file\""})
		}
	}
	if err := document.CheckMeta(document.Meta{Filename: document.CleanFilename(meta.Filename), Title: meta.Title, Description: meta.Description}); err != nil {
		bad = append(bad, fieldParams(err)...)
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	d, err := h.docs.Create(r.Context(), APIKey(c).Scope(), up, meta)
	if err != nil {
		return fieldProblem(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/documents/"+d.ID)
	c.Response().Header().Set("ETag", documentETag(d))
	return c.JSON(http.StatusCreated, d.View())
}

// uploadError turns a failed receive into the right problem: the client's
// body failing to arrive is 4xx, our spool failing is 5xx.
func uploadError(err, readErr error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, document.ErrTooLarge):
		return err
	case bodyProblem(readErr) != nil:
		return bodyProblem(readErr)
	case errors.As(readErr, &mbe):
		return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("the request body exceeds the limit of %d bytes", mbe.Limit))
	case readErr != nil:
		return NewProblem(http.StatusBadRequest, "incomplete_body", "the upload could not be read completely: "+readErr.Error())
	}
	return err
}

// recordingReader remembers the error its source returned.
type recordingReader struct {
	r   io.Reader
	err error
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func (h *documentHandlers) list(c echo.Context) error {
	values := c.QueryParams()
	q, bad := listParams(values, document.SortFields, "signable")
	var f document.Filter
	f.Signable, bad = boolParam(values, "signable", bad)
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	page, err := h.docs.List(c.Request().Context(), APIKey(c).Scope(), q, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toListResponse(q, page, (*document.Document).View))
}

func (h *documentHandlers) get(c echo.Context) error {
	d, err := h.docs.Get(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return err
	}
	etag := documentETag(d)
	c.Response().Header().Set("ETag", etag)
	if noneMatch(c.Request().Header.Get("If-None-Match"), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSON(http.StatusOK, d.View())
}

func (h *documentHandlers) content(c echo.Context) error {
	d, rc, err := h.docs.Open(c.Request().Context(), APIKey(c).Scope(), c.Param("id"))
	if err != nil {
		return err
	}
	defer rc.Close()
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentType, d.MimeType)
	hd.Set(echo.HeaderContentLength, strconv.FormatInt(d.Size, 10))
	hd.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
	hd.Set("ETag", documentETag(d))
	hd.Set("X-Content-Type-Options", "nosniff")
	c.Response().WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.Response(), rc); err != nil {
		// The status is sent; all that is left is to cut the response short.
		Logger(c.Request().Context()).Warn("document download interrupted", "document_id", d.ID, "err", err)
	}
	return nil
}

type updateDocumentRequest struct {
	Filename    *string `json:"filename"`
	Title       *string `json:"title"`
	Description *string `json:"description"`
}

func (h *documentHandlers) update(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	var req updateDocumentRequest
	bad, err := bindJSON(c, &req, "application/json", "application/merge-patch+json")
	if err != nil {
		return err
	}
	p := document.Patch{Filename: req.Filename, Title: req.Title, Description: req.Description}
	if err := document.CheckPatch(p); err != nil {
		bad = append(bad, fieldParams(err)...)
	}
	if len(bad) > 0 {
		return NewValidationProblem(bad)
	}
	d, err := h.docs.Update(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), p, match)
	if err != nil {
		return fieldProblem(err)
	}
	c.Response().Header().Set("ETag", documentETag(d))
	return c.JSON(http.StatusOK, d.View())
}

func (h *documentHandlers) delete(c echo.Context) error {
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	if err := h.docs.Delete(c.Request().Context(), APIKey(c).Scope(), c.Param("id"), match); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ifMatch turns an If-Match header into a precondition on the version
// ETag ("v3"). Weak tags never match (RFC 9110 strong comparison).
func ifMatch(c echo.Context) (document.Precondition, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" {
		return nil, nil
	}
	if h == "*" {
		return func(int) bool { return true }, nil
	}
	var versions []int
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if !strings.HasPrefix(tag, `"`) || !strings.HasSuffix(tag, `"`) || len(tag) < 2 {
			if strings.HasPrefix(tag, `W/"`) {
				continue
			}
			return nil, NewValidationProblem([]InvalidParam{{Name: "If-Match", Reason: `must be * or a list of quoted entity tags such as "v1"`}})
		}
		if v, err := strconv.Atoi(strings.TrimPrefix(tag[1:len(tag)-1], "v")); err == nil && strings.HasPrefix(tag, `"v`) {
			versions = append(versions, v)
		}
	}
	return func(current int) bool { return contains(versions, current) }, nil
}

// noneMatch reports whether an If-None-Match header matches etag (weak
// comparison).
func noneMatch(h, etag string) bool {
	if h == "" {
		return false
	}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

// fieldParams converts any domain's field errors to invalidParams.
func fieldParams(err error) []InvalidParam {
	var fe validation.Errors
	if !errors.As(err, &fe) {
		return nil
	}
	out := make([]InvalidParam, 0, len(fe))
	for _, e := range fe {
		out = append(out, InvalidParam{Name: e.Field, Reason: e.Reason})
	}
	return out
}

// fieldProblem answers domain field errors as a validation problem and
// passes anything else through.
func fieldProblem(err error) error {
	if params := fieldParams(err); len(params) > 0 {
		return NewValidationProblem(params)
	}
	return err
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
