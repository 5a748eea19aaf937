package pades

import (
	"fmt"
	"maps"
)

// checkSignable refuses documents that must not get another revision:
// encrypted files and certified files whose DocMDP permissions (P=1) forbid
// any change (§12.8.2.2).
func checkSignable(d *document) error {
	if d.trailer["Encrypt"] != nil {
		return ErrEncrypted
	}
	_, cat, err := d.catalog()
	if err != nil {
		return codeErr(CodeUnknownError, err, "cannot read the document catalog")
	}
	p, err := docMDPPermission(d, cat)
	if err != nil {
		return codeErr(CodeUnknownError, err, "cannot read /Perms")
	}
	if p == 1 {
		return &Error{Code: CodeLocked, Msg: "document is certified with DocMDP P=1: no changes are permitted"}
	}
	return nil
}

// docMDPPermission returns the /P of the certification signature's DocMDP
// transform, 0 when the document is not certified.
func docMDPPermission(d *document, cat dict) (int64, error) {
	perms, err := d.resolveDict(cat["Perms"])
	if err != nil || perms == nil {
		return 0, err
	}
	sig, err := d.resolveDict(perms["DocMDP"])
	if err != nil || sig == nil {
		return 0, err
	}
	refs, err := d.resolveArray(sig["Reference"])
	if err != nil {
		return 0, err
	}
	for _, r := range refs {
		sr, err := d.resolveDict(r)
		if err != nil || sr == nil || sr.name("TransformMethod") != "DocMDP" {
			continue
		}
		params, _ := d.resolveDict(sr["TransformParams"])
		if p, ok := d.resolveInt(params["P"]); ok {
			return p, nil
		}
		return 2, nil // the default
	}
	return 0, nil
}

// fieldNames returns the fully qualified names of the form's fields.
func fieldNames(d *document) map[string]bool {
	names := map[string]bool{}
	for _, f := range d.fields() {
		if f.dict["T"] != nil {
			names[f.name] = true
		}
	}
	return names
}

// addField adds a signature field merged with its widget annotation,
// references it from the page's /Annots and the AcroForm's /Fields, and
// sets /SigFlags 3 (SignaturesExist | AppendOnly).
func (rv *revision) addField(fieldName string, sigRef ref, pageNum int, rect array, apRef ref) (string, error) {
	d := rv.d
	catRef, cat, err := d.catalog()
	if err != nil {
		return "", err
	}
	pageRef, _, err := d.page(pageNum)
	if err != nil {
		return "", fmt.Errorf("find page %d: %w", pageNum, err)
	}
	fieldRef := rv.alloc()

	// The AcroForm, possibly indirect, possibly with an indirect /Fields.
	var form dict
	hadForm := cat["AcroForm"] != nil
	formRef, formIsRef := cat["AcroForm"].(ref)
	if formIsRef {
		f, err := rv.get(formRef)
		if err != nil {
			return "", fmt.Errorf("AcroForm: %w", err)
		}
		form, _ = f.(dict)
	} else {
		form, _ = cat["AcroForm"].(dict)
	}
	form = maps.Clone(form)
	if form == nil {
		form = dict{}
	}
	var fields array
	fieldsRef, fieldsIsRef := form["Fields"].(ref)
	if fieldsIsRef {
		fa, err := rv.get(fieldsRef)
		if err != nil {
			return "", fmt.Errorf("AcroForm /Fields: %w", err)
		}
		fields, _ = fa.(array)
	} else {
		fields, _ = form["Fields"].(array)
	}
	if fieldName == "" {
		names := fieldNames(d)
		for i := 1; ; i++ {
			fieldName = fmt.Sprintf("Signature%d", i)
			if !names[fieldName] {
				break
			}
		}
	} else if fieldNames(d)[fieldName] {
		return "", fmt.Errorf("a field named %q already exists", fieldName)
	}
	fields = append(append(array{}, fields...), fieldRef)
	if fieldsIsRef {
		rv.set(fieldsRef, fields)
	} else {
		form["Fields"] = fields
	}
	form["SigFlags"] = int64(3)
	if formIsRef {
		rv.set(formRef, form)
	} else {
		cat = maps.Clone(cat)
		if !hadForm {
			// A new AcroForm gets its own object, as most writers do.
			nf := rv.alloc()
			rv.set(nf, form)
			cat["AcroForm"] = nf
		} else {
			cat["AcroForm"] = form
		}
		rv.set(catRef, cat)
	}

	if err := rv.addAnnot(pageRef, fieldRef); err != nil {
		return "", err
	}

	rv.set(fieldRef, dict{
		"FT":      name("Sig"),
		"T":       textString(fieldName),
		"V":       sigRef,
		"Type":    name("Annot"),
		"Subtype": name("Widget"),
		"F":       int64(132), // Print | Locked
		"Rect":    rect,
		"P":       pageRef,
		"AP":      dict{"N": apRef},
	})
	return fieldName, nil
}

