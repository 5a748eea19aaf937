package remsig

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/ident"
)

// Request shapes of signing tasks, as RemSig documents them.

type basicAuthJSON struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
}

type authenticationJSON struct {
	Basic *basicAuthJSON `json:"basic"`
}

type httpSourceJSON struct {
	URL            *string             `json:"url"`
	Prefetch       *bool               `json:"prefetch"`
	Headers        map[string]string   `json:"headers"`
	Authentication *authenticationJSON `json:"authentication"`
}

type dataJSON struct {
	Bytes *string         `json:"bytes"`
	HTTP  *httpSourceJSON `json:"http"`
}

type watermarkJSON struct {
	Insert   *bool   `json:"insert"`
	Text     *string `json:"text"`
	Position *string `json:"position"`
	Page     *string `json:"page"`
}

type timestampJSON struct {
	Enabled        *bool               `json:"enabled"`
	Name           *string             `json:"name"`
	URL            *string             `json:"url"`
	Timeout        *string             `json:"timeout"`
	Authentication *authenticationJSON `json:"authentication"`
	Headers        map[string]string   `json:"headers"`
}

type redirectsJSON struct {
	Success *string `json:"success"`
	Cancel  *string `json:"cancel"`
	Error   *string `json:"error"`
}

// taskCommon are the fields of every task.
type taskCommon struct {
	Name        *string   `json:"name"`
	DisplayName *string   `json:"displayName"`
	Data        *dataJSON `json:"data"`
}

type pdfTaskJSON struct {
	taskCommon
	Base64Pdf      *string        `json:"base64Pdf"`
	DocumentName   *string        `json:"documentName"`
	Watermark      *watermarkJSON `json:"watermark"`
	Timestamp      *timestampJSON `json:"timestamp"`
	SignatureLevel *string        `json:"signatureLevel"`
	// FieldName is Vellum's extension (RemSig's document names no field):
	// sign into the document's empty signature field of that name, as
	// `vellum pdf sign --field` and envelope fields' fieldName do.
	FieldName *string `json:"fieldName"`
}

type pkcs7TaskJSON struct {
	taskCommon
	Base64Data *string        `json:"base64Data"`
	NoDetach   *bool          `json:"noDetach"`
	PEM        *bool          `json:"pem"`
	Algorithm  *string        `json:"algorithm"`
	HashData   *bool          `json:"hashData"`
	Timestamp  *timestampJSON `json:"timestamp"`
}

