package signicat

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/httpapi"
)

// documentIDPrefix is the prefix of document ids (ident.New("doc")).
const documentIDPrefix = "doc"

type documentHandlers struct{ docs *document.Service }

func (h *documentHandlers) routes(g *echo.Group) {
	g.POST("/documents", h.upload)
	g.GET("/documents/:documentId", h.get)
	g.DELETE("/documents/:documentId", h.delete)
	g.GET("/documents/:documentId/metadata", h.metadata)
	g.PUT("/documents/:documentId/metadata", h.updateMetadata)
	g.PATCH("/documents/:documentId/metadata", h.updateMetadata)
}

// documentHash is Signicat's documentHash.
type documentHash struct {
	Hash          string `json:"hash"`
	HashAlgorithm string `json:"hashAlgorithm"`
}

// documentResponse is Signicat's document reference and metadata.
type documentResponse struct {
	DocumentID   string       `json:"documentId"`
	MimeType     string       `json:"mimeType"`
	CreatedAt    time.Time    `json:"createdAt"`
	DocumentHash documentHash `json:"documentHash"`
	Filename     string       `json:"filename,omitempty"`
	Title        string       `json:"title,omitempty"`
	Description  string       `json:"description,omitempty"`
}

// toDocumentResponse converts a stored document. Signicat gives the hash
// in base64; ours is stored in hex.
func toDocumentResponse(d *document.Document) documentResponse {
	sum, _ := hex.DecodeString(d.SHA256)
	return documentResponse{
		DocumentID: toUUID(d.ID), MimeType: d.MimeType, CreatedAt: d.CreatedAt.UTC(),
		DocumentHash: documentHash{Hash: base64.StdEncoding.EncodeToString(sum), HashAlgorithm: "SHA256"},
		Filename:     d.Filename, Title: d.Title, Description: d.Description,
	}
}

// upload stores the raw body: a PDF as sent, or plain text rendered into
// a PDF (simple text signing).
func (h *documentHandlers) upload(c echo.Context) error {
	r := c.Request()
	ct := r.Header.Get(echo.HeaderContentType)
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != document.MimeType && mt != "text/plain") {
		return httpapi.NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
			fmt.Sprintf("Content-Type %q is not accepted; send the document as application/pdf, or text/plain for simple text signing", ct))
	}
	scope := ScopeOf(c)
	var d *document.Document
	if mt == "text/plain" {
		if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") {
			return httpapi.NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"text/plain must be UTF-8 (charset="+cs+" is not accepted)")
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, document.MaxTextSize+1))
		if err != nil {
			return readProblem(err)
		}
		if d, err = h.docs.CreateFromText(r.Context(), scope, string(body), document.Meta{}); err != nil {
			return httpapi.FieldProblem(err)
		}
	} else {
		if r.ContentLength > h.docs.MaxSize() {
			return httpapi.NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
				fmt.Sprintf("the document exceeds the limit of %d bytes", h.docs.MaxSize()))
		}
		up, err := h.docs.Receive(r.Context(), r.Body)
		if err != nil {
			if errors.Is(err, document.ErrTooLarge) {
				return err
			}
			return readProblem(err)
		}
		defer up.Close()
		if d, err = h.docs.Create(r.Context(), scope, up, document.Meta{}); err != nil {
			return httpapi.FieldProblem(err)
		}
	}
	c.Response().Header().Set(echo.HeaderLocation, BasePath+"/documents/"+toUUID(d.ID))
	return c.JSON(http.StatusCreated, toDocumentResponse(d))
}

// readProblem is the 4xx of a body that did not arrive.
func readProblem(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return httpapi.NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("the request body exceeds the limit of %d bytes", mbe.Limit))
	}
	return httpapi.NewProblem(http.StatusBadRequest, "incomplete_body", "the upload could not be read completely: "+err.Error())
}

func documentID(c echo.Context) (string, error) {
	return fromUUID("documentId", documentIDPrefix, c.Param("documentId"))
}

func (h *documentHandlers) get(c echo.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	d, rc, err := h.docs.Open(c.Request().Context(), ScopeOf(c), id)
	if err != nil {
		return err
	}
	defer rc.Close()
	c.Response().Header().Set(echo.HeaderContentLength, fmt.Sprint(d.Size))
	c.Response().Header().Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": d.Filename}))
	return c.Stream(http.StatusOK, d.MimeType, rc)
}

func (h *documentHandlers) delete(c echo.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	if err := h.docs.Delete(c.Request().Context(), ScopeOf(c), id, nil); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *documentHandlers) metadata(c echo.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	d, err := h.docs.Get(c.Request().Context(), ScopeOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toDocumentResponse(d))
}

type metadataRequest struct {
	Filename    *string `json:"filename"`
	Title       *string `json:"title"`
	Description *string `json:"description"`
}

// updateMetadata serves PUT and PATCH alike: Signicat documents PUT, and
// a field left out keeps its value either way.
func (h *documentHandlers) updateMetadata(c echo.Context) error {
	id, err := documentID(c)
	if err != nil {
		return err
	}
	var in metadataRequest
	bad, err := httpapi.BindJSON(c, &in)
	if err != nil {
		return err
	}
	p := document.Patch{Filename: in.Filename, Title: in.Title, Description: in.Description}
	if err := document.CheckPatch(p); err != nil {
		var fe document.FieldErrors
		if errors.As(err, &fe) {
			for _, f := range fe {
				bad = append(bad, httpapi.InvalidParam{Name: f.Field, Reason: f.Reason})
			}
		}
	}
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	d, err := h.docs.Update(c.Request().Context(), ScopeOf(c), id, p, nil)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	return c.JSON(http.StatusOK, toDocumentResponse(d))
}
