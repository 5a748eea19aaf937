package remsig

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/httpapi"
)

// redirectsOut are a batch's redirects, null when unset.
type redirectsOut struct {
	Success *string `json:"success"`
	Cancel  *string `json:"cancel"`
	Error   *string `json:"error"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// batchJSON is RemSig's batch object.
type batchJSON struct {
	Hash            string       `json:"hash"`
	AuthRedirectURL string       `json:"authRedirectUrl"`
	Redirects       redirectsOut `json:"redirects"`
	State           string       `json:"state"`
	CreationDate    int64        `json:"creationDate"`
	TasksCount      int          `json:"tasksCount"`
	TasksFinished   int          `json:"tasksFinished"`
	PercentFinished float64      `json:"percentFinished"`
}

func (h *handlers) pinURL(hash string) string {
	return strings.TrimRight(h.PublicURL, "/") + "/pin/" + hash
}

func (h *handlers) toBatchJSON(b *batch.Batch) batchJSON {
	return batchJSON{Hash: b.Hash, AuthRedirectURL: h.pinURL(b.Hash),
		Redirects: redirectsOut{Success: nullable(b.RedirectSuccess), Cancel: nullable(b.RedirectCancel), Error: nullable(b.RedirectError)},
		State:     string(b.State), CreationDate: millis(b.CreatedAt), TasksCount: b.TasksCount, TasksFinished: b.TasksSigned,
		PercentFinished: b.PercentFinished()}
}

type batchResponse struct {
	OperationID int64     `json:"operationId"`
	Batch       batchJSON `json:"batch"`
}

func (h *handlers) batchReply(c echo.Context, b *batch.Batch) error {
	return c.JSON(http.StatusOK, batchResponse{OperationID: opID(c), Batch: h.toBatchJSON(b)})
}

// signResponse answers a single signing request.
type signResponse struct {
	OperationID     int64  `json:"operationId"`
	AuthRedirectURL string `json:"authRedirectUrl"`
	Hash            string `json:"hash"`
}

type signPDFRequest struct {
	pdfTaskJSON
	signerJSON
}

type signPKCS7Request struct {
	pkcs7TaskJSON
	signerJSON
}

// bind decodes a JSON body, failing with every bad field.
func bind(c echo.Context, dst any) error {
	bad, err := httpapi.BindJSON(c, dst)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	return nil
}

func (h *handlers) signOne(c echo.Context, k *account.Key, signer signerJSON, task batch.TaskInput, fe *fieldErrs) error {
	if signer.PersonUniqueID == nil {
		fe.add("personUniqueId", "required")
	}
	if len(fe.list) > 0 {
		return httpapi.NewValidationProblem(fe.list)
	}
	if errs := h.Batches.CheckTimestamp("", task.Options.Timestamp); len(errs) > 0 {
		return httpapi.FieldProblem(errs)
	}
	b, err := h.Batches.SignOne(c.Request().Context(), k.Scope(), signer.toCreateInput(), task)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	return c.JSON(http.StatusOK, signResponse{OperationID: opID(c), AuthRedirectURL: h.pinURL(b.Hash), Hash: b.Hash})
}

func (h *handlers) signPDF(c echo.Context, k *account.Key) error {
	var req signPDFRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	fe := &fieldErrs{}
	task := fe.pdfTask(&req.pdfTaskJSON)
	return h.signOne(c, k, req.signerJSON, task, fe)
}

func (h *handlers) signPKCS7(c echo.Context, k *account.Key) error {
	var req signPKCS7Request
	if err := bind(c, &req); err != nil {
		return err
	}
	fe := &fieldErrs{}
	task := fe.pkcs7Task(&req.pkcs7TaskJSON)
	return h.signOne(c, k, req.signerJSON, task, fe)
}

func (h *handlers) createBatch(c echo.Context, k *account.Key) error {
	var req signerJSON
	if err := bind(c, &req); err != nil {
		return err
	}
	b, err := h.Batches.Create(c.Request().Context(), k.Scope(), req.toCreateInput())
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	return h.batchReply(c, b)
}

func (h *handlers) add(c echo.Context, k *account.Key, tasks []batch.TaskInput, fe *fieldErrs) error {
	if len(fe.list) > 0 {
		return httpapi.NewValidationProblem(fe.list)
	}
	for _, t := range tasks {
		if errs := h.Batches.CheckTimestamp(t.Field, t.Options.Timestamp); len(errs) > 0 {
			return httpapi.FieldProblem(errs)
		}
	}
	b, err := h.Batches.AddTasks(c.Request().Context(), k.Scope(), c.Param("hash"), tasks)
	if err != nil {
		return httpapi.FieldProblem(err)
	}
	return h.batchReply(c, b)
}

func (h *handlers) addPDF(c echo.Context, k *account.Key) error {
	var req pdfTaskJSON
	if err := bind(c, &req); err != nil {
		return err
	}
	fe := &fieldErrs{}
	return h.add(c, k, []batch.TaskInput{fe.pdfTask(&req)}, fe)
}

func (h *handlers) addPKCS7(c echo.Context, k *account.Key) error {
	var req pkcs7TaskJSON
	if err := bind(c, &req); err != nil {
		return err
	}
	fe := &fieldErrs{}
	return h.add(c, k, []batch.TaskInput{fe.pkcs7Task(&req)}, fe)
}

func (h *handlers) addPKCS1(c echo.Context, k *account.Key) error {
	var req pkcs1TaskJSON
	if err := bind(c, &req); err != nil {
		return err
	}
	fe := &fieldErrs{}
	return h.add(c, k, []batch.TaskInput{fe.pkcs1Task(&req)}, fe)
}

type addManyRequest struct {
	PDF   []pdfTaskJSON   `json:"pdf"`
	PKCS7 []pkcs7TaskJSON `json:"pkcs7"`
	PKCS1 []pkcs1TaskJSON `json:"pkcs1"`
}

func (h *handlers) addMany(c echo.Context, k *account.Key) error {
	var req addManyRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	fe := &fieldErrs{}
	var tasks []batch.TaskInput
	for i := range req.PDF {
		fe.prefix = indexed("pdf", i)
		tasks = append(tasks, fe.pdfTask(&req.PDF[i]))
	}
	for i := range req.PKCS7 {
		fe.prefix = indexed("pkcs7", i)
		tasks = append(tasks, fe.pkcs7Task(&req.PKCS7[i]))
	}
	for i := range req.PKCS1 {
		fe.prefix = indexed("pkcs1", i)
		tasks = append(tasks, fe.pkcs1Task(&req.PKCS1[i]))
	}
	return h.add(c, k, tasks, fe)
}

func (h *handlers) closeBatch(c echo.Context, k *account.Key) error {
	b, err := h.Batches.Close(c.Request().Context(), k.Scope(), c.Param("hash"))
	if err != nil {
		return err
	}
	return h.batchReply(c, b)
}

type batchListResponse struct {
	OperationID int64 `json:"operationId"`
	pageInfo
	Batches []batchJSON `json:"batches"`
}

func (h *handlers) listBatches(c echo.Context, k *account.Key) error {
	q, page, size, bad := pageParams(c, batch.SortFields)
	if len(bad) > 0 {
		return httpapi.NewValidationProblem(bad)
	}
	res, err := h.Batches.List(c.Request().Context(), k.Scope(), q)
	if err != nil {
		return err
	}
	out := make([]batchJSON, 0, len(res.Items))
	for i := range res.Items {
		out = append(out, h.toBatchJSON(&res.Items[i]))
	}
	return c.JSON(http.StatusOK, batchListResponse{OperationID: opID(c), pageInfo: newPageInfo(page, size, res.Total), Batches: out})
}

func (h *handlers) getBatch(c echo.Context, k *account.Key) error {
	b, err := h.Batches.Get(c.Request().Context(), k.Scope(), c.Param("hash"))
	if err != nil {
		return err
	}
	return h.batchReply(c, b)
}

type stateResponse struct {
	OperationID int64  `json:"operationId"`
	State       string `json:"state"`
}

func (h *handlers) batchState(c echo.Context, k *account.Key) error {
	b, err := h.Batches.Get(c.Request().Context(), k.Scope(), c.Param("hash"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, stateResponse{OperationID: opID(c), State: string(b.State)})
}

type taskJSON struct {
	Name        string  `json:"name"`
	DisplayName *string `json:"displayName"`
	State       string  `json:"state"`
}

type tasksResponse struct {
	OperationID int64      `json:"operationId"`
	Tasks       []taskJSON `json:"tasks"`
}

func (h *handlers) batchTasks(c echo.Context, k *account.Key) error {
	ts, err := h.Batches.Tasks(c.Request().Context(), k.Scope(), c.Param("hash"))
	if err != nil {
		return err
	}
	out := make([]taskJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, taskJSON{Name: t.Name, DisplayName: nullable(t.DisplayName), State: string(t.State)})
	}
	return c.JSON(http.StatusOK, tasksResponse{OperationID: opID(c), Tasks: out})
}

func (h *handlers) download(c echo.Context, k *account.Key) error {
	ctx := c.Request().Context()
	hash := c.Param("hash")
	ts, err := h.Batches.Signed(ctx, k.Scope(), hash)
	if err != nil {
		return err
	}
	r := c.Response()
	r.Header().Set(echo.HeaderContentType, "application/zip")
	r.Header().Set(echo.HeaderContentDisposition, "attachment;filename="+hash+".zip")
	r.WriteHeader(http.StatusOK)
	if err := h.Batches.WriteZip(ctx, ts, r); err != nil {
		// Headers are gone: the client sees a truncated zip.
		httpapi.Logger(ctx).Error("stream batch zip", "batch", hash, "err", err)
	}
	return nil
}

type emptyResponse struct {
	OperationID int64 `json:"operationId"`
}

func (h *handlers) deleteBatch(c echo.Context, k *account.Key) error {
	if err := h.Batches.Delete(c.Request().Context(), k.Scope(), c.Param("hash")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, emptyResponse{OperationID: opID(c)})
}
