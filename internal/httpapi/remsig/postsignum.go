package remsig

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/certrequest"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/pinpage"
)

// postSignumRoutes mounts RemSig's PostSignum certificate requests.
func (h *handlers) postSignumRoutes(e *echo.Echo) {
	const base = "/api/manage/certificate/postsignum/request/"
	e.POST(base+"create", h.op(account.RoleUser, h.createPSRequest))
	e.GET(base, h.op(account.RoleUser, h.listPSRequests), etag)
	e.GET(base+":id", h.op(account.RoleUser, h.psRequest(h.getPSRequest)), etag)
	e.GET(base+":id/state", h.op(account.RoleUser, h.psRequest(h.psRequestState)), etag)
	e.POST(base+":id/approve", h.op(account.RoleUser, h.psRequest(h.approvePSRequest)))
	e.POST(base+":id/deny", h.op(account.RoleUser, h.psRequest(h.denyPSRequest)))
	e.PATCH(base+":id", h.op(account.RoleManager, h.psRequest(h.patchPSRequest)))
	e.DELETE(base+":id", h.op(account.RoleUser, h.psRequest(h.deletePSRequest)))
}

type psHandler func(c echo.Context, k *account.Key, n int64) error

// psRequest reads the integer id of the path (RemSig's {id:\d+}).
func (h *handlers) psRequest(next psHandler) keyedHandler {
	return func(c echo.Context, k *account.Key) error {
		if h.Requests == nil {
			return echo.ErrNotFound
		}
		v := c.Param("id")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || strings.TrimLeft(v, "0123456789") != "" {
			return echo.ErrNotFound // not RemSig's {id:\d+}: no such route
		}
		return next(c, k, n)
	}
}

type psRedirectsJSON struct {
	Success *string `json:"success"`
	Cancel  *string `json:"cancel"`
	Error   *string `json:"error"`
}

type psCreateRequest struct {
	PersonUniqueID         *string          `json:"personUniqueId"`
	DegreeBefore           *string          `json:"degreeBefore"`
	DegreeAfter            *string          `json:"degreeAfter"`
	FirstName              *string          `json:"firstName"`
	LastName               *string          `json:"lastName"`
	BirthCertificateNumber *string          `json:"birthCertificateNumber"`
	Gender                 *string          `json:"gender"`
	InsertMPSV             *bool            `json:"insertMPSV"`
	Emails                 []string         `json:"emails"`
	Position               *string          `json:"position"`
	Workplace              *string          `json:"workplace"`
	Country                *string          `json:"country"`
	MultiYear              *bool            `json:"multiYear"`
	OrganizationUnitID     *int64           `json:"organizationUnitId"`
	Redirects              *psRedirectsJSON `json:"redirects"`
	CertificateIndex       *int             `json:"certificateIndex"`
	ExternalCertificate    *string          `json:"externalCertificate"`
	SubsequentRequest      *bool            `json:"subsequentRequest"`
}

// certificateRequestJSON is the certificate request inside a PostSignum
// request: the platform CA issues without a PKCS #10 request, so request
// is null with it.
type certificateRequestJSON struct {
	ID                    int64   `json:"id"`
	Type                  string  `json:"type"`
	Request               *string `json:"request"`
	SubjectKey            *string `json:"subjectKey"`
	PersonID              int64   `json:"personId"`
	ImportedCertificateID *int64  `json:"importedCertificateId"`
}

