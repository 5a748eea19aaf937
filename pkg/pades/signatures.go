package pades

// sigField is a signed signature field found in the AcroForm.
type sigField struct {
	name      string
	sigRef    ref // zero when /V is a direct dictionary
	sig       dict
	contents  []byte
	byteRange []int64
}

// signatures lists the signature fields that carry a value, in /Fields
// order, walking the field tree with bounds on depth and size.
func (d *document) signatures() ([]sigField, error) {
	_, cat, err := d.catalog()
	if err != nil {
		return nil, err
	}
	form, err := d.resolveDict(cat["AcroForm"])
	if err != nil || form == nil {
		return nil, err
	}
	fields, err := d.resolveArray(form["Fields"])
	if err != nil {
		return nil, err
	}
	var out []sigField
	visited := map[int]bool{}
	budget := 100000
	var walk func(arr array, prefix string, ft name, depth int) error
	walk = func(arr array, prefix string, ft name, depth int) error {
		if depth > 16 {
			return nil
		}
		for _, f := range arr {
			if budget--; budget < 0 {
				return nil
			}
			if r, ok := f.(ref); ok {
				if visited[r.num] {
					continue
				}
				visited[r.num] = true
			}
			fd, err := d.resolveDict(f)
			if err != nil {
				return err
			}
			if fd == nil {
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
			if kids, _ := d.resolveArray(fd["Kids"]); len(kids) > 0 {
				if err := walk(kids, full+".", fft, depth+1); err != nil {
					return err
				}
			}
			if fft != "Sig" || fd["V"] == nil {
				continue
			}
			sf := sigField{name: full}
			sf.sigRef, _ = fd["V"].(ref)
			if sf.sig, err = d.resolveDict(fd["V"]); err != nil {
				return err
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
		return nil
	}
	return out, walk(fields, "", "", 0)
}
