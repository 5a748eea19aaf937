package pades

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// ChangeKind classifies what a revision after a signature changed. The
// kinds are ordered as Adobe's and pyHanko's modification levels: each
// DocMDP permission allows the kinds up to some point.
type ChangeKind string

// Kinds of change, from the most to the least innocuous.
const (
	// ChangeArchival: validation data (DSS, VRI), document timestamps,
	// invisible empty signature fields, metadata, the PDF version.
	ChangeArchival ChangeKind = "archival"
	// ChangeSignature: a new signature (field, widget and value).
	ChangeSignature ChangeKind = "signature"
	// ChangeFormFill: form field values and their appearances.
	ChangeFormFill ChangeKind = "form-fill"
	// ChangeAnnotation: annotations added, changed or removed.
	ChangeAnnotation ChangeKind = "annotation"
	// ChangeOther: everything else — page content, pages, catalog entries,
	// fields added or removed, data outside any incremental update.
	ChangeOther ChangeKind = "other"
)

func (k ChangeKind) level() int {
	switch k {
	case ChangeArchival:
		return 1
	case ChangeSignature, ChangeFormFill:
		return 2
	case ChangeAnnotation:
		return 3
	}
	return 4
}

// Change is one difference between a signed revision and the final file.
type Change struct {
	Kind        ChangeKind `json:"kind"`
	Description string     `json:"description"`
	// Allowed: the signature's permissions (DocMDP, FieldMDP) admit it.
	Allowed bool `json:"allowed"`
}

// permissions are what a signature lets later revisions do.
type permissions struct {
	docMDP int // P of the document's certification signature, 0 when none
	// lock is the signature's FieldMDP: action All, Include or Exclude with
	// the field names; empty action locks nothing.
	lockAction name
	lockFields map[string]bool
}

// maxLevel is the most a later revision may do (ISO 32000 §12.8.2.2):
// P=1 nothing but archival updates, P=2 form filling and signing, P=3 also
// annotations; an approval signature alone allows form filling and signing.
func (p permissions) maxLevel() int {
	switch p.docMDP {
	case 1:
		return ChangeArchival.level()
	case 3:
		return ChangeAnnotation.level()
	}
	return ChangeFormFill.level()
}

func (p permissions) locked(field string) bool {
	switch p.lockAction {
	case "All":
		return true
	case "Include":
		return p.lockFields[field]
	case "Exclude":
		return !p.lockFields[field]
	}
	return false
}

// analysis compares the signed revision old with the whole file cur.
type analysis struct {
	old, cur *document
	perms    permissions
	roles    map[int]role
	changes  []Change
	// newSigWidgets are the widget annotations of signature fields added
	// after the signature; their joining a page's /Annots is part of it.
	newSigWidgets map[int]bool
	// newSigAppearances are the normal appearances of those widgets: a
	// /Stamp added with one of them repeats a new signature's appearance
	// elsewhere (Options.ExtraAppearances) and is part of that signature.
	newSigAppearances map[ref]bool
}

func (a *analysis) add(kind ChangeKind, format string, args ...any) {
	a.changes = append(a.changes, Change{Kind: kind, Description: fmt.Sprintf(format, args...)})
}

// addLocked records a form change to field, refused when FieldMDP locks it.
func (a *analysis) addField(kind ChangeKind, field, format string, args ...any) {
	c := Change{Kind: kind, Description: fmt.Sprintf(format, args...)}
	if a.perms.locked(field) {
		c.Description += " (the field is locked by the signature's FieldMDP)"
		c.Kind = ChangeOther
	}
	a.changes = append(a.changes, c)
}

