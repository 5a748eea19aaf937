package pinpage

import (
	"testing"

	"github.com/vellum-sign/vellum/internal/i18n/i18ntest"
)

// TestTemplates_EveryStringGoesThroughTheCatalogue: the PIN and reset
// pages carry no text a person reads but the brand and symbols.
func TestTemplates_EveryStringGoesThroughTheCatalogue(t *testing.T) {
	i18ntest.EveryStringGoesThroughTheCatalogue(t, templateFS, "templates", "Vellum", "SHA-256", "·")
}
