package vellum

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Document is an uploaded PDF and its pre-validation report.
type Document struct {
	ID          string     `json:"id"`
	Filename    string     `json:"filename"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	MimeType    string     `json:"mimeType"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	Pages       int        `json:"pages"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	Validation  Validation `json:"validation"`
	// ETag is the response's ETag header, for [WithIfMatch].
	ETag string `json:"-"`
	// SignatureFields are the PDF's own signature form fields, which an
	// envelope's SIGNATURE field can fill by FieldName.
	SignatureFields []SignatureField `json:"signatureFields"`
}

// SignatureField is a signature form field a document carries: its name,
// page (0 when on none), rectangle in PDF points, and whether it is signed.
type SignatureField struct {
	Name   string  `json:"name"`
	Page   int     `json:"page"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Signed bool    `json:"signed"`
}

// Validation is a document's pre-validation report, with RemSig's codes.
// Any error makes the document unsignable.
type Validation struct {
	Signable bool              `json:"signable"`
	Errors   []ValidationIssue `json:"errors"`
	Warnings []ValidationIssue `json:"warnings"`
}

// ValidationIssue is one finding: code 1 ENCRYPTED … 8 UNKNOWN_ERROR.
type ValidationIssue struct {
	Code    int    `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// UploadParams describe an uploaded PDF. All are optional; the filename
// defaults to the server's choice.
type UploadParams struct {
	Filename    string
	Title       string
	Description string
	// Size is the content's length in bytes, or 0 when unknown (the body is
	// then sent chunked). It is found by itself for *bytes.Reader,
	// *strings.Reader and *os.File.
	Size int64
}

// DocumentUpdate changes a document's metadata; nil members are kept.
type DocumentUpdate struct {
	Filename    *string `json:"filename,omitempty"`
	Title       *string `json:"title,omitempty"`
	Description *string `json:"description,omitempty"`
}

// DocumentListParams filter a document listing.
type DocumentListParams struct {
	ListParams
	// Signable, when set, keeps only documents that can (true) or cannot
	// (false) be signed.
	Signable *bool
}

// DocumentService is the /api/v1/documents resource.
type DocumentService struct{ c *Client }

// Upload streams content to the server as multipart/form-data without
// holding it in memory. When content is an io.Seeker the upload can be
// retried (after a 429 or 503) from its start position; otherwise it is
// sent once.
func (s *DocumentService) Upload(ctx context.Context, content io.Reader, p *UploadParams) (*Document, error) {
	if p == nil {
		p = &UploadParams{}
	}
	size := p.Size
	if size <= 0 {
		size = knownSize(content)
	}
	start := int64(-1)
	seeker, _ := content.(io.Seeker)
	if seeker != nil {
		pos, err := seeker.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("vellum: upload: %w", err)
		}
		start = pos
	}

	// The boundary is chosen once so every attempt sends the same bytes and
	// Content-Type, which the server's Idempotency-Key check compares.
	var head, tail bytes.Buffer
	sw := &switchWriter{w: &head}
	mw := multipart.NewWriter(sw)
	for _, f := range [][2]string{{"filename", p.Filename}, {"title", p.Title}, {"description", p.Description}} {
		if f[1] != "" {
			if err := mw.WriteField(f[0], f[1]); err != nil {
				return nil, fmt.Errorf("vellum: upload: %w", err)
			}
		}
	}
	name := p.Filename
	if name == "" {
		name = "document.pdf"
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+quoteEscaper.Replace(name)+`"`)
	h.Set("Content-Type", "application/pdf")
	if _, err := mw.CreatePart(h); err != nil {
		return nil, fmt.Errorf("vellum: upload: %w", err)
	}
	sw.w = &tail
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("vellum: upload: %w", err)
	}

	sent := false
	body := func() (io.Reader, int64, error) {
		if sent {
			if seeker == nil {
				return nil, 0, errNotReplayable
			}
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return nil, 0, fmt.Errorf("rewind upload: %w", err)
			}
		}
		sent = true
		n := int64(-1)
		if size > 0 {
			n = int64(head.Len()) + size + int64(tail.Len())
		}
		// An io.NopCloser keeps net/http from closing the caller's reader.
		return io.MultiReader(bytes.NewReader(head.Bytes()), io.NopCloser(content), bytes.NewReader(tail.Bytes())), n, nil
	}
	var d Document
	err := s.c.call(ctx, &request{
		method: http.MethodPost, path: "/api/v1/documents",
		body: body, contentType: mw.FormDataContentType(),
	}, &d)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "")

type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

func knownSize(r io.Reader) int64 {
	switch v := r.(type) {
	case *bytes.Reader:
		return int64(v.Len())
	case *strings.Reader:
		return int64(v.Len())
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return 0
		}
		pos, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0
		}
		return fi.Size() - pos
	}
	return 0
}

// Get fetches a document's metadata.
func (s *DocumentService) Get(ctx context.Context, id string) (*Document, error) {
	var d Document
	if err := s.c.getJSON(ctx, pathf("/api/v1/documents/%s", id), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Update changes a document's filename, title or description.
func (s *DocumentService) Update(ctx context.Context, id string, u *DocumentUpdate) (*Document, error) {
	var d Document
	if err := s.c.sendJSON(ctx, http.MethodPatch, pathf("/api/v1/documents/%s", id), u, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Delete deletes a document and its bytes.
func (s *DocumentService) Delete(ctx context.Context, id string) error {
	return s.c.sendJSON(ctx, http.MethodDelete, pathf("/api/v1/documents/%s", id), nil, nil)
}

// List walks the caller's documents, newest first unless sorted otherwise.
func (s *DocumentService) List(ctx context.Context, p *DocumentListParams) iter.Seq2[Document, error] {
	var q url.Values
	if p == nil {
		q = (*ListParams)(nil).values()
	} else {
		q = p.values()
		if p.Signable != nil {
			q.Set("signable", strconv.FormatBool(*p.Signable))
		}
	}
	return list[Document](ctx, s.c, "/api/v1/documents", q)
}

// Download streams the PDF as uploaded. The caller must close the reader.
func (s *DocumentService) Download(ctx context.Context, id string) (*Download, error) {
	return s.c.download(ctx, &request{method: http.MethodGet, path: pathf("/api/v1/documents/%s/content", id)})
}

// Download is a streamed file: read it, then close it.
type Download struct {
	io.ReadCloser
	// ContentType is application/pdf or application/zip.
	ContentType string
	// Filename is the name from Content-Disposition, if any.
	Filename string
	// Size is the length in bytes, or -1 when the server did not say.
	Size int64
}

func (c *Client) download(ctx context.Context, r *request) (*Download, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	d := &Download{ReadCloser: resp.Body, ContentType: resp.Header.Get("Content-Type"), Size: resp.ContentLength}
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil {
			d.Filename = params["filename"]
		}
	}
	return d, nil
}

// WriteTo copies the download to w and closes it.
func (d *Download) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, d.ReadCloser)
	if cerr := d.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	return n, err
}

func (v *Document) setETag(etag string) { v.ETag = etag }