// analyseChanges reports what the bytes after end — the end of a signed
// revision — change, the way Adobe's and pyHanko's difference analyses do:
// every object a later revision redefines is compared with its signed
// version and explained by its role (catalog, page, annotation, form field,
// DSS…); what cannot be explained is a change of kind ChangeOther.
func analyseChanges(cur *document, end int64, perms permissions) []Change {
	old, err := openDocument(io.NewSectionReader(cur.r, 0, end), end)
	if err != nil {
		return []Change{{Kind: ChangeOther, Description: fmt.Sprintf("the signed bytes do not end with a complete revision: %v", err)}}
	}
	a := &analysis{old: old, cur: cur, perms: perms, newSigWidgets: map[int]bool{}, newSigAppearances: map[ref]bool{}}
	revs, problems := cur.laterRevisions(end, old.startxref)
	a.changes = append(a.changes, problems...)
	changed := map[int]bool{}
	for _, r := range revs {
		for n := range r.entries {
			changed[n] = true
		}
	}
	if len(changed) > 0 {
		a.compareTrailers()
		a.compareFieldTrees()
		a.roles = old.roles()
		nums := slices.Sorted(maps.Keys(changed))
		for _, n := range nums {
			a.compareObject(n)
		}
	}
	for i := range a.changes {
		c := &a.changes[i]
		c.Allowed = c.Kind.level() <= perms.maxLevel()
	}
	return a.changes
}

func (a *analysis) compareTrailers() {
	if a.old.trailer["Root"] != a.cur.trailer["Root"] {
		a.add(ChangeOther, "the document catalog was replaced")
	}
	if !reflect.DeepEqual(a.old.trailer["Info"], a.cur.trailer["Info"]) {
		a.add(ChangeArchival, "the document information dictionary was replaced")
	}
	if a.old.trailer["Encrypt"] == nil && a.cur.trailer["Encrypt"] != nil {
		a.add(ChangeOther, "encryption was added")
	}
}

func (a *analysis) compareObject(n int) {
	ov, err := a.old.object(n)
	if err != nil || ov == nil {
		return // a new object: judged through whatever refers to it
	}
	r := a.roles[n]
	nv, err := a.cur.object(n)
	if err != nil {
		a.add(ChangeOther, "%s (object %d) can no longer be read: %v", r.describe(n), n, err)
		return
	}
	if nv == nil {
		a.add(ChangeOther, "%s (object %d) was deleted", r.describe(n), n)
		return
	}
	if a.equal(ov, nv) {
		return // rewritten unchanged
	}
	od, _ := ov.(dict)
	if s, ok := ov.(stream); ok {
		od = s.dict
	}
	nd, _ := nv.(dict)
	if s, ok := nv.(stream); ok {
		nd = s.dict
	}
	switch r.kind {
	case roleCatalog:
		a.compareCatalog(od, nd)
	case roleInfo, roleMetadata:
		a.add(ChangeArchival, "document metadata updated")
	case rolePages:
		a.comparePageTree(n)
	case rolePage:
		a.comparePage(r.page, od, nd)
	case roleAnnots:
		oa, _ := ov.(array)
		na, _ := nv.(array)
		a.compareAnnots(r.page, oa, na)
	case roleAnnot:
		a.add(ChangeAnnotation, "%s changed", describeAnnot(a.cur, nd, r.page))
	case roleContent:
		a.add(ChangeOther, "the content of page %d changed", r.page)
	case roleAcroForm:
		a.compareAcroForm(od, nd)
	case roleFields, roleKids:
		// fields added or removed are found by compareFieldTrees
	case roleField:
		a.compareField(r, od, nd)
	case roleAppearance:
		if r.signed {
			a.add(ChangeOther, "the appearance of the signed field %q changed", r.field)
		} else {
			a.addField(ChangeFormFill, r.field, "the appearance of field %q was updated", r.field)
		}
	case roleDSS:
		a.add(ChangeArchival, "validation data (DSS) updated")
	default:
		a.add(ChangeOther, "%s (object %d) changed", r.describe(n), n)
	}
}

