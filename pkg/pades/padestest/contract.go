package padestest

import (
	"bytes"
	"fmt"
	"strings"
)

// EmptyField is an unsigned signature field a form tool prepared.
type EmptyField struct {
	Name string
	Page int        // 1-based
	Rect [4]float64 // llx lly urx ury
	// Extra is raw PDF dictionary syntax added to the field, e.g.
	// "/Lock <</Type /SigFieldLock /Action /All>>" or "/SV <<…>>".
	Extra string
	// Split puts the widget in a kid of the field instead of merging them.
	Split bool
}

// Contract builds a small US Letter PDF as an integrator's contract tool
// would: each page holds lines of Helvetica text (page i gets lines[i]),
// drawn from the top, 14 pt apart, at x 72; lines such as "Signature:" are
// where anchors point. fields are prepared, empty signature fields.
func Contract(pages [][]string, fields ...EmptyField) []byte {
	var objs []string // objs[i] is object i+1
	add := func(body string) int { objs = append(objs, body); return len(objs) }
	catalog := add("")
	pagesObj := add("")
	font := add("<</Type /Font/Subtype /Type1/BaseFont /Helvetica/Encoding /WinAnsiEncoding>>")
	var pageRefs []int
	for range pages {
		pageRefs = append(pageRefs, add(""))
	}
	var annots = make([][]string, len(pages))
	var fieldRefs []string
	for _, f := range fields {
		rect := fmt.Sprintf("[%g %g %g %g]", f.Rect[0], f.Rect[1], f.Rect[2], f.Rect[3])
		page := pageRefs[f.Page-1]
		if f.Split {
			field := add("")
			widget := add(fmt.Sprintf("<</Type /Annot/Subtype /Widget/Rect %s/P %d 0 R/F 4/Parent %d 0 R>>", rect, page, field))
			objs[field-1] = fmt.Sprintf("<</FT /Sig/T (%s)/Kids [%d 0 R]%s>>", f.Name, widget, f.Extra)
			annots[f.Page-1] = append(annots[f.Page-1], fmt.Sprintf("%d 0 R", widget))
			fieldRefs = append(fieldRefs, fmt.Sprintf("%d 0 R", field))
			continue
		}
		field := add(fmt.Sprintf("<</Type /Annot/Subtype /Widget/FT /Sig/T (%s)/Rect %s/P %d 0 R/F 4%s>>", f.Name, rect, page, f.Extra))
		annots[f.Page-1] = append(annots[f.Page-1], fmt.Sprintf("%d 0 R", field))
		fieldRefs = append(fieldRefs, fmt.Sprintf("%d 0 R", field))
	}
	for i, lines := range pages {
		var c strings.Builder
		c.WriteString("BT /F1 12 Tf 14 TL 72 720 Td\n")
		for _, l := range lines {
			l = strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(l)
			fmt.Fprintf(&c, "(%s) Tj T*\n", l)
		}
		c.WriteString("ET")
		content := add(fmt.Sprintf("<</Length %d>>\nstream\n%s\nendstream", c.Len(), c.String()))
		a := ""
		if len(annots[i]) > 0 {
			a = "/Annots [" + strings.Join(annots[i], " ") + "]"
		}
		objs[pageRefs[i]-1] = fmt.Sprintf("<</Type /Page/Parent %d 0 R/MediaBox [0 0 612 792]/Resources <</Font <</F1 %d 0 R>>>>/Contents %d 0 R%s>>",
			pagesObj, font, content, a)
	}
	kids := make([]string, len(pageRefs))
	for i, r := range pageRefs {
		kids[i] = fmt.Sprintf("%d 0 R", r)
	}
	objs[pagesObj-1] = fmt.Sprintf("<</Type /Pages/Kids [%s]/Count %d>>", strings.Join(kids, " "), len(pageRefs))
	form := ""
	if len(fieldRefs) > 0 {
		form = "/AcroForm <</Fields [" + strings.Join(fieldRefs, " ") + "]>>"
	}
	objs[catalog-1] = fmt.Sprintf("<</Type /Catalog/Pages %d 0 R%s>>", pagesObj, form)

	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root %d 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, catalog, xref)
	return b.Bytes()
}