type pkcs1TaskJSON struct {
	taskCommon
	Base64Data *string `json:"base64Data"`
	Algorithm  *string `json:"algorithm"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// fieldErrs collects invalid fields with a prefix.
type fieldErrs struct {
	prefix string
	list   []httpapi.InvalidParam
}

func (f *fieldErrs) add(name, reason string) {
	f.list = append(f.list, httpapi.InvalidParam{Name: f.prefix + name, Reason: reason})
}

// decodeBase64 accepts standard base64 with or without padding.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// toTaskInput converts the common fields; deprecated is the deprecated
// base64 field (base64Pdf, base64Data) and its name.
func (f *fieldErrs) toTaskInput(kind batch.Kind, c taskCommon, deprecated *string, deprecatedField string, ext string) batch.TaskInput {
	in := batch.TaskInput{Kind: kind, Name: str(c.Name), DisplayName: str(c.DisplayName), Field: f.prefix}
	if in.Name == "" {
		// RemSig names an unnamed task with a random UUID.
		in.Name = strings.TrimPrefix(ident.New("x"), "x_") + ext
	}
	switch {
	case c.Data != nil && deprecated != nil:
		f.add(deprecatedField, "give data or "+deprecatedField+", not both")
	case deprecated != nil:
		if b, ok := decodeBase64(*deprecated); ok {
			in.Data = b
		} else {
			f.add(deprecatedField, "must be a valid base64 encoded string")
		}
	case c.Data != nil:
		if c.Data.Bytes != nil {
			if b, ok := decodeBase64(*c.Data.Bytes); ok {
				in.Data = b
			} else {
				f.add("data.bytes", "must be a valid base64 encoded string")
			}
		}
		if h := c.Data.HTTP; h != nil {
			src := &batch.Source{URL: str(h.URL), Headers: h.Headers}
			if src.URL == "" {
				f.add("data.http.url", "required")
			}
			if h.Authentication != nil && h.Authentication.Basic != nil {
				src.Username, src.Password = str(h.Authentication.Basic.Username), str(h.Authentication.Basic.Password)
			}
			in.Options.Source = src
			// RemSig: prefetch false means the document is loaded by
			// the signing, not when the request arrives.
			in.FetchWhenSigning = h.Prefetch != nil && !*h.Prefetch
		}
	}
	return in
}

// parseTimeout reads a timestamp timeout: a Go duration ("3s", "1500ms"),
// an ISO 8601 one ("PT3S") or milliseconds.
func parseTimeout(s string) (time.Duration, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Millisecond, true
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	if v, ok := strings.CutPrefix(strings.ToUpper(s), "PT"); ok {
		if v, ok := strings.CutSuffix(v, "S"); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return time.Duration(f * float64(time.Second)), true
			}
		}
	}
	return 0, false
}

func (f *fieldErrs) timestamp(t *timestampJSON) *batch.Timestamp {
	if t == nil || (t.Enabled != nil && !*t.Enabled && t.Name == nil && t.URL == nil) {
		return nil
	}
	out := &batch.Timestamp{Name: str(t.Name), URL: str(t.URL), Headers: t.Headers}
	if t.Timeout != nil {
		d, ok := parseTimeout(*t.Timeout)
		if !ok {
			f.add("timestamp.timeout", "must be a duration such as 3s, PT3S or 3000 (milliseconds)")
		}
		out.Timeout = d
	}
	if t.Authentication != nil && t.Authentication.Basic != nil {
		b := t.Authentication.Basic
		if b.Username == nil || b.Password == nil {
			f.add("timestamp.authentication.basic", "username and password are both required")
		}
		out.Username, out.Password = str(b.Username), str(b.Password)
	}
	return out
}

func (f *fieldErrs) pdfTask(t *pdfTaskJSON) batch.TaskInput {
	if t.Name == nil {
		t.Name = t.DocumentName
	}
	in := f.toTaskInput(batch.KindPDF, t.taskCommon, t.Base64Pdf, "base64Pdf", ".pdf")
	in.Options.Level = str(t.SignatureLevel)
	in.Options.Timestamp = f.timestamp(t.Timestamp)
	if in.Options.Timestamp != nil && (in.Options.Level == "" || in.Options.Level == "B") {
		// A timestamp asked for makes the signature B-T.
		in.Options.Level = "T"
	}
	if w := t.Watermark; w != nil && (w.Insert == nil || *w.Insert) {
		in.Options.Watermark = &batch.Watermark{Text: str(w.Text), Position: str(w.Position), Page: str(w.Page)}
	}
	if t.FieldName != nil {
		in.Options.Field = *t.FieldName
		if in.Options.Field == "" {
			f.add("fieldName", "must not be empty")
		}
	}
	return in
}

func (f *fieldErrs) pkcs7Task(t *pkcs7TaskJSON) batch.TaskInput {
	in := f.toTaskInput(batch.KindPKCS7, t.taskCommon, t.Base64Data, "base64Data", "")
	in.Options.NoDetach = t.NoDetach != nil && *t.NoDetach
	in.Options.PEM = t.PEM != nil && *t.PEM
	in.Options.HashData = t.HashData != nil && *t.HashData
	in.Options.Algorithm = str(t.Algorithm)
	in.Options.Timestamp = f.timestamp(t.Timestamp)
	return in
}

func (f *fieldErrs) pkcs1Task(t *pkcs1TaskJSON) batch.TaskInput {
	in := f.toTaskInput(batch.KindPKCS1, t.taskCommon, t.Base64Data, "base64Data", "")
	in.Options.Algorithm = str(t.Algorithm)
	return in
}

// signerJSON are the fields that choose the person and certificate.
type signerJSON struct {
	PersonUniqueID   *string        `json:"personUniqueId"`
	CertificateIndex *int           `json:"certificateIndex"`
	Redirects        *redirectsJSON `json:"redirects"`
}

func (s signerJSON) toCreateInput() batch.CreateInput {
	in := batch.CreateInput{PersonUniqueID: str(s.PersonUniqueID), CertificateIndex: s.CertificateIndex}
	if r := s.Redirects; r != nil {
		in.Redirects = batch.Redirects{Success: str(r.Success), Cancel: str(r.Cancel), Error: str(r.Error)}
	}
	return in
}

func indexed(prefix string, i int) string { return fmt.Sprintf("%s[%d].", prefix, i) }
