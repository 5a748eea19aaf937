package remsig

import (
	"context"
	"encoding/hex"
	"math/big"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/person"
)

// personRef is a person as RemSig embeds it.
type personRef struct {
	ID       int64   `json:"id"`
	UniqueID string  `json:"uniqueId"`
	Email    *string `json:"email"`
}

// certificateJSON is RemSig's certificate object.
type certificateJSON struct {
	ID           int64      `json:"id"`
	Index        int        `json:"index"`
	Type         string     `json:"type"`
	Encoded      []byte     `json:"encoded"`
	Subject      string     `json:"subject"`
	Issuer       string     `json:"issuer"`
	SerialNumber *big.Int   `json:"serialNumber"`
	NotBefore    int64      `json:"notBefore"`
	NotAfter     int64      `json:"notAfter"`
	Disabled     bool       `json:"disabled"`
	PersonID     int64      `json:"personId"`
	Person       *personRef `json:"person"`
}

func toPersonRef(p *person.Person) *personRef {
	if p == nil {
		return nil
	}
	r := &personRef{ID: p.Number, UniqueID: p.UniqueID}
	if p.Email != "" {
		r.Email = &p.Email
	}
	return r
}

func toCertificateJSON(c *person.Certificate, p *person.Person) certificateJSON {
	serial := new(big.Int)
	if b, err := hex.DecodeString(c.SerialNumber); err == nil {
		serial.SetBytes(b)
	}
	out := certificateJSON{ID: c.Number, Index: c.Index, Type: string(c.Type), Encoded: c.DER,
		Subject: c.Subject, Issuer: c.Issuer, SerialNumber: serial,
		NotBefore: millis(c.NotBefore), NotAfter: millis(c.NotAfter),
		// RemSig has one flag for "cannot be used": disabled or revoked.
		Disabled: c.Disabled || c.RevokedAt != nil, Person: toPersonRef(p)}
	if p != nil {
		out.PersonID = p.Number
	}
	return out
}

type certificateListResponse struct {
	OperationID int64 `json:"operationId"`
	pageInfo
	Certificates []certificateJSON `json:"certificates"`
}

func (h *handlers) listCertificates(c echo.Context, k *account.Key) error {
	q, page, size, bad := pageParams(c, person.AccountCertificateSortFields)
	var f person.CertificateFilter
	if v := c.QueryParam("serialNumber"); v != "" {
		n, ok := new(big.Int).SetString(v, 10)
		if !ok || n.Sign() < 0 {
			bad = append(bad, httpapi.InvalidParam{Name: "serialNumber", Reason: "must be a non-negative decimal integer"})
		} else {
			f.SerialNumber = person.SerialHex(n)
		}
	}
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	ctx := c.Request().Context()
	res, err := h.Persons.ListAccountCertificates(ctx, k.Scope(), q, f)
	if err != nil {
		return err
	}
	certs, err := h.withPersons(ctx, k.Scope(), res.Items)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, certificateListResponse{OperationID: opID(c), pageInfo: newPageInfo(page, size, res.Total),
		Certificates: certs})
}

// withPersons renders certificates with their persons.
func (h *handlers) withPersons(ctx context.Context, scope account.Scope, items []person.Certificate) ([]certificateJSON, error) {
	ids := make([]string, 0, len(items))
	for _, c := range items {
		ids = append(ids, c.PersonID)
	}
	persons, err := h.Persons.PersonsByID(ctx, scope, ids)
	if err != nil {
		return nil, err
	}
	out := make([]certificateJSON, 0, len(items))
	for i := range items {
		out = append(out, toCertificateJSON(&items[i], persons[items[i].PersonID]))
	}
	return out, nil
}

type certificateResponse struct {
	OperationID int64           `json:"operationId"`
	Certificate certificateJSON `json:"certificate"`
}

// findPerson resolves a person by RemSig's integer id or uniqueId.
func (h *handlers) findPerson(ctx context.Context, scope account.Scope, id, uniqueID string) (*person.Person, error) {
	switch {
	case id != "" && uniqueID != "":
		return nil, httpapi.NewValidationProblem([]httpapi.InvalidParam{{Name: "id", Reason: "give id or uniqueId, not both"}})
	case id != "":
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 1 {
			return nil, httpapi.NewValidationProblem([]httpapi.InvalidParam{{Name: "id", Reason: "must be a positive integer"}})
		}
		return h.Persons.GetByNumber(ctx, scope, n)
	case uniqueID != "":
		return h.Persons.GetByUniqueID(ctx, scope, uniqueID)
	}
	return nil, httpapi.NewValidationProblem([]httpapi.InvalidParam{{Name: "uniqueId", Reason: "required: give the person's id or uniqueId"}})
}

func (h *handlers) latestValid(c echo.Context, k *account.Key) error {
	ctx := c.Request().Context()
	var t person.Type
	if v := c.QueryParam("type"); v != "" {
		t = person.Type(v)
		if t != person.TypePersonal && t != person.TypeSeal && t != person.TypeServer {
			return httpapi.NewValidationProblem([]httpapi.InvalidParam{{Name: "type", Reason: "must be one of PERSONAL, SEAL, SERVER"}})
		}
	}
	p, err := h.findPerson(ctx, k.Scope(), c.QueryParam("id"), c.QueryParam("uniqueId"))
	if err != nil {
		return err
	}
	cert, err := h.Persons.LatestValidCertificate(ctx, k.Scope(), p.ID, t)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, certificateResponse{OperationID: opID(c), Certificate: toCertificateJSON(cert, p)})
}
