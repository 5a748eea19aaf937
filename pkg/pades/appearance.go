package pades

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"time"

	"github.com/vellum-sign/vellum/pkg/pdffont"
	"github.com/vellum-sign/vellum/pkg/pdfimage"
)

// PlacementError means a visible signature cannot go where it was asked
// to: its page does not exist, or its box lies entirely outside the part of
// the page a viewer shows (the CropBox within the MediaBox).
type PlacementError struct {
	Page  int
	Rect  Rect
	Pages int  // the document's page count, when the page does not exist
	Box   Rect // the page's visible area, in default user space
}

func (e *PlacementError) Error() string {
	if e.Pages > 0 || e.Box == (Rect{}) {
		return fmt.Sprintf("pades: visible signature on page %d, but the document has %d pages", e.Page, e.Pages)
	}
	return fmt.Sprintf("pades: visible signature box (x %s, y %s, width %s, height %s) lies entirely outside page %d,"+
		" whose visible area runs from x %s to %s and y %s to %s",
		formatReal(e.Rect.X), formatReal(e.Rect.Y), formatReal(e.Rect.W), formatReal(e.Rect.H), e.Page,
		formatReal(e.Box.X), formatReal(e.Box.X+e.Box.W), formatReal(e.Box.Y), formatReal(e.Box.Y+e.Box.H))
}

// isPlacement reports whether err is a *PlacementError, which Sign returns
// as it is rather than as a signing failure.
func isPlacement(err error) bool {
	var pe *PlacementError
	return errors.As(err, &pe)
}

// pageGeometry is what the appearance needs to know of its page.
type pageGeometry struct {
	visible Rect // CropBox ∩ MediaBox
	rotate  int  // 0, 90, 180 or 270, clockwise as displayed
}

// geometry reads page n's inheritable /MediaBox, /CropBox and /Rotate
// (§7.7.3.4), walking up /Parent when the page does not set them.
func (d *document) geometry(n int) (pageGeometry, error) {
	_, pd, err := d.page(n)
	if err != nil {
		if count, cerr := d.pageCount(); cerr == nil && (n < 1 || n > count) {
			return pageGeometry{}, &PlacementError{Page: n, Pages: count}
		}
		return pageGeometry{}, fmt.Errorf("find page %d: %w", n, err)
	}
	inherited := func(key name) any {
		node := pd
		for depth := 0; node != nil && depth < 64; depth++ {
			if v, ok := node[key]; ok {
				return v
			}
			node, _ = d.resolveDict(node["Parent"])
		}
		return nil
	}
	media, ok := d.box(inherited("MediaBox"))
	if !ok {
		media = Rect{0, 0, 612, 792} // US Letter, what readers assume
	}
	g := pageGeometry{visible: media}
	if crop, ok := d.box(inherited("CropBox")); ok {
		g.visible = intersect(media, crop)
	}
	if r, ok := d.resolveInt(inherited("Rotate")); ok {
		g.rotate = int(((r%360)+360)%360) / 90 * 90
	}
	return g, nil
}

// box reads a rectangle array [llx lly urx ury] in either corner order.
func (d *document) box(o any) (Rect, bool) {
	a, err := d.resolveArray(o)
	if err != nil || len(a) != 4 {
		return Rect{}, false
	}
	var v [4]float64
	for i, e := range a {
		e, _ = d.resolve(e)
		f, ok := number(e) // reals read from the file are decimals
		if !ok {
			return Rect{}, false
		}
		v[i] = f
	}
	x0, x1 := min(v[0], v[2]), max(v[0], v[2])
	y0, y1 := min(v[1], v[3]), max(v[1], v[3])
	return Rect{x0, y0, x1 - x0, y1 - y0}, x1 > x0 && y1 > y0
}

// placeable returns page n's geometry, or a *PlacementError when the page
// does not exist or r lies entirely outside its visible area.
func (d *document) placeable(n int, r Rect) (pageGeometry, error) {
	geo, err := d.geometry(n)
	if err != nil {
		return geo, err
	}
	if !overlaps(r, geo.visible) {
		return geo, &PlacementError{Page: n, Rect: r, Box: geo.visible}
	}
	return geo, nil
}

func intersect(a, b Rect) Rect {
	x0, y0 := max(a.X, b.X), max(a.Y, b.Y)
	x1, y1 := min(a.X+a.W, b.X+b.W), min(a.Y+a.H, b.Y+b.H)
	if x1 <= x0 || y1 <= y0 {
		return a // a CropBox outside the MediaBox: readers show the MediaBox
	}
	return Rect{x0, y0, x1 - x0, y1 - y0}
}

