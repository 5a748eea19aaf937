package signerpage

import (
	"embed"

	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// static holds the page's stylesheet and script. They are served from the
// binary so the page works offline and the CSP can stay at 'self'.
//
//go:embed assets
var static embed.FS

// fonts are the typed-signature faces, served from pkg/pdffont's copies so
// the preview is drawn with the very files the stamp embeds.
var fonts = map[string][]byte{
	"signature-handwriting.ttf":  pdffont.HandwritingFile(),
	"signature-serif-italic.ttf": pdffont.SerifItalicFile(),
}