// equal compares two objects of the two revisions; references compare by
// number (what they point to is compared on its own when it changed), and
// streams by dictionary and raw data.
func (a *analysis) equal(x, y any) bool {
	switch xv := x.(type) {
	case stream:
		yv, ok := y.(stream)
		if !ok {
			return false
		}
		xd, yd := maps.Clone(xv.dict), maps.Clone(yv.dict)
		delete(xd, "Length")
		delete(yd, "Length")
		if !a.equal(xd, yd) {
			return false
		}
		xb, err1 := a.old.streamData(xv, false)
		yb, err2 := a.cur.streamData(yv, false)
		return err1 == nil && err2 == nil && bytes.Equal(xb, yb)
	case dict:
		yv, ok := y.(dict)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for k, v := range xv {
			w, ok := yv[k]
			if !ok || !a.equal(v, w) {
				return false
			}
		}
		return true
	case array:
		yv, ok := y.(array)
		if !ok || len(xv) != len(yv) {
			return false
		}
		for i := range xv {
			if !a.equal(xv[i], yv[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(x, y)
}

// changedKeys lists the keys whose values differ between two dictionaries.
func (a *analysis) changedKeys(od, nd dict) []name {
	var keys []name
	for k := range mergeKeys(od, nd) {
		if !a.equal(od[k], nd[k]) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func mergeKeys(a, b dict) map[name]bool {
	keys := map[name]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

func verb(od, nd dict, k name) string {
	switch {
	case od[k] == nil:
		return "added"
	case nd[k] == nil:
		return "removed"
	}
	return "changed"
}

func (a *analysis) compareCatalog(od, nd dict) {
	for _, k := range a.changedKeys(od, nd) {
		switch k {
		case "AcroForm":
			oldForm, _ := a.old.resolveDict(od[k])
			newForm, _ := a.cur.resolveDict(nd[k])
			a.compareAcroForm(oldForm, newForm)
		case "DSS":
			a.add(ChangeArchival, "validation data (DSS) %s", verb(od, nd, k))
		case "Extensions", "Version":
			a.add(ChangeArchival, "the PDF version or extensions declared (/%s %s)", k, verb(od, nd, k))
		case "Metadata":
			a.add(ChangeArchival, "document metadata updated")
		case "Pages":
			a.add(ChangeOther, "the page tree was replaced")
		default:
			a.add(ChangeOther, "catalog entry /%s %s", k, verb(od, nd, k))
		}
	}
}

func (a *analysis) compareAcroForm(od, nd dict) {
	for _, k := range a.changedKeys(od, nd) {
		switch k {
		case "Fields": // compareFieldTrees
		case "SigFlags":
			a.add(ChangeArchival, "form signature flags updated")
		case "DR", "DA", "NeedAppearances", "Q":
			a.add(ChangeFormFill, "form defaults (/%s) updated", k)
		default:
			a.add(ChangeOther, "form entry /%s %s", k, verb(od, nd, k))
		}
	}
}

func (a *analysis) comparePageTree(n int) {
	oldCount, _ := a.old.pageCount()
	newCount, err := a.cur.pageCount()
	switch {
	case err == nil && newCount > oldCount:
		a.add(ChangeOther, "pages added: %d pages, signed with %d", newCount, oldCount)
	case err == nil && newCount < oldCount:
		a.add(ChangeOther, "pages removed: %d pages, signed with %d", newCount, oldCount)
	default:
		a.add(ChangeOther, "the page tree changed (object %d): pages replaced, reordered or their inherited attributes changed", n)
	}
}

func (a *analysis) comparePage(page int, od, nd dict) {
	for _, k := range a.changedKeys(od, nd) {
		switch k {
		case "Annots":
			oldA, _ := a.old.resolveArray(od[k])
			newA, _ := a.cur.resolveArray(nd[k])
			a.compareAnnots(page, oldA, newA)
		case "Contents":
			a.add(ChangeOther, "the content of page %d changed", page)
		default:
			a.add(ChangeOther, "page %d: /%s %s", page, k, verb(od, nd, k))
		}
	}
}

// compareAnnots judges the entries added to or removed from a page's
// /Annots: widgets of new signature fields belong to those signatures;
// any other annotation is an annotation change.
func (a *analysis) compareAnnots(page int, oldA, newA array) {
	in := func(list array, e any) bool {
		return slices.ContainsFunc(list, func(x any) bool { return a.equal(x, e) })
	}
	for _, e := range oldA {
		if !in(newA, e) {
			od, _ := a.old.resolveDict(e)
			if r, ok := e.(ref); ok && a.roles[r.num].kind == roleField {
				a.add(ChangeOther, "the widget of field %q was removed from page %d", a.roles[r.num].field, page)
				continue
			}
			a.add(ChangeAnnotation, "%s removed", describeAnnot(a.old, od, page))
		}
	}
	for _, e := range newA {
		if in(oldA, e) {
			continue
		}
		if r, ok := e.(ref); ok && a.newSigWidgets[r.num] {
			continue
		}
		nd, _ := a.cur.resolveDict(e)
		if nd.name("Subtype") == "Widget" {
			a.add(ChangeOther, "a form field widget was added on page %d", page)
			continue
		}
		if nd.name("Subtype") == "Stamp" && a.newSigAppearances[normalAppearance(a.cur, nd)] {
			continue
		}
		a.add(ChangeAnnotation, "%s added", describeAnnot(a.cur, nd, page))
	}
}

// describeAnnot names an annotation for a report: its type, page, place
// and text, e.g. `FreeText annotation on page 1 at [100 500 500 540]: "…"`.
func describeAnnot(d *document, ad dict, page int) string {
	st := string(ad.name("Subtype"))
	if st == "" {
		st = "an"
	}
	s := fmt.Sprintf("%s annotation on page %d", st, page)
	if rect, _ := d.resolveArray(ad["Rect"]); len(rect) == 4 {
		var nums []string
		for _, v := range rect {
			f, _ := number(v)
			nums = append(nums, fmt.Sprintf("%.0f", f))
		}
		s += " at [" + strings.Join(nums, " ") + "]"
	}
	if c, ok := ad["Contents"].(pdfstr); ok && len(c) > 0 {
		text := decodeText(c)
		if r := []rune(text); len(r) > 80 {
			text = string(r[:80]) + "…"
		}
		s += fmt.Sprintf(": %q", text)
	}
	return s
}

// fieldNode is what the difference analysis needs of a field tree node.
type fieldNode struct {
	name    string
	ft      name
	widget  bool
	kidOf   int // object number of the parent, -1 at the top
	hasV    bool
	visible bool
}

// fieldTree maps the object numbers of d's field tree nodes to them.
func (d *document) fieldTree() map[int]fieldNode {
	out := map[int]fieldNode{}
	for _, f := range d.fields() {
		if f.ref != (ref{}) {
			out[f.ref.num] = fieldNode{name: f.name, ft: f.ft, widget: f.widget, kidOf: f.parent,
				hasV: f.dict["V"] != nil, visible: visibleAnnot(d, f.dict)}
		}
	}
	return out
}

// visibleAnnot reports whether an annotation takes room on the page and is
// not hidden (flags Hidden and NoView).
func visibleAnnot(d *document, ad dict) bool {
	if f, _ := d.resolveInt(ad["F"]); f&(2|32) != 0 {
		return false
	}
	rect, _ := d.resolveArray(ad["Rect"])
	if len(rect) != 4 {
		return false
	}
	var v [4]float64
	for i, e := range rect {
		v[i], _ = number(e)
	}
	return (v[2]-v[0])*(v[3]-v[1]) != 0
}

// compareFieldTrees finds form fields added or removed after signing. New
// signature fields (with their widgets) are signatures or archival
// additions; any other new field, or a removed one, changes the form.
func (a *analysis) compareFieldTrees() {
	oldT, newT := a.old.fieldTree(), a.cur.fieldTree()
	for _, n := range slices.Sorted(maps.Keys(oldT)) {
		node := oldT[n]
		if _, ok := newT[n]; ok {
			continue
		}
		if _, parentKept := newT[node.kidOf]; node.kidOf >= 0 && !parentKept {
			continue // reported with its parent
		}
		a.add(ChangeOther, "form field %q was removed", node.name)
	}
	for _, n := range slices.Sorted(maps.Keys(newT)) {
		node := newT[n]
		if _, ok := oldT[n]; ok {
			continue
		}
		if node.kidOf >= 0 {
			if _, parentOld := oldT[node.kidOf]; parentOld {
				a.add(ChangeOther, "a widget or field was added to form field %q", newT[node.kidOf].name)
			}
			continue // otherwise part of a new field, judged with it
		}
		if node.ft != "Sig" {
			a.add(ChangeOther, "form field %q (%s) was added", node.name, node.ft)
			continue
		}
		visible := node.visible
		for k, kid := range newT {
			if kid.kidOf == n && kid.visible {
				visible = true
			}
			if kid.kidOf == n {
				a.newSigWidgets[k] = true
			}
		}
		a.newSigWidgets[n] = true
		fd, _ := a.cur.resolveDict(ref{n, 0})
		if _, sd := fd["V"].(ref); sd {
			for k := range a.newSigWidgets {
				kd, _ := a.cur.resolveDict(ref{k, 0})
				if ap := normalAppearance(a.cur, kd); ap != (ref{}) && (k == n || newT[k].kidOf == n) {
					a.newSigAppearances[ap] = true
				}
			}
		}
		a.judgeNewSignature(node.name, fd, visible)
	}
}

// normalAppearance is the indirect /AP /N of an annotation, the zero ref
// when it has none or it is a state dictionary or direct.
func normalAppearance(d *document, ad dict) ref {
	ap, _ := d.resolveDict(ad["AP"])
	r, _ := ap["N"].(ref)
	return r
}

// judgeNewSignature classifies a signature field added after signing.
func (a *analysis) judgeNewSignature(field string, fd dict, visible bool) {
	sd, _ := a.cur.resolveDict(fd["V"])
	switch {
	case sd == nil && !visible:
		a.add(ChangeArchival, "empty signature field %q added", field)
	case sd == nil:
		// An unsigned field can carry any appearance: it is an annotation
		// on the page, not a signature.
		a.add(ChangeAnnotation, "unsigned signature field %q with a visible appearance added", field)
	case sd.name("SubFilter") == "ETSI.RFC3161" && !visible:
		a.add(ChangeArchival, "document timestamp %q added", field)
	default:
		a.add(ChangeSignature, "signature %q added", field)
	}
}

// compareField judges changes to a field (or widget) that existed when the
// document was signed.
func (a *analysis) compareField(r role, od, nd dict) {
	signing := r.sig && od["V"] == nil && nd["V"] != nil
	for _, k := range a.changedKeys(od, nd) {
		switch k {
		case "V":
			switch {
			case signing:
				sd, _ := a.cur.resolveDict(nd["V"])
				if sd.name("SubFilter") == "ETSI.RFC3161" && !visibleAnnot(a.cur, nd) {
					a.add(ChangeArchival, "document timestamp in existing field %q", r.field)
				} else {
					a.addField(ChangeSignature, r.field, "signature in existing field %q", r.field)
				}
			case r.sig:
				a.add(ChangeOther, "the signature value of field %q was replaced", r.field)
			default:
				a.addField(ChangeFormFill, r.field, "the value of field %q changed", r.field)
			}
		case "AP", "AS":
			switch {
			case signing:
			case r.sig && r.signed:
				a.add(ChangeOther, "the appearance of the signed field %q changed", r.field)
			default:
				a.addField(ChangeFormFill, r.field, "the appearance of field %q was updated", r.field)
			}
		case "Kids": // compareFieldTrees
		case "F", "Ff", "DA", "Q", "MK", "Type":
			a.addField(ChangeFormFill, r.field, "field %q: /%s %s", r.field, k, verb(od, nd, k))
		default:
			a.add(ChangeOther, "field %q: /%s %s", r.field, k, verb(od, nd, k))
		}
	}
}
