package pades

import "fmt"

// roleKind is what an object is in a document's structure, as far as the
// difference analysis needs to know.
type roleKind int

const (
	roleUnknown roleKind = iota
	roleCatalog
	roleInfo
	roleMetadata
	rolePages      // a page tree node
	rolePage       // a page
	roleAnnots     // a page's /Annots array
	roleAnnot      // an annotation (not a form widget)
	roleContent    // a page's content stream, or its array
	roleResources  // a page's resources
	roleAcroForm   // the interactive form dictionary
	roleFields     // its /Fields array
	roleKids       // a field's /Kids array
	roleField      // a form field or widget
	roleAppearance // an appearance stream or dictionary of a field
	roleDSS        // the DSS, its arrays, streams and VRI
	roleObjStm     // an object stream
)

type role struct {
	kind   roleKind
	page   int    // 1-based, for page roles
	field  string // fully qualified name, for field roles
	sig    bool   // a signature field
	signed bool   // a signature field with a value
}

func (r role) describe(n int) string {
	switch r.kind {
	case roleCatalog:
		return "the document catalog"
	case roleInfo:
		return "the document information dictionary"
	case roleMetadata:
		return "the document metadata"
	case rolePages:
		return "a page tree node"
	case rolePage:
		return fmt.Sprintf("page %d", r.page)
	case roleAnnots:
		return fmt.Sprintf("the annotations of page %d", r.page)
	case roleAnnot:
		return fmt.Sprintf("an annotation on page %d", r.page)
	case roleContent:
		return fmt.Sprintf("the content of page %d", r.page)
	case roleResources:
		return fmt.Sprintf("the resources of page %d", r.page)
	case roleAcroForm:
		return "the interactive form"
	case roleFields, roleKids:
		return "a list of form fields"
	case roleField:
		return fmt.Sprintf("form field %q", r.field)
	case roleAppearance:
		return fmt.Sprintf("an appearance of field %q", r.field)
	case roleDSS:
		return "the DSS"
	case roleObjStm:
		return "an object stream"
	}
	return "an object"
}

// roles maps the object numbers of d's structure to their role: the
// catalog, the page tree and every page with its content and annotations,
// the form's fields with their appearances, the DSS, the object streams.
// The walk is bounded like every other on hostile input.
func (d *document) roles() map[int]role {
	out := map[int]role{}
	set := func(o any, r role) {
		if ref, ok := o.(ref); ok {
			if _, seen := out[ref.num]; !seen { // the first role found stands; fields override below
				out[ref.num] = r
			}
		}
	}
	for _, e := range d.xref {
		if e.kind == 2 {
			out[int(e.off)] = role{kind: roleObjStm}
		}
	}
	set(d.trailer["Info"], role{kind: roleInfo})
	catRef, cat, err := d.catalog()
	if err != nil {
		return out
	}
	out[catRef.num] = role{kind: roleCatalog}
	set(cat["Metadata"], role{kind: roleMetadata})
	d.pageRoles(cat["Pages"], set)
	if cat["AcroForm"] != nil {
		set(cat["AcroForm"], role{kind: roleAcroForm})
		form, _ := d.resolveDict(cat["AcroForm"])
		set(form["Fields"], role{kind: roleFields})
		for n, node := range d.fieldTree() {
			fd, _ := d.resolveDict(ref{n, 0})
			signed := node.ft == "Sig" && (node.hasV || d.fieldHasValue(node))
			r := role{kind: roleField, field: node.name, sig: node.ft == "Sig", signed: signed}
			out[n] = r
			set(fd["Kids"], role{kind: roleKids, field: node.name})
			ap := role{kind: roleAppearance, field: node.name, sig: r.sig, signed: signed}
			set(fd["AP"], ap)
			apd, _ := d.resolveDict(fd["AP"])
			for _, k := range []name{"N", "R", "D"} {
				set(apd[k], ap)
				states, _ := d.resolveDict(apd[k])
				for _, st := range states {
					set(st, ap)
				}
			}
		}
	}
	if cat["DSS"] != nil {
		set(cat["DSS"], role{kind: roleDSS})
		dss, _ := d.resolveDict(cat["DSS"])
		for _, k := range []name{"Certs", "OCSPs", "CRLs"} {
			set(dss[k], role{kind: roleDSS})
			arr, _ := d.resolveArray(dss[k])
			for i, e := range arr {
				if i > 10000 {
					break
				}
				set(e, role{kind: roleDSS})
			}
		}
		set(dss["VRI"], role{kind: roleDSS})
		vri, _ := d.resolveDict(dss["VRI"])
		for _, e := range vri {
			set(e, role{kind: roleDSS})
		}
	}
	return out
}

// fieldHasValue reports whether a widget's parent field has a value (a
// signature field split into field and widget).
func (d *document) fieldHasValue(node fieldNode) bool {
	if node.kidOf < 0 {
		return false
	}
	fd, _ := d.resolveDict(ref{node.kidOf, 0})
	return fd["V"] != nil
}

// pageRoles walks the page tree, numbering pages in order.
func (d *document) pageRoles(root any, set func(any, role)) {
	page := 0
	visited := map[int]bool{}
	var walk func(node any, depth int)
	walk = func(node any, depth int) {
		r, ok := node.(ref)
		if !ok || depth > 64 || visited[r.num] || len(visited) > maxLoads/4 {
			return
		}
		visited[r.num] = true
		nd, _ := d.resolveDict(node)
		if nd == nil {
			return
		}
		if nd.name("Type") == "Pages" || (nd.name("Type") != "Page" && nd["Kids"] != nil) {
			set(node, role{kind: rolePages})
			kids, _ := d.resolveArray(nd["Kids"])
			for _, k := range kids {
				walk(k, depth+1)
			}
			return
		}
		page++
		set(node, role{kind: rolePage, page: page})
		set(nd["Annots"], role{kind: roleAnnots, page: page})
		annots, _ := d.resolveArray(nd["Annots"])
		for _, a := range annots {
			set(a, role{kind: roleAnnot, page: page})
		}
		set(nd["Contents"], role{kind: roleContent, page: page})
		contents, _ := d.resolveArray(nd["Contents"])
		for _, c := range contents {
			set(c, role{kind: roleContent, page: page})
		}
		set(nd["Resources"], role{kind: roleResources, page: page})
	}
	walk(root, 0)
}