type psRequestJSON struct {
	CreationDate                   int64                   `json:"creationDate"`
	LastModifiedDate               int64                   `json:"lastModifiedDate"`
	ID                             int64                   `json:"id"`
	UUID                           string                  `json:"uuid"`
	DegreeBefore                   *string                 `json:"degreeBefore"`
	DegreeAfter                    *string                 `json:"degreeAfter"`
	FirstName                      string                  `json:"firstName"`
	LastName                       string                  `json:"lastName"`
	Gender                         *certrequest.Gender     `json:"gender"`
	InsertMPSV                     bool                    `json:"insertMPSV"`
	Emails                         []string                `json:"emails"`
	Position                       *string                 `json:"position"`
	Workplace                      *string                 `json:"workplace"`
	Country                        string                  `json:"country"`
	MultiYear                      bool                    `json:"multiYear"`
	Requester                      *personRef              `json:"requester"`
	OrganizationUnitID             *int64                  `json:"organizationUnitId"`
	Approved                       bool                    `json:"approved"`
	ApprovedDate                   *int64                  `json:"approvedDate"`
	Denied                         bool                    `json:"denied"`
	DeniedDate                     *int64                  `json:"deniedDate"`
	CertificateRequest             *certificateRequestJSON `json:"certificateRequest"`
	Redirects                      psRedirectsJSON         `json:"redirects"`
	Certificate                    *certificateJSON        `json:"certificate"`
	ExternalCertificate            *string                 `json:"externalCertificate"`
	SubsequentFor                  *certificateJSON        `json:"subsequentFor"`
	PostSignumRequestMessage       *string                 `json:"postSignumRequestMessage"`
	PostSignumRequestMessageSigned *string                 `json:"postSignumRequestMessageSigned"`
	State                          certrequest.State       `json:"state"`
	PostSignumRequestID            *string                 `json:"postSignumRequestId"`
	ExpirationDate                 int64                   `json:"expirationDate"`
	DeletionDate                   int64                   `json:"deletionDate"`
	RedirectURL                    *string                 `json:"redirectUrl"`
}

type psRequestResponse struct {
	OperationID int64         `json:"operationId"`
	Request     psRequestJSON `json:"request"`
}

type psRequestListResponse struct {
	OperationID int64 `json:"operationId"`
	pageInfo
	Requests []psRequestJSON `json:"requests"`
}

// millisOrNull renders an optional time.
func millisOrNull(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := millis(*t)
	return &v
}

// toPSRequestJSON renders r.
func (h *handlers) toPSRequestJSON(ctx context.Context, scope account.Scope, r *certrequest.Request, p *person.Person) (psRequestJSON, error) {
	out := psRequestJSON{CreationDate: millis(r.CreatedAt), LastModifiedDate: millis(r.UpdatedAt), ID: r.Number, UUID: r.UUID,
		DegreeBefore: r.DegreeBefore, DegreeAfter: r.DegreeAfter, FirstName: r.FirstName, LastName: r.LastName, Gender: r.Gender,
		InsertMPSV: r.InsertMPSV, Emails: r.Emails(), Position: r.Position, Workplace: r.Workplace, Country: r.Country,
		MultiYear: r.MultiYear, Requester: toPersonRef(p), OrganizationUnitID: r.OrganizationUnitID,
		Approved: r.ApprovedAt != nil, Denied: r.DeniedAt != nil,
		Redirects:           psRedirectsJSON{Success: r.RedirectSuccess, Cancel: r.RedirectCancel, Error: r.RedirectError},
		ExternalCertificate: r.ExternalCertificate, PostSignumRequestMessage: r.Message, PostSignumRequestMessageSigned: r.MessageSigned,
		State: r.StateAt(h.Now()), PostSignumRequestID: r.CARequestID,
		ExpirationDate: millis(r.ExpiresAt), DeletionDate: millis(r.DeleteAfter)}
	if out.Emails == nil {
		out.Emails = []string{}
	}
	out.ApprovedDate, out.DeniedDate = millisOrNull(r.ApprovedAt), millisOrNull(r.DeniedAt)
	if r.SubsequentForID != nil {
		c, err := h.Persons.GetCertificate(ctx, scope, r.PersonID, *r.SubsequentForID)
		if err != nil {
			return out, err
		}
		j := toCertificateJSON(c, p)
		out.SubsequentFor = &j
	}
	if r.ApprovedAt != nil {
		cr := &certificateRequestJSON{ID: r.Number, Type: string(person.TypePersonal)}
		if p != nil {
			cr.PersonID = p.Number
		}
		if r.ImportedCertificateID != nil {
			c, err := h.Persons.GetCertificate(ctx, scope, r.PersonID, *r.ImportedCertificateID)
			if err != nil {
				return out, err
			}
			j := toCertificateJSON(c, p)
			out.Certificate = &j
			cr.ImportedCertificateID = &c.Number
		}
		cr.Request, cr.SubjectKey = r.CSR, r.SubjectKey
		out.CertificateRequest = cr
	}
	// The link works once the certificate is imported (the uuid is its
	// token); RemSig shows it from the start.
	u := pinpage.ResetURL(strings.TrimRight(h.PublicURL, "/"), r.UUID)
	out.RedirectURL = &u
	return out, nil
}

