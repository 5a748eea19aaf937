package batch

import (
	"crypto"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vellum-sign/vellum/internal/validation"
	"github.com/vellum-sign/vellum/pkg/pades"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// Levels are the PAdES levels a PDF task may ask for: RemSig's B, T and LT,
// and LTA as Vellum's extension.
var Levels = []string{"B", "T", "LT", "LTA"}

// Positions are where a watermark goes on its page; a position may also be
// "x,y" in PDF points from the lower-left corner.
var Positions = []string{"BOTTOM_LEFT", "BOTTOM_RIGHT", "TOP_LEFT", "TOP_RIGHT"}

// algorithms maps the algorithm names accepted for PKCS #7 and PKCS #1 to
// their digest: bare digests and Java-style signature names.
var algorithms = map[string]crypto.Hash{
	"SHA256": crypto.SHA256, "SHA-256": crypto.SHA256, "SHA256withRSA": crypto.SHA256, "SHA256withECDSA": crypto.SHA256,
	"SHA384": crypto.SHA384, "SHA-384": crypto.SHA384, "SHA384withRSA": crypto.SHA384, "SHA384withECDSA": crypto.SHA384,
	"SHA512": crypto.SHA512, "SHA-512": crypto.SHA512, "SHA512withRSA": crypto.SHA512, "SHA512withECDSA": crypto.SHA512,
}

// AlgorithmHash returns the digest of an algorithm name (SHA-256 for "").
func AlgorithmHash(name string) (crypto.Hash, bool) {
	if name == "" {
		return crypto.SHA256, true
	}
	h, ok := algorithms[name]
	return h, ok
}

func checkOptions(kind Kind, f string, o *Options) validation.Errors {
	var errs validation.Errors
	if kind != KindPDF && (o.Level != "" || o.Watermark != nil) {
		errs = append(errs, validation.FieldError{Field: f + "signatureLevel", Reason: "applies to PDF tasks only"})
	}
	if kind == KindPDF {
		if o.Level == "" {
			o.Level = "B"
		}
		if !contains(Levels, o.Level) {
			errs = append(errs, validation.FieldError{Field: f + "signatureLevel", Reason: "must be one of B, T, LT, LTA"})
		}
	}
	if o.Field != "" {
		switch {
		case kind != KindPDF:
			errs = append(errs, validation.FieldError{Field: f + "fieldName", Reason: "applies to PDF tasks only"})
		case !utf8.ValidString(o.Field) || utf8.RuneCountInString(o.Field) > MaxNameLen:
			errs = append(errs, validation.FieldError{Field: f + "fieldName", Reason: fmt.Sprintf("must be valid UTF-8 of at most %d characters", MaxNameLen)})
		case o.Watermark != nil && (o.Watermark.Position != "" || o.Watermark.Page != ""):
			errs = append(errs, validation.FieldError{Field: f + "watermark.position",
				Reason: "the signature goes into the field named by fieldName, at its own page and rectangle: drop watermark.position and watermark.page"})
		}
	}
	if w := o.Watermark; w != nil {
		if w.Position != "" && !contains(Positions, w.Position) {
			if _, _, ok := parsePoint(w.Position); !ok {
				errs = append(errs, validation.FieldError{Field: f + "watermark.position",
					Reason: "must be one of BOTTOM_LEFT, BOTTOM_RIGHT, TOP_LEFT, TOP_RIGHT, or x,y in points"})
			}
		}
		if w.Page != "" && w.Page != "FIRST" && w.Page != "LAST" {
			if n, err := strconv.Atoi(w.Page); err != nil || n < 1 {
				errs = append(errs, validation.FieldError{Field: f + "watermark.page", Reason: "must be FIRST, LAST or a page number from 1"})
			}
		}
		if len([]rune(w.Text)) > 200 {
			errs = append(errs, validation.FieldError{Field: f + "watermark.text", Reason: "must be at most 200 characters"})
		}
	}
	if kind == KindPKCS1 && o.Timestamp != nil {
		errs = append(errs, validation.FieldError{Field: f + "timestamp", Reason: "a PKCS#1 signature carries no timestamp"})
	}
	if t := o.Timestamp; t != nil {
		switch {
		case t.Name != "" && t.URL != "":
			errs = append(errs, validation.FieldError{Field: f + "timestamp", Reason: "give name or url, not both"})
		case t.Timeout < 0 || t.Timeout >= 5*time.Second:
			errs = append(errs, validation.FieldError{Field: f + "timestamp.timeout", Reason: "must be lower than 5 seconds"})
		}
	}
	if _, ok := AlgorithmHash(o.Algorithm); !ok {
		errs = append(errs, validation.FieldError{Field: f + "algorithm",
			Reason: "must be a valid signature algorithm: SHA256, SHA384, SHA512, or SHA256withRSA, SHA256withECDSA (and the 384 and 512 forms)"})
	}
	return errs
}

// CheckTimestamp checks a timestamp server request against the configured
// servers: a name must be one of them.
func (s *Service) CheckTimestamp(field string, t *Timestamp) validation.Errors {
	if t == nil || t.Name == "" {
		return nil
	}
	if _, ok := s.server(t.Name); !ok {
		return validation.Errors{{Field: field + "timestamp.name", Reason: fmt.Sprintf("%q is not a configured timestamp server (GET /api/timestamp/servers)", t.Name)}}
	}
	return nil
}

func (s *Service) server(name string) (rfc3161.Server, bool) {
	for _, srv := range s.TSAs {
		if srv.Name == name {
			return srv, true
		}
	}
	return rfc3161.Server{}, false
}

func parsePoint(s string) (float64, float64, bool) {
	xs, ys, ok := strings.Cut(s, ",")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.ParseFloat(strings.TrimSpace(xs), 64)
	y, err2 := strconv.ParseFloat(strings.TrimSpace(ys), 64)
	return x, y, err1 == nil && err2 == nil && x >= 0 && y >= 0 && x < 14400 && y < 14400
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// secretOptions are the parts of a task's options that are credentials: a
// custom timestamp server's user, password and headers, and the data source
// of a task fetched when signed. They are kept sealed at rest (as the PIN
// entry's grant is, by person.Service) and opened only by the signing.
type secretOptions struct {
	Timestamp *Timestamp `json:"timestamp,omitempty"`
	Source    *Source    `json:"source,omitempty"`
}

// sealedOptions is what task options' secrets are sealed as.
const sealedOptions = "batch-task-options"

// encodeOptions is the stored form of task taskID's options: JSON with the
// credentials sealed.
func (s *Service) encodeOptions(taskID string, o Options) (string, error) {
	var sec secretOptions
	if t := o.Timestamp; t != nil && (t.Username != "" || t.Password != "" || len(t.Headers) > 0) {
		sec.Timestamp = &Timestamp{Username: t.Username, Password: t.Password, Headers: t.Headers}
		open := *t
		open.Username, open.Password, open.Headers = "", "", nil
		o.Timestamp = &open
	}
	sec.Source, o.Source = o.Source, nil
	if sec.Timestamp != nil || sec.Source != nil {
		raw, err := json.Marshal(sec)
		if err != nil {
			return "", err
		}
		defer clear(raw)
		if o.Sealed, err = s.Persons.SealSecret(sealedOptions, taskID, raw); err != nil {
			return "", fmt.Errorf("task %s options: %w", taskID, err)
		}
	}
	b, err := json.Marshal(o)
	return string(b), err
}

// decodeOptions reads task t's options with their credentials opened.
func (s *Service) decodeOptions(t *Task) (*Options, error) {
	var o Options
	if err := json.Unmarshal([]byte(t.Options), &o); err != nil {
		return nil, fmt.Errorf("task %s options: %w", t.ID, err)
	}
	if o.Sealed == nil {
		return &o, nil
	}
	raw, err := s.Persons.OpenSecret(sealedOptions, t.ID, o.Sealed)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	var sec secretOptions
	if err := json.Unmarshal(raw, &sec); err != nil {
		return nil, fmt.Errorf("task %s options: %w", t.ID, err)
	}
	if sec.Timestamp != nil && o.Timestamp != nil {
		o.Timestamp.Username, o.Timestamp.Password, o.Timestamp.Headers = sec.Timestamp.Username, sec.Timestamp.Password, sec.Timestamp.Headers
	}
	o.Source, o.Sealed = sec.Source, nil
	return &o, nil
}

// CheckField reports, as a field error on fieldName, why a PDF cannot be
// signed into its signature field name: what pades.Sign would refuse,
// found before the task is accepted.
func CheckField(info *pades.Info, field, name string) validation.Errors {
	var empty []string
	for _, sf := range info.SignatureFields {
		switch {
		case sf.Name == name && sf.Signed:
			return validation.Errors{{Field: field + "fieldName", Reason: fmt.Sprintf("signature field %q is already signed", name)}}
		case sf.Name == name:
			return nil
		case !sf.Signed:
			empty = append(empty, strconv.Quote(sf.Name))
		}
	}
	reason := fmt.Sprintf("the document has no signature field %q; ", name)
	if len(empty) == 0 {
		reason += "it has no empty signature fields"
	} else {
		reason += "its empty signature fields are " + strings.Join(empty, ", ")
	}
	return validation.Errors{{Field: field + "fieldName", Reason: reason}}
}