func overlaps(a, b Rect) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// Stamp layout: the details are drawn as large as fits between these
// sizes, wrapped onto lines; below the minimum they are cut with an
// ellipsis rather than shrunk into illegibility.
const (
	detailMax, detailMin = 10.0, 6.0
	signatureMin         = 8.0
	leading              = 1.2
)

// visibleAppearance builds the widget's normal appearance, upright as the
// page is displayed: an optional drawn signature (image) on the left, an
// optional typed signature in a handwriting face over a line, and the
// signer's name, the date, reason and location, wrapped to fit.
func (rv *revision) visibleAppearance(o *Options, t time.Time) (ref, error) {
	v := o.Visible
	geo, err := rv.d.placeable(v.Page, v.Rect)
	if err != nil {
		return ref{}, err
	}
	// The form is laid out in the box as the viewer sees it; /Matrix turns
	// it against the page's /Rotate, so text never runs sideways.
	w, h := v.Rect.W, v.Rect.H
	var matrix array
	switch geo.rotate {
	case 90:
		w, h, matrix = h, w, array{int64(0), int64(1), int64(-1), int64(0), int64(0), int64(0)}
	case 180:
		matrix = array{int64(-1), int64(0), int64(0), int64(-1), int64(0), int64(0)}
	case 270:
		w, h, matrix = h, w, array{int64(0), int64(-1), int64(1), int64(0), int64(0), int64(0)}
	}
	resources := dict{}
	var content []byte
	pad := math.Max(1, math.Min(4, math.Min(w, h)*0.04))
	x0, y0, x1, y1 := pad, pad, w-pad, h-pad
	if len(v.Image) > 0 {
		img, err := png.Decode(bytes.NewReader(v.Image))
		if err != nil {
			return ref{}, fmt.Errorf("decode PNG: %w", err)
		}
		imgRef, err := rv.imageXObject(img)
		if err != nil {
			return ref{}, err
		}
		resources["XObject"] = dict{"Img": imgRef}
		b := img.Bounds()
		boxW, boxH := w*0.4-2*pad, y1-y0
		scale := min(boxW/float64(b.Dx()), boxH/float64(b.Dy()))
		iw, ih := float64(b.Dx())*scale, float64(b.Dy())*scale
		content = fmt.Appendf(content, "q %s 0 0 %s %s %s cm /Img Do Q\n",
			formatReal(iw), formatReal(ih), formatReal(x0+(boxW-iw)/2), formatReal(y0+(boxH-ih)/2))
		x0 = w * 0.4
	}
	fonts := pdffont.NewEmbedder()
	sans := append(pdffont.Stack{pdffont.Sans()}, v.Fallback...)
	if v.Signature != "" {
		split := y0 + (y1-y0)*0.45
		if content, err = drawSignature(content, fonts, pdffont.SignatureStack(v.Signature, v.Fallback...),
			v.Signature, x0, split, x1, y1); err != nil {
			return ref{}, err
		}
		y1 = split - pad
	}
	signer := o.Name
	if signer == "" && len(o.Certificates) > 0 {
		signer = o.Certificates[0].Subject.CommonName
	}
	details := []string{"Digitally signed by " + signer, "Date: " + t.Format("2006-01-02 15:04:05 -07:00")}
	if o.Reason != "" {
		details = append(details, "Reason: "+o.Reason)
	}
	if o.Location != "" {
		details = append(details, "Location: "+o.Location)
	}
	if content, err = drawDetails(content, fonts, sans, details, x0, y0, x1, y1); err != nil {
		return ref{}, err
	}
	used, err := fonts.Write(func(body []byte) int {
		r := rv.alloc()
		rv.setBody(r, body)
		return r.num
	})
	if err != nil {
		return ref{}, err
	}
	if len(used) > 0 {
		fd := dict{}
		for _, u := range used {
			fd[name(u.Name)] = ref{u.Object, 0}
		}
		resources["Font"] = fd
	}
	form := dict{
		"Type": name("XObject"), "Subtype": name("Form"), "Filter": name("FlateDecode"),
		"BBox": array{int64(0), int64(0), w, h}, "Resources": resources,
	}
	if matrix != nil {
		form["Matrix"] = matrix
	}
	r := rv.alloc()
	rv.setStream(r, form, deflate(content))
	return r, nil
}

