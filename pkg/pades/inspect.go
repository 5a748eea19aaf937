package pades

import (
	"errors"
	"fmt"
	"io"
)

// Page is one page's geometry as a viewer shows it.
type Page struct {
	// MediaBox and CropBox in default user space; CropBox equals MediaBox
	// when the page sets none.
	MediaBox, CropBox Rect
	// Rotate is 0, 90, 180 or 270: the clockwise rotation when displayed.
	Rotate int
}

// Visible is the part of the page a viewer shows: the CropBox within the
// MediaBox.
func (p Page) Visible() Rect { return intersect(p.MediaBox, p.CropBox) }

// SignatureField is a signature form field found in a document.
type SignatureField struct {
	Name string // fully qualified name (§12.7.4.2)
	// Page is the 1-based page of the field's (first) widget, 0 when the
	// widget is on no page; Rect is where, in default user space.
	Page   int
	Rect   Rect
	Signed bool
}

// Info is what Inspect learns about a document.
type Info struct {
	Pages           []Page
	SignatureFields []SignatureField
	// Damaged: the cross-reference data had to be reconstructed. Sign
	// rewrites such a file cleanly before signing it, and refuses it
	// (ErrDamagedSigned) when it carries signatures.
	Damaged bool
}

// Inspect reads the page boxes and the signature fields of the PDF in r
// (size bytes), so a caller can check placements and field names without
// signing. Damaged cross-reference data is reconstructed as Sign does.
func Inspect(r io.ReaderAt, size int64) (*Info, error) {
	d, err := openDocument(r, size)
	if err == nil {
		if err = d.healthy(); err != nil {
			d.release()
		}
	}
	damaged := err != nil
	if damaged {
		var rerr error
		if d, rerr = reconstruct(r, size); rerr != nil {
			return nil, codeErr(CodeUnknownError, err, "cannot read PDF")
		}
	}
	defer d.release()
	pages, err := d.pages()
	if err != nil {
		return nil, codeErr(CodeUnknownError, err, "cannot read the page tree")
	}
	info := &Info{Damaged: damaged}
	for _, p := range pages {
		info.Pages = append(info.Pages, p.box)
	}
	for _, f := range d.sigFields(pages) {
		info.SignatureFields = append(info.SignatureFields, f.SignatureField)
	}
	return info, nil
}

// CheckPlacement returns a *PlacementError when a box on page (1-based)
// lies outside the document's pages or entirely outside its page's visible
// area, nil otherwise: what Sign refuses, checked from stored page boxes.
func CheckPlacement(pages []Page, page int, r Rect) error {
	if page < 1 || page > len(pages) {
		return &PlacementError{Page: page, Rect: r, Pages: len(pages)}
	}
	vis := pages[page-1].Visible()
	if !overlaps(r, vis) {
		return &PlacementError{Page: page, Rect: r, Box: vis}
	}
	return nil
}

// pageEntry is one leaf of the page tree.
type pageEntry struct {
	ref ref
	box Page
}

// pages walks the whole page tree in order, with the inherited boxes and
// rotation of every page, bounded like every walk of hostile input.
func (d *document) pages() ([]pageEntry, error) {
	_, cat, err := d.catalog()
	if err != nil {
		return nil, err
	}
	root, ok := cat["Pages"].(ref)
	if !ok {
		return nil, errors.New("catalog has no /Pages reference")
	}
	type inh struct{ media, crop, rotate any }
	var out []pageEntry
	visited := map[int]bool{}
	var walk func(r ref, in inh, depth int) error
	walk = func(r ref, in inh, depth int) error {
		if depth > 64 {
			return errors.New("page tree too deep")
		}
		if visited[r.num] {
			return errors.New("page tree has a cycle")
		}
		visited[r.num] = true
		nd, err := d.resolveDict(r)
		if err != nil {
			return fmt.Errorf("page tree node %v: %w", r, err)
		}
		if nd == nil {
			return nil // a missing node: readers skip it
		}
		if v, ok := nd["MediaBox"]; ok {
			in.media = v
		}
		if v, ok := nd["CropBox"]; ok {
			in.crop = v
		}
		if v, ok := nd["Rotate"]; ok {
			in.rotate = v
		}
		if nd.name("Type") == "Page" || (nd["Kids"] == nil && nd.name("Type") != "Pages") {
			media, ok := d.box(in.media)
			if !ok {
				media = Rect{0, 0, 612, 792} // US Letter, what readers assume
			}
			p := Page{MediaBox: media, CropBox: media}
			if crop, ok := d.box(in.crop); ok {
				p.CropBox = crop
			}
			if rot, ok := d.resolveInt(in.rotate); ok {
				p.Rotate = int(((rot%360)+360)%360) / 90 * 90
			}
			out = append(out, pageEntry{ref: r, box: p})
			return nil
		}
		kids, err := d.resolveArray(nd["Kids"])
		if err != nil {
			return err
		}
		for _, k := range kids {
			if kr, ok := k.(ref); ok {
				if err := walk(kr, in, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root, inh{}, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// sigFieldInfo is a signature field with where its parts live.
type sigFieldInfo struct {
	SignatureField
	field   formField
	widget  formField // the field itself when merged with its widget
	pageRef ref
}

// sigFields lists the signature fields (terminal fields of type Sig) with
// their first widget's page and rectangle.
func (d *document) sigFields(pages []pageEntry) []sigFieldInfo {
	index := map[int]int{}
	for i, p := range pages {
		index[p.ref.num] = i + 1
	}
	all := d.fields()
	var out []sigFieldInfo
	for i, f := range all {
		if f.ft != "Sig" || f.dict["T"] == nil {
			continue
		}
		info := sigFieldInfo{field: f, widget: f}
		info.Name = f.name
		info.Signed = f.dict["V"] != nil
		if f.dict.name("Subtype") != "Widget" {
			hasKids := false
			for _, k := range all[i+1:] {
				if k.parent == f.ref.num && f.ref != (ref{}) {
					hasKids = true
					if k.widget {
						info.widget = k
						break
					}
				}
			}
			if hasKids && info.widget.ref == f.ref {
				continue // a non-terminal node: its kids are the fields
			}
		}
		if r, ok := d.box(info.widget.dict["Rect"]); ok {
			info.Rect = r
		}
		if p, ok := info.widget.dict["P"].(ref); ok && index[p.num] > 0 {
			info.pageRef, info.Page = p, index[p.num]
		} else if info.widget.ref != (ref{}) {
			// No (or a wrong) /P: find the page whose /Annots holds it.
			for i, pg := range pages {
				pd, _ := d.resolveDict(pg.ref)
				annots, _ := d.resolveArray(pd["Annots"])
				for _, a := range annots {
					if a == info.widget.ref {
						info.pageRef, info.Page = pg.ref, i+1
					}
				}
				if info.Page > 0 {
					break
				}
			}
		}
		out = append(out, info)
	}
	return out
}
