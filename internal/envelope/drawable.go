package envelope

import (
	"errors"
	"fmt"

	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// drawable adds a field error when text cannot be drawn on a signature
// stamp in stack: a name the worker could not print is refused when it is
// given, not found out when the signature is applied.
func (c *checker) drawable(field, text string, stack pdffont.Stack) {
	var ue *pdffont.UnsupportedError
	if !errors.As(stack.Check(text), &ue) {
		return
	}
	ch := fmt.Sprintf("%q (U+%04X", string(ue.Rune), ue.Rune)
	if ue.Script != "" {
		ch += ", " + ue.Script
	}
	ch += ")"
	switch ue.Reason {
	case pdffont.ReasonRightToLeft:
		c.add(field, "contains %s, a right-to-left script, which signature stamps cannot lay out yet", ch)
	case pdffont.ReasonNeedsShaping:
		c.add(field, "contains %s, a script that needs glyph shaping, which signature stamps cannot lay out yet", ch)
	default:
		c.add(field, "contains %s, which no font of this server can draw (an operator can add one with VELLUM_FONT_PATH)", ch)
	}
}

// nameStack is what signers' names are drawn in on stamps.
func nameStack(fonts []*pdffont.Font) pdffont.Stack {
	return append(pdffont.Stack{pdffont.Sans()}, fonts...)
}