// drawSignature writes the typed signature as large as fits the box, on a
// line, as the signing page previews it.
func drawSignature(content []byte, fonts *pdffont.Embedder, s pdffont.Stack, text string, x0, y0, x1, y1 float64) ([]byte, error) {
	tw, th := x1-x0, y1-y0
	if tw <= 0 || th <= 0 {
		return content, nil
	}
	asc, desc := s[0].Ascent(), s[0].Descent()
	size := th * 1000 / (asc - desc)
	width, err := s.Width(text, 1000)
	if err != nil {
		return content, err
	}
	if width > 0 {
		size = min(size, tw*1000/width)
	}
	if size < signatureMin {
		size = min(signatureMin, th*1000/(asc-desc))
		if text, err = s.Truncate(text, size, tw); err != nil {
			return content, err
		}
	}
	content = fmt.Appendf(content, "q 0.35 G 0.6 w %s %s m %s %s l S Q\n",
		formatReal(x0), formatReal(y0), formatReal(x1), formatReal(y0))
	baseline := y0 - desc*size/1000
	content = fmt.Appendf(content, "BT 0.08 0.13 0.24 rg 1 0 0 1 %s %s Tm ", formatReal(x0), formatReal(baseline))
	if content, err = fonts.Show(content, s, text, size); err != nil {
		return content, err
	}
	return append(content, " ET\n"...), nil
}

// drawDetails writes lines wrapped into the box at the largest size from
// detailMax down to detailMin at which they fit; at the minimum, what does
// not fit is cut with an ellipsis.
func drawDetails(content []byte, fonts *pdffont.Embedder, s pdffont.Stack, lines []string, x0, y0, x1, y1 float64) ([]byte, error) {
	tw, th := x1-x0, y1-y0
	if tw <= 0 || th <= 0 {
		return content, nil
	}
	wrapAll := func(size float64) ([]string, error) {
		var out []string
		for _, l := range lines {
			ls, err := s.Wrap(l, size, tw)
			if err != nil {
				return nil, err
			}
			out = append(out, ls...)
		}
		return out, nil
	}
	var wrapped []string
	size := detailMax
	for ; size >= detailMin; size -= 0.5 {
		ls, err := wrapAll(size)
		if err != nil {
			return content, err
		}
		if float64(len(ls))*size*leading <= th {
			wrapped = ls
			break
		}
	}
	if wrapped == nil {
		size = min(detailMin, th/leading)
		ls, err := wrapAll(size)
		if err != nil {
			return content, err
		}
		n := max(1, int(th/(size*leading)))
		if n < len(ls) {
			cut, err := s.Truncate(ls[n-1]+" "+ls[n], size, tw)
			if err != nil {
				return content, err
			}
			ls = append(ls[:n-1], cut)
		}
		wrapped = ls
	}
	top := y0 + th/2 + float64(len(wrapped))*size*leading/2
	content = append(content, "BT 0 g\n"...)
	for i, l := range wrapped {
		baseline := top - float64(i)*size*leading - size*0.95
		content = fmt.Appendf(content, "1 0 0 1 %s %s Tm ", formatReal(x0), formatReal(baseline))
		var err error
		if content, err = fonts.Show(content, s, l, size); err != nil {
			return content, err
		}
		content = append(content, '\n')
	}
	return append(content, "ET\n"...), nil
}

// imageXObject writes img as an 8-bit RGB image with FlateDecode and, when
// it is not opaque, a grey /SMask carrying its alpha channel.
func (rv *revision) imageXObject(img image.Image) (ref, error) {
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 || b.Dx()*b.Dy() > 16<<20 {
		return ref{}, fmt.Errorf("image of %dx%d pixels is unsupported", b.Dx(), b.Dy())
	}
	rgb, alpha := pdfimage.Samples(img)
	imgDict := func(cs name, data []byte) (dict, []byte) {
		return dict{
			"Type": name("XObject"), "Subtype": name("Image"),
			"Width": int64(b.Dx()), "Height": int64(b.Dy()),
			"ColorSpace": cs, "BitsPerComponent": int64(8), "Filter": name("FlateDecode"),
		}, deflate(data)
	}
	d, data := imgDict("DeviceRGB", rgb)
	if alpha != nil {
		mRef := rv.alloc()
		md, mdata := imgDict("DeviceGray", alpha)
		rv.setStream(mRef, md, mdata)
		d["SMask"] = mRef
	}
	r := rv.alloc()
	rv.setStream(r, d, data)
	return r, nil
}

func deflate(data []byte) []byte {
	var b bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&b, zlib.BestSpeed)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}
