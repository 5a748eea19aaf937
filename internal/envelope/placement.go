package envelope

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxFieldNameLen bounds a fieldName (PDF names of form fields are short).
const MaxFieldNameLen = 255

// namedField resolves a field placed by the document's own signature form
// field: the field must exist and be empty, and one envelope fills it only
// once. Page and rectangle come from the form field (coordinates given with
// it are replaced). It reports whether the field could be resolved.
func (c *checker) namedField(fp string, f *FieldInput, docs map[string]docInfo, used map[string]string) bool {
	field := fp + "fieldName"
	if !utf8.ValidString(f.FieldName) || utf8.RuneCountInString(f.FieldName) > MaxFieldNameLen {
		c.add(field, "must be valid UTF-8 of at most %d characters", MaxFieldNameLen)
		return false
	}
	if f.Type != FieldSignature {
		c.add(field, "only SIGNATURE fields can name a signature form field")
		return false
	}
	if f.Anchor != nil {
		c.add(field, "a field is placed by fieldName or by anchorString, not both")
		return false
	}
	info, ok := docs[f.DocumentID]
	if !ok || !info.found {
		return true // documentId is reported on its own
	}
	if len(info.geometry) == 0 {
		c.add(field, "the signature fields of document %s are unknown (it was uploaded before they were recorded); upload it again", f.DocumentID)
		return false
	}
	var names []string
	for _, sf := range info.sigFields {
		if sf.Name != f.FieldName {
			if !sf.Signed {
				names = append(names, fmt.Sprintf("%q", sf.Name))
			}
			continue
		}
		switch {
		case sf.Signed:
			c.add(field, "signature field %q of document %s is already signed", f.FieldName, f.DocumentID)
			return false
		case sf.Page < 1 || sf.Rect.Width <= 0 || sf.Rect.Height <= 0:
			c.add(field, "signature field %q of document %s is invisible (no page or no area); a recipient's field must be seen", f.FieldName, f.DocumentID)
			return false
		}
		key := f.DocumentID + "\x00" + f.FieldName
		if prev, dup := used[key]; dup {
			c.add(field, "signature field %q of document %s is already used by %s", f.FieldName, f.DocumentID, strings.TrimSuffix(prev, "."))
			return false
		}
		used[key] = fp
		f.Page, f.X, f.Y, f.Width, f.Height = sf.Page, sf.Rect.X, sf.Rect.Y, sf.Rect.Width, sf.Rect.Height
		return true
	}
	empty := "it has no empty signature fields"
	if len(names) > 0 {
		empty = "its empty signature fields are " + strings.Join(names, ", ")
	}
	c.add(field, "document %s has no signature field %q; %s", f.DocumentID, f.FieldName, empty)
	return false
}

// Anchor places a field at every occurrence of a text in a document, as
// DocuSign's anchor tabs do: the field's top-left corner goes to the text's
// top-left corner, moved XOffset to the right and YOffset down, in Units.
type Anchor struct {
	String             string
	XOffset, YOffset   float64
	Units              string // points (default), pixels, mms or inches
	IgnoreIfNotPresent bool
}

func anchorString(a *Anchor) string {
	if a == nil {
		return ""
	}
	return a.String
}
