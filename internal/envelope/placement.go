package envelope

import (
	"fmt"
	"math"
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

// anchorString is the text a field was placed at, if any.
func anchorString(f FieldInput) string {
	if f.Anchor == nil {
		return f.anchoredAt
	}
	return f.Anchor.String
}

// MaxAnchorLen bounds an anchor text.
const MaxAnchorLen = 255

// anchorUnits are points per unit of the offsets. DocuSign's pixels are
// 1/72 inch: points by another name.
var anchorUnits = map[string]float64{"": 1, "points": 1, "pixels": 1, "mms": 72 / 25.4, "inches": 72}

// anchored resolves the anchor fields of one recipient into fields at
// coordinates, one per occurrence of the text on every page of the
// document; a field without an anchor passes through. fp names the
// recipient ("recipients[0].").
func (c *checker) anchored(p string, in []FieldInput, docs map[string]docInfo) []FieldInput {
	var out []FieldInput
	for j, f := range in {
		if f.Anchor == nil || f.FieldName != "" {
			out = append(out, f)
			continue
		}
		fp := fmt.Sprintf("%sfields[%d].", p, j)
		a := f.Anchor
		scale, okUnits := anchorUnits[a.Units]
		switch {
		case strings.TrimSpace(a.String) == "":
			c.add(fp+"anchorString", "is required with anchor offsets, units or anchorIgnoreIfNotPresent")
			continue
		case !utf8.ValidString(a.String) || utf8.RuneCountInString(a.String) > MaxAnchorLen:
			c.add(fp+"anchorString", "must be valid UTF-8 of at most %d characters", MaxAnchorLen)
			continue
		case !okUnits:
			c.add(fp+"anchorUnits", "must be points, pixels, mms or inches")
			continue
		case math.Abs(a.XOffset*scale) > 14400 || math.Abs(a.YOffset*scale) > 14400:
			c.add(fp+"anchorXOffset", "offsets must be within 14400 points")
			continue
		case f.Width <= 0 || f.Height <= 0 || f.Width > 14400 || f.Height > 14400:
			c.add(fp+"width", "an anchored field needs a width and height of more than 0 and at most 14400 points")
			continue
		}
		info, ok := docs[f.DocumentID]
		if !ok || !info.found || info.text == nil {
			out = append(out, f) // documentId is reported on its own
			continue
		}
		text, err := info.text()
		if err != nil {
			c.add(fp+"anchorString", "the text of document %s cannot be read to find %q: %v", f.DocumentID, a.String, err)
			continue
		}
		n := 0
		for i := range text.Pages {
			pg := &text.Pages[i]
			for _, b := range pg.Find(a.String) {
				// Display space: x right, y down, as DocuSign's offsets.
				x0, y0 := b.XMin+a.XOffset*scale, b.YMin+a.YOffset*scale
				ux0, uy0 := pg.ToUser(x0, y0)
				ux1, uy1 := pg.ToUser(x0+f.Width, y0+f.Height)
				g := f
				g.Page = pg.Number
				g.X, g.Y = round2(math.Min(ux0, ux1)), round2(math.Min(uy0, uy1))
				g.Width, g.Height = round2(math.Abs(ux1-ux0)), round2(math.Abs(uy1-uy0))
				out = append(out, g)
				n++
			}
		}
		if n == 0 && !a.IgnoreIfNotPresent {
			c.add(fp+"anchorString", "%q does not occur in document %s (set anchorIgnoreIfNotPresent to place no field then)", a.String, f.DocumentID)
		}
	}
	return out
}

// round2 keeps coordinates to a hundredth of a point.
func round2(v float64) float64 { return math.Round(v*100) / 100 }
