package batch

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"gorm.io/gorm"

	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/validation"
	"github.com/vellum-sign/vellum/pkg/cms"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// CommitFunc runs fn in the transaction that also finishes the current
// job (jobs.Complete in a worker), so a task's outcome is recorded once.
type CommitFunc func(ctx context.Context, fn func(ctx context.Context) error) error

// RegisterTasks wires the signing job into a worker.
func (s *Service) RegisterTasks(w *jobs.Worker) {
	w.Handle(TaskSign, func(ctx context.Context, d jobs.Delivery) error {
		var p taskPayload
		if err := json.Unmarshal(d.Payload, &p); err != nil {
			return fmt.Errorf("%s payload: %w", TaskSign, err)
		}
		return s.SignTask(ctx, p.TaskID, d.Attempt >= 5, func(ctx context.Context, fn func(ctx context.Context) error) error {
			return jobs.Complete(ctx, s.DB, fn)
		})
	})
}

// signingError is a task that cannot be signed: recorded as ERROR, not
// retried.
type signingError struct{ err error }

func (e *signingError) Error() string { return e.err.Error() }
func (e *signingError) Unwrap() error { return e.err }

// SignTask signs task id with the key its batch's PIN entry unlocked. A
// task gone (its batch deleted) or already done ends quietly. Failures of
// the task's content end it in ERROR; others are returned for a retry,
// unless last says this is the last attempt.
func (s *Service) SignTask(ctx context.Context, id string, last bool, commit CommitFunc) error {
	var t Task
	err := s.DB.Conn(ctx).Where("id = ?", id).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return commit(ctx, func(context.Context) error { return nil })
	}
	if err != nil {
		return fmt.Errorf("load task %s: %w", id, err)
	}
	if t.State != TaskUnsigned {
		return commit(ctx, func(context.Context) error { return nil })
	}
	var b Batch
	if err := s.DB.Conn(ctx).Where("hash = ?", t.BatchHash).Take(&b).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return commit(ctx, func(context.Context) error { return nil })
		}
		return fmt.Errorf("load batch of task %s: %w", id, err)
	}
	outKey := "remsig/" + b.Hash + "/" + t.ID + "/out"
	size, signErr := s.sign(ctx, &b, &t, outKey)
	var se *signingError
	if signErr != nil && !errors.As(signErr, &se) && !last {
		return signErr
	}
	if signErr != nil {
		s.Log.Info("signing task failed", "batch", b.Hash, "task", t.ID, "err", signErr)
	}
	return commit(ctx, func(ctx context.Context) error { return s.finishTask(ctx, &t, outKey, size, signErr) })
}

// finishTask records a task's outcome and, with the batch's last task,
// the batch's end: its final state, and the PIN entry's grant wiped.
func (s *Service) finishTask(ctx context.Context, t *Task, outKey string, size int64, signErr error) error {
	now := s.now()
	upd := map[string]any{"state": TaskSigned, "output_key": outKey, "output_size": size, "updated_at": now}
	counter := "tasks_signed"
	if signErr != nil {
		msg := signErr.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		upd = map[string]any{"state": TaskError, "error": msg, "updated_at": now}
		counter = "tasks_failed"
	}
	res := s.DB.Conn(ctx).Model(&Task{}).Where("id = ? AND state = ?", t.ID, TaskUnsigned).Updates(upd)
	if res.Error != nil {
		return fmt.Errorf("record task %s: %w", t.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil
	}
	var b Batch
	if err := s.DB.ForUpdate(s.DB.Conn(ctx).Where("hash = ?", t.BatchHash), false).Take(&b).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		return fmt.Errorf("record task %s: %w", t.ID, err)
	}
	if counter == "tasks_signed" {
		b.TasksSigned++
	} else {
		b.TasksFailed++
	}
	bu := map[string]any{"tasks_signed": b.TasksSigned, "tasks_failed": b.TasksFailed, "updated_at": now}
	if b.TasksSigned+b.TasksFailed >= b.TasksCount {
		bu["state"] = StateFinished
		if b.TasksFailed > 0 {
			bu["state"] = StatePartiallyFinished
		}
		bu["grant_sealed"], bu["grant_expires_at"] = nil, nil
	}
	return s.DB.Conn(ctx).Model(&Batch{}).Where("hash = ?", b.Hash).Updates(bu).Error
}

