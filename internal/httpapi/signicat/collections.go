package signicat

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/collection"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/packaging"
)

// collectionIDPrefix is the prefix of collection ids (ident.New("dcl")).
const collectionIDPrefix = "dcl"

type collectionHandlers struct {
	collections *collection.Service
	packages    *packaging.Service
}

// signicatPackage is a built package as Signicat's output shows it.
type signicatPackage struct {
	PackageType string    `json:"packageType"`
	DocumentID  string    `json:"documentId"`
	CreatedAt   time.Time `json:"createdAt"`
}

func (h *collectionHandlers) routes(g *echo.Group) {
	g.POST("/document-collections", h.create)
	g.GET("/document-collections/:documentCollectionId", h.get)
	g.DELETE("/document-collections/:documentCollectionId", h.delete)
}

// documentReference is Signicat's DocumentReference.
type documentReference struct {
	DocumentID string `json:"documentId"`
}

type collectionRequest struct {
	Documents []documentReference `json:"documents"`
	PackageTo []string            `json:"packageTo"`
}

type collectionOutput struct {
	Packages []signicatPackage `json:"packages"`
}

type collectionResponse struct {
	ID        string              `json:"id"`
	Documents []documentReference `json:"documents"`
	PackageTo []string            `json:"packageTo"`
	Output    collectionOutput    `json:"output"`
}

func (h *collectionHandlers) toResponse(c echo.Context, col *collection.Collection) (collectionResponse, error) {
	out := collectionResponse{ID: toUUID(col.ID), Documents: []documentReference{}, PackageTo: []string{},
		Output: collectionOutput{Packages: []signicatPackage{}}}
	for _, id := range col.DocumentIDs {
		out.Documents = append(out.Documents, documentReference{DocumentID: toUUID(id)})
	}
	for _, p := range col.Packages() {
		out.PackageTo = append(out.PackageTo, string(p))
	}
	if h.packages != nil {
		built, err := h.packages.List(c.Request().Context(), ScopeOf(c), col.ID)
		if err != nil {
			return out, err
		}
		for _, p := range built {
			if p.Status == packaging.StatusReady {
				out.Output.Packages = append(out.Output.Packages,
					signicatPackage{PackageType: p.PackageType, DocumentID: toUUID(p.DocumentID), CreatedAt: p.UpdatedAt.UTC()})
			}
		}
	}
	return out, nil
}

func (h *collectionHandlers) create(c echo.Context) error {
	var in collectionRequest
	bad, err := httpapi.BindJSON(c, &in)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(in.Documents))
	for i, d := range in.Documents {
		if reason := badUUID(d.DocumentID); reason != "" {
			bad = append(bad, httpapi.InvalidParam{Name: "documents[" + itoa(i) + "].documentId", Reason: reason})
			continue
		}
		id, _ := fromUUID("", documentIDPrefix, d.DocumentID)
		ids = append(ids, id)
	}
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	pkgs := make([]collection.PackageType, len(in.PackageTo))
	for i, p := range in.PackageTo {
		pkgs[i] = collection.PackageType(p)
	}
	col, err := h.collections.Create(c.Request().Context(), ScopeOf(c), ids, pkgs)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	resp, err := h.toResponse(c, col)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, BasePath+"/document-collections/"+resp.ID)
	return c.JSON(http.StatusCreated, resp)
}

func collectionID(c echo.Context) (string, error) {
	return fromUUID("documentCollectionId", collectionIDPrefix, c.Param("documentCollectionId"))
}

func (h *collectionHandlers) get(c echo.Context) error {
	id, err := collectionID(c)
	if err != nil {
		return err
	}
	col, err := h.collections.Get(c.Request().Context(), ScopeOf(c), id)
	if err != nil {
		return err
	}
	resp, err := h.toResponse(c, col)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resp)
}

func (h *collectionHandlers) delete(c echo.Context) error {
	id, err := collectionID(c)
	if err != nil {
		return err
	}
	if err := h.collections.Delete(c.Request().Context(), ScopeOf(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
