package document

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/pdfreport"
	"github.com/vellum-sign/vellum/internal/validation"
)

// MaxTextSize bounds the text of a text document (Signicat's simple text
// signing): far more than a consent text, far less than a book.
const MaxTextSize = 256 << 10

// TextPDF renders plain text as the PDF that is stored and signed in its
// place: each line of the text a wrapped paragraph, blank lines kept, on A4
// pages with the report writer's embedded fonts, so pdftotext gives the
// text back. The text must be valid UTF-8 without control characters other
// than tabs and line breaks.
func TextPDF(text string) ([]byte, error) {
	if strings.TrimSpace(text) == "" {
		return nil, validation.Errors{{Field: "body", Reason: "the text to sign is empty"}}
	}
	if len(text) > MaxTextSize {
		return nil, validation.Errors{{Field: "body", Reason: fmt.Sprintf("the text must be at most %d bytes", MaxTextSize)}}
	}
	if reason := validation.CheckText(text, validation.Multiline); reason != "" {
		return nil, validation.Errors{{Field: "body", Reason: reason}}
	}
	title := strings.TrimSpace(strings.SplitN(text, "\n", 2)[0])
	if utf8.RuneCountInString(title) > 80 {
		title = string([]rune(title)[:80])
	}
	d := pdfreport.New(title)
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.ReplaceAll(strings.TrimRight(line, "\r"), "\t", "    ")
		if strings.TrimSpace(line) == "" {
			d.Space(10)
			continue
		}
		d.Para(line)
	}
	return d.Bytes()
}

// CreateFromText renders text with TextPDF and stores that PDF as a new
// document of scope.
func (s *Service) CreateFromText(ctx context.Context, scope account.Scope, text string, m Meta) (*Document, error) {
	pdf, err := TextPDF(text)
	if err != nil {
		return nil, err
	}
	up, err := s.Receive(ctx, bytes.NewReader(pdf))
	if err != nil {
		return nil, err
	}
	defer up.Close()
	if m.Filename == "" {
		m.Filename = "text.pdf"
	}
	return s.Create(ctx, scope, up, m)
}