func (h *handlers) psAnswer(c echo.Context, k *account.Key, r *certrequest.Request) error {
	ctx := c.Request().Context()
	p, err := h.Persons.Get(ctx, k.Scope(), r.PersonID)
	if err != nil {
		return err
	}
	j, err := h.toPSRequestJSON(ctx, k.Scope(), r, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, psRequestResponse{OperationID: opID(c), Request: j})
}

func (h *handlers) createPSRequest(c echo.Context, k *account.Key) error {
	if h.Requests == nil {
		return echo.ErrNotFound
	}
	var req psCreateRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	in := certrequest.CreateInput{PersonUniqueID: req.PersonUniqueID, DegreeBefore: req.DegreeBefore, DegreeAfter: req.DegreeAfter,
		FirstName: req.FirstName, LastName: req.LastName, BirthNumber: req.BirthCertificateNumber, Gender: req.Gender,
		InsertMPSV: req.InsertMPSV, Emails: req.Emails, Position: req.Position, Workplace: req.Workplace, Country: req.Country,
		MultiYear: req.MultiYear, OrganizationUnitID: req.OrganizationUnitID, CertificateIndex: req.CertificateIndex,
		ExternalCertificate: req.ExternalCertificate, SubsequentRequest: req.SubsequentRequest}
	if rd := req.Redirects; rd != nil {
		in.RedirectSuccess, in.RedirectError, in.RedirectCancel = rd.Success, rd.Error, rd.Cancel
	}
	r, err := h.Requests.Create(c.Request().Context(), k.Scope(), in)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	return h.psAnswer(c, k, r)
}

func (h *handlers) listPSRequests(c echo.Context, k *account.Key) error {
	if h.Requests == nil {
		return echo.ErrNotFound
	}
	q, page, size, bad := pageParams(c, certrequest.SortFields)
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	ctx := c.Request().Context()
	res, err := h.Requests.List(ctx, k.Scope(), q)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(res.Items))
	for _, r := range res.Items {
		ids = append(ids, r.PersonID)
	}
	persons, err := h.Persons.PersonsByID(ctx, k.Scope(), ids)
	if err != nil {
		return err
	}
	out := make([]psRequestJSON, 0, len(res.Items))
	for i := range res.Items {
		j, err := h.toPSRequestJSON(ctx, k.Scope(), &res.Items[i], persons[res.Items[i].PersonID])
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	return c.JSON(http.StatusOK, psRequestListResponse{OperationID: opID(c), pageInfo: newPageInfo(page, size, res.Total), Requests: out})
}

func (h *handlers) getPSRequest(c echo.Context, k *account.Key, n int64) error {
	r, err := h.Requests.Get(c.Request().Context(), k.Scope(), n)
	if err != nil {
		return err
	}
	return h.psAnswer(c, k, r)
}

type psStateResponse struct {
	OperationID int64             `json:"operationId"`
	State       certrequest.State `json:"state"`
}

func (h *handlers) psRequestState(c echo.Context, k *account.Key, n int64) error {
	r, err := h.Requests.Get(c.Request().Context(), k.Scope(), n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, psStateResponse{OperationID: opID(c), State: r.StateAt(h.Now())})
}

func (h *handlers) approvePSRequest(c echo.Context, k *account.Key, n int64) error {
	d, err := h.Requests.Approve(c.Request().Context(), k.Scope(), n)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	return h.psAnswer(c, k, d.Request)
}

func (h *handlers) denyPSRequest(c echo.Context, k *account.Key, n int64) error {
	r, err := h.Requests.Deny(c.Request().Context(), k.Scope(), n)
	if err != nil {
		return err
	}
	return h.psAnswer(c, k, r)
}

type psPatchRequest struct {
	PostSignumRequestMessageSigned *string `json:"postSignumRequestMessageSigned"`
}

func (h *handlers) patchPSRequest(c echo.Context, k *account.Key, n int64) error {
	var req psPatchRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	r, err := h.Requests.SetSignedMessage(c.Request().Context(), k.Scope(), n, req.PostSignumRequestMessageSigned)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	return h.psAnswer(c, k, r)
}

type operationResponse struct {
	OperationID int64 `json:"operationId"`
}

func (h *handlers) deletePSRequest(c echo.Context, k *account.Key, n int64) error {
	if err := h.Requests.Delete(c.Request().Context(), k.Scope(), n); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, operationResponse{OperationID: opID(c)})
}