// sign makes task t's output under outKey and returns its size.
func (s *Service) sign(ctx context.Context, b *Batch, t *Task, outKey string) (int64, error) {
	opts, err := s.decodeOptions(t)
	if err != nil {
		return 0, &signingError{err}
	}
	if b.GrantSealed == nil || b.GrantExpiresAt == nil {
		return 0, &signingError{errors.New("the batch has no PIN authorisation")}
	}
	key, err := s.Persons.UnlockGrant(ctx, b.Scope(), &person.Grant{CertificateID: b.CertificateID,
		ExpiresAt: *b.GrantExpiresAt, Sealed: b.GrantSealed})
	if err != nil {
		return 0, &signingError{err}
	}
	// Inputs are staged in a temporary file: PAdES reads at offsets, and
	// no task is held in memory whole.
	tmp, err := os.CreateTemp("", "vellum-task-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := s.stageInput(ctx, t, opts, tmp)
	if err != nil {
		return 0, err
	}
	chain := append([]*x509.Certificate{key.X509}, s.chainOf(key.X509)...)
	var out bytes.Buffer
	switch t.Kind {
	case KindPDF:
		err = s.signPDF(ctx, tmp, size, &out, key, chain, opts, t)
	case KindPKCS7:
		err = s.signPKCS7(ctx, tmp, &out, key, chain, opts)
	case KindPKCS1:
		err = signPKCS1(tmp, &out, key, opts)
	default:
		err = &signingError{fmt.Errorf("unknown task kind %q", t.Kind)}
	}
	if err != nil {
		return 0, err
	}
	o, err := s.Blobs.Put(ctx, outKey, &out, contentTypes[t.Kind])
	if err != nil {
		return 0, fmt.Errorf("store signed task %s: %w", t.ID, err)
	}
	return o.Size, nil
}

// stageInput writes task t's data to tmp and returns its size: the stored
// input, or for a task whose data.http asked for no prefetch, the document
// fetched now from its source (a refused URL ends the task in ERROR; a
// source that fails is retried as any other outage).
func (s *Service) stageInput(ctx context.Context, t *Task, opts *Options, tmp *os.File) (int64, error) {
	if t.InputKey != "" {
		in, _, err := s.Blobs.Get(ctx, t.InputKey)
		if err != nil {
			return 0, fmt.Errorf("read task %s: %w", t.ID, err)
		}
		defer in.Close()
		n, err := io.Copy(tmp, in)
		if err != nil {
			return 0, fmt.Errorf("stage task %s: %w", t.ID, err)
		}
		return n, nil
	}
	if opts.Source == nil || s.Sources == nil {
		return 0, &signingError{errors.New("the task's data source is not available on this deployment")}
	}
	cw := &countingWriter{w: tmp}
	if err := s.Sources.Fetch(ctx, *opts.Source, cw); err != nil {
		var fe validation.Errors
		if errors.As(err, &fe) {
			return 0, &signingError{fmt.Errorf("%w: %v", ErrDataSource, err)}
		}
		return 0, fmt.Errorf("fetch task %s: %w", t.ID, err)
	}
	if t.Kind == KindPDF {
		head := make([]byte, pdfHeadLen)
		n, _ := tmp.ReadAt(head, 0)
		if !isPDFHead(head[:n]) {
			return 0, &signingError{fmt.Errorf("%w: the document fetched is not a PDF (no %%PDF- header in its first %d bytes)", ErrDataSource, pdfHeadLen)}
		}
	}
	return cw.n, nil
}

// countingWriter counts what passes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var contentTypes = map[Kind]string{KindPDF: "application/pdf", KindPKCS7: "application/pkcs7-signature", KindPKCS1: "application/octet-stream"}

// chainOf returns the issuers of c that the platform knows, for the
// signature's certificate set.
func (s *Service) chainOf(c *x509.Certificate) []*x509.Certificate {
	if s.Chain == nil {
		return nil
	}
	return s.Chain(c)
}

// timestamper returns the TSA a task asks for: a configured server by
// name, a URL of its own, or the deployment's default.
func (s *Service) timestamper(t *Timestamp) (cms.Timestamper, error) {
	if t == nil || (t.Name == "" && t.URL == "") {
		if s.Timestamper == nil {
			return nil, &signingError{errors.New("no timestamp server is configured")}
		}
		return s.Timestamper, nil
	}
	srv, ok := s.server(t.Name)
	if t.URL != "" {
		if s.TSAClient == nil {
			return nil, &signingError{errors.New("custom timestamp URLs are not allowed on this deployment")}
		}
		srv, ok = rfc3161.Server{Name: t.URL, URL: t.URL, Username: t.Username, Password: t.Password, Headers: t.Headers}, true
	}
	if !ok {
		return nil, &signingError{fmt.Errorf("timestamp server %q is not configured", t.Name)}
	}
	if t.Timeout > 0 {
		srv.Timeout = t.Timeout
	}
	var opts []rfc3161.Option
	if t.URL != "" {
		// A URL the caller names goes through the guarded client only;
		// the operator's named servers keep their own.
		opts = append(opts, s.TSAClient)
	}
	c, err := rfc3161.NewClient([]rfc3161.Server{srv}, opts...)
	if err != nil {
		return nil, &signingError{err}
	}
	return c, nil
}

var levels = map[string]pades.Level{"B": pades.LevelBB, "T": pades.LevelBT, "LT": pades.LevelBLT, "LTA": pades.LevelBLTA}

func (s *Service) signPDF(ctx context.Context, in *os.File, size int64, out io.Writer, key *person.Unlocked,
	chain []*x509.Certificate, o *Options, t *Task) error {
	opts := pades.Options{Signer: key.Signer, Certificates: chain, Level: levels[o.Level],
		Name: key.X509.Subject.CommonName, Time: s.now(), Field: o.Field}
	if opts.Level != pades.LevelBB {
		ts, err := s.timestamper(o.Timestamp)
		if err != nil {
			return err
		}
		opts.Timestamper = ts
	}
	if opts.Level == pades.LevelBLT || opts.Level == pades.LevelBLTA {
		opts.Revocation = s.Revocation
	}
	switch w := o.Watermark; {
	case w != nil && o.Field != "":
		// The field's own rectangle, with the watermark's text.
		opts.Visible = &pades.Visible{Signature: w.Text}
	case w != nil:
		v, err := placeWatermark(in, size, w)
		if err != nil {
			return err
		}
		if w.Text != "" {
			v.Signature = w.Text
		}
		opts.Visible = v
	}
	err := pades.Sign(ctx, in, size, out, opts)
	var pe *pades.Error
	var place *pades.PlacementError
	if errors.As(err, &pe) || errors.As(err, &place) {
		return &signingError{err}
	}
	if err != nil && ctx.Err() == nil && !isTimestampErr(err) {
		return &signingError{err}
	}
	return err
}

func isTimestampErr(err error) bool {
	var te *rfc3161.ServerError
	return errors.As(err, &te)
}

// Watermark box size, in points.
const wmW, wmH, wmMargin = 200.0, 60.0, 36.0

// placeWatermark turns a watermark request into a visible signature box.
func placeWatermark(in *os.File, size int64, w *Watermark) (*pades.Visible, error) {
	info, err := pades.Inspect(in, size)
	if err != nil {
		return nil, &signingError{fmt.Errorf("read the pages: %w", err)}
	}
	page, rect, err := WatermarkBox(info, w)
	if err != nil {
		return nil, &signingError{err}
	}
	return &pades.Visible{Page: page, Rect: rect}, nil
}

// WatermarkBox is where a watermark goes in a document: its page and
// rectangle, in a corner of the page's visible area or at x,y.
func WatermarkBox(info *pades.Info, w *Watermark) (int, pades.Rect, error) {
	n := len(info.Pages)
	page := 1
	switch w.Page {
	case "", "FIRST":
	case "LAST":
		page = n
	default:
		page, _ = strconv.Atoi(w.Page)
	}
	if page < 1 || page > n {
		return 0, pades.Rect{}, fmt.Errorf("watermark.page %s: the document has %d pages", w.Page, n)
	}
	v := info.Pages[page-1].Visible()
	x, y := v.X+wmMargin, v.Y+wmMargin
	switch w.Position {
	case "", "BOTTOM_LEFT":
	case "BOTTOM_RIGHT":
		x = v.X + v.W - wmMargin - wmW
	case "TOP_LEFT":
		y = v.Y + v.H - wmMargin - wmH
	case "TOP_RIGHT":
		x, y = v.X+v.W-wmMargin-wmW, v.Y+v.H-wmMargin-wmH
	default:
		x, y, _ = parsePoint(w.Position)
	}
	return page, pades.Rect{X: x, Y: y, W: wmW, H: wmH}, nil
}

// maxDataInMemory bounds PKCS #7 and PKCS #1 data, which are signed in
// memory (CMS over data needs it whole when attached).
const maxDataInMemory = 64 << 20

func (s *Service) signPKCS7(ctx context.Context, in *os.File, out io.Writer, key *person.Unlocked,
	chain []*x509.Certificate, o *Options) error {
	data, err := readAll(in)
	if err != nil {
		return err
	}
	h, _ := AlgorithmHash(o.Algorithm)
	if o.HashData {
		hh := h.New()
		hh.Write(data)
		data = hh.Sum(nil)
	}
	opts := cms.SignOptions{Hash: h, SigningTime: s.now()}
	if o.Timestamp != nil {
		ts, err := s.timestamper(o.Timestamp)
		if err != nil {
			return err
		}
		opts.Timestamper = ts
	}
	der, err := cms.SignData(ctx, data, o.NoDetach, key.Signer, chain, opts)
	if err != nil {
		if isTimestampErr(err) {
			return err
		}
		return &signingError{err}
	}
	if o.PEM {
		der = cms.EncodePEM(der)
	}
	_, err = out.Write(der)
	return err
}

// signPKCS1 signs the data's digest raw with the key: RSA PKCS #1 v1.5, or
// ECDSA (ASN.1) for an EC key.
func signPKCS1(in *os.File, out io.Writer, key *person.Unlocked, o *Options) error {
	data, err := readAll(in)
	if err != nil {
		return err
	}
	h, _ := AlgorithmHash(o.Algorithm)
	hh := h.New()
	hh.Write(data)
	sig, err := key.Signer.Sign(rand.Reader, hh.Sum(nil), crypto.SignerOpts(h))
	if err != nil {
		return &signingError{err}
	}
	_, err = out.Write(sig)
	return err
}

func readAll(in *os.File) ([]byte, error) {
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(in, maxDataInMemory+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxDataInMemory {
		return nil, &signingError{fmt.Errorf("data over %d MiB cannot be signed as PKCS#7 or PKCS#1", maxDataInMemory>>20)}
	}
	return data, nil
}
