package pades

// formField is a node of the interactive form's field tree: a field, a
// widget annotation, or both merged in one dictionary.
type formField struct {
	ref    ref // zero for a direct dictionary
	dict   dict
	name   string // fully qualified (§12.7.4.2)
	ft     name   // field type, inherited from ancestors
	widget bool
	// parent is the object number of the parent node, -1 at the top.
	parent int
}

// fields lists the form's field tree depth first, in /Fields and /Kids
// order, bounded in depth and size, each node once.
func (d *document) fields() []formField {
	_, cat, err := d.catalog()
	if err != nil {
		return nil
	}
	form, _ := d.resolveDict(cat["AcroForm"])
	top, _ := d.resolveArray(form["Fields"])
	var out []formField
	visited := map[int]bool{}
	budget := 100000
	var walk func(arr array, prefix string, ft name, parent, depth int)
	walk = func(arr array, prefix string, ft name, parent, depth int) {
		if depth > 16 {
			return
		}
		for _, f := range arr {
			if budget--; budget < 0 {
				return
			}
			r, isRef := f.(ref)
			if isRef {
				if visited[r.num] {
					continue
				}
				visited[r.num] = true
			}
			fd, err := d.resolveDict(f)
			if err != nil || fd == nil {
				continue
			}
			full := prefix
			if t, ok := fd["T"].(pdfstr); ok {
				full += decodeText(t)
			}
			fft := ft
			if n := fd.name("FT"); n != "" {
				fft = n
			}
			out = append(out, formField{ref: r, dict: fd, name: full, ft: fft, parent: parent,
				widget: fd.name("Subtype") == "Widget" || (fd["T"] == nil && parent >= 0)})
			if kids, _ := d.resolveArray(fd["Kids"]); len(kids) > 0 {
				self := -1
				if isRef {
					self = r.num
				}
				walk(kids, full+".", fft, self, depth+1)
			}
		}
	}
	walk(top, "", "", -1, 0)
	return out
}

// sigField is a signed signature field found in the AcroForm.
type sigField struct {
	name      string
	sigRef    ref // zero when /V is a direct dictionary
	sig       dict
	contents  []byte
	byteRange []int64
}

// signatures lists the signature fields that carry a value, in field tree
// order.
func (d *document) signatures() ([]sigField, error) {
	if _, _, err := d.catalog(); err != nil {
		return nil, err
	}
	var out []sigField
	for _, f := range d.fields() {
		if f.ft != "Sig" || f.dict["V"] == nil {
			continue
		}
		sf := sigField{name: f.name}
		sf.sigRef, _ = f.dict["V"].(ref)
		var err error
		if sf.sig, err = d.resolveDict(f.dict["V"]); err != nil {
			return nil, err
		}
		if sf.sig == nil {
			continue
		}
		sf.contents, _ = sf.sig["Contents"].(pdfstr)
		br, _ := d.resolveArray(sf.sig["ByteRange"])
		for _, v := range br {
			if n, ok := v.(int64); ok {
				sf.byteRange = append(sf.byteRange, n)
			}
		}
		out = append(out, sf)
	}
	return out, nil
}