// addAnnot appends annot to the page's /Annots, which may be indirect, as
// this revision has it so far (several annotations may join one page).
func (rv *revision) addAnnot(pageRef, annot ref) error {
	po, err := rv.get(pageRef)
	if err != nil {
		return err
	}
	page, _ := po.(dict)
	if annotsRef, ok := page["Annots"].(ref); ok {
		ao, err := rv.get(annotsRef)
		if err != nil {
			return fmt.Errorf("page /Annots: %w", err)
		}
		annots, _ := ao.(array)
		rv.set(annotsRef, append(append(array{}, annots...), annot))
		return nil
	}
	page = maps.Clone(page)
	annots, _ := page["Annots"].(array)
	page["Annots"] = append(append(array{}, annots...), annot)
	rv.set(pageRef, page)
	return nil
}

// addStamp shows the signature's appearance apRef again at rect on page
// pageNum, as a /Stamp annotation rather than a second widget: a signature
// field with several widgets reads as several fields, the extra ones
// unsigned, in validators such as pdfsig. Sharing the widget's appearance
// object is what lets verification tell the stamp belongs to the signature.
func (rv *revision) addStamp(pageNum int, rect Rect, apRef ref) error {
	pageRef, _, err := rv.d.page(pageNum)
	if err != nil {
		return fmt.Errorf("find page %d: %w", pageNum, err)
	}
	r := rv.alloc()
	rv.set(r, dict{
		"Type":    name("Annot"),
		"Subtype": name("Stamp"),
		"F":       int64(132), // Print | Locked, as the widget
		"Rect":    array{rect.X, rect.Y, rect.X + rect.W, rect.Y + rect.H},
		"P":       pageRef,
		"AP":      dict{"N": apRef},
	})
	return rv.addAnnot(pageRef, r)
}

// catalog returns a copy of the catalog as this revision has it so far, to
// change and set back.
func (rv *revision) catalog() (ref, dict, error) {
	catRef, _, err := rv.d.catalog()
	if err != nil {
		return catRef, nil, err
	}
	co, err := rv.get(catRef)
	if err != nil {
		return catRef, nil, err
	}
	cat, ok := co.(dict)
	if !ok {
		return catRef, nil, fmt.Errorf("catalog %v is not a dictionary", catRef)
	}
	return catRef, maps.Clone(cat), nil
}

// certify points the catalog's /Perms /DocMDP at the signature.
func (rv *revision) certify(sigRef ref) error {
	catRef, cat, err := rv.catalog()
	if err != nil {
		return err
	}
	perms, _ := rv.d.resolveDict(cat["Perms"])
	perms = maps.Clone(perms)
	if perms == nil {
		perms = dict{}
	}
	if perms["DocMDP"] != nil {
		return fmt.Errorf("document is already certified")
	}
	perms["DocMDP"] = sigRef
	cat["Perms"] = perms
	rv.set(catRef, cat)
	return nil
}
