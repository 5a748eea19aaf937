package pades

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/png"
	"strings"
	"time"
)

// helveticaWidths are the advance widths (1/1000 em) of Helvetica for
// WinAnsi codes 32–126, from Adobe's AFM; other bytes use an average.
var helveticaWidths = [95]int{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
}

// winAnsi maps text to WinAnsiEncoding bytes; Latin-1 maps directly and
// anything else becomes '?', since the standard font has no other glyphs.
func winAnsi(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 32 && r <= 126, r >= 0xA0 && r <= 0xFF:
			out = append(out, byte(r))
		default:
			out = append(out, '?')
		}
	}
	return out
}

func textWidth(b []byte) float64 {
	w := 0
	for _, c := range b {
		if c >= 32 && c <= 126 {
			w += helveticaWidths[c-32]
		} else {
			w += 556
		}
	}
	return float64(w) / 1000
}

// visibleAppearance builds the widget's normal appearance: an optional
// drawn-signature image on the left and the signer's name, the date and the
// reason/location on the right, Helvetica sized to fit the rectangle.
func (rv *revision) visibleAppearance(o *Options, t time.Time) (ref, error) {
	w, h := o.Visible.Rect.W, o.Visible.Rect.H
	resources := dict{"Font": dict{"Helv": dict{
		"Type": name("Font"), "Subtype": name("Type1"), "BaseFont": name("Helvetica"), "Encoding": name("WinAnsiEncoding"),
	}}}
	var content bytes.Buffer
	const pad = 2.0
	textX := pad
	if len(o.Visible.Image) > 0 {
		img, err := png.Decode(bytes.NewReader(o.Visible.Image))
		if err != nil {
			return ref{}, fmt.Errorf("decode PNG: %w", err)
		}
		imgRef, err := rv.imageXObject(img)
		if err != nil {
			return ref{}, err
		}
		resources["XObject"] = dict{"Img": imgRef}
		b := img.Bounds()
		boxW, boxH := w*0.4-2*pad, h-2*pad
		scale := min(boxW/float64(b.Dx()), boxH/float64(b.Dy()))
		iw, ih := float64(b.Dx())*scale, float64(b.Dy())*scale
		fmt.Fprintf(&content, "q %s 0 0 %s %s %s cm /Img Do Q\n",
			formatReal(iw), formatReal(ih), formatReal(pad+(boxW-iw)/2), formatReal(pad+(boxH-ih)/2))
		textX = w * 0.4
	}
	signer := o.Name
	if signer == "" && len(o.Certificates) > 0 {
		signer = o.Certificates[0].Subject.CommonName
	}
	lines := [][]byte{winAnsi("Digitally signed by " + signer), winAnsi("Date: " + t.Format("2006-01-02 15:04:05 -07:00"))}
	if o.Reason != "" {
		lines = append(lines, winAnsi("Reason: "+o.Reason))
	}
	if o.Location != "" {
		lines = append(lines, winAnsi("Location: "+o.Location))
	}
	textW := w - textX - pad
	size := (h - 2*pad) / (float64(len(lines)) * 1.2)
	for _, l := range lines {
		if tw := textWidth(l); tw > 0 {
			size = min(size, textW/tw)
		}
	}
	size = min(size, 14)
	if size > 0.5 {
		content.WriteString("BT 0 g\n")
		fmt.Fprintf(&content, "/Helv %s Tf %s TL\n", formatReal(size), formatReal(size*1.2))
		top := h/2 + float64(len(lines))*size*1.2/2 - size
		fmt.Fprintf(&content, "%s %s Td\n", formatReal(textX), formatReal(top))
		var lb bytes.Buffer
		for i, l := range lines {
			lb.Reset()
			writeString(&lb, l)
			if i > 0 {
				content.WriteString("T* ")
			}
			content.WriteString(strings.TrimSpace(lb.String()) + " Tj\n")
		}
		content.WriteString("ET\n")
	}
	r := rv.alloc()
	rv.setStream(r, dict{
		"Type": name("XObject"), "Subtype": name("Form"),
		"BBox": array{int64(0), int64(0), w, h}, "Resources": resources,
	}, content.Bytes())
	return r, nil
}

// imageXObject writes img as an 8-bit RGB image with FlateDecode and, when
// it is not opaque, a grey /SMask carrying its alpha channel.
func (rv *revision) imageXObject(img image.Image) (ref, error) {
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 || b.Dx()*b.Dy() > 16<<20 {
		return ref{}, fmt.Errorf("image of %dx%d pixels is unsupported", b.Dx(), b.Dy())
	}
	rgb := make([]byte, 0, b.Dx()*b.Dy()*3)
	alpha := make([]byte, 0, b.Dx()*b.Dy())
	opaque := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			// RGBA is premultiplied; PDF wants straight colour plus a mask.
			if a > 0 && a < 0xffff {
				r, g, bl = r*0xffff/a, g*0xffff/a, bl*0xffff/a
			}
			rgb = append(rgb, byte(r>>8), byte(g>>8), byte(bl>>8))
			alpha = append(alpha, byte(a>>8))
			if a != 0xffff {
				opaque = false
			}
		}
	}
	imgDict := func(cs name, data []byte) (dict, []byte) {
		return dict{
			"Type": name("XObject"), "Subtype": name("Image"),
			"Width": int64(b.Dx()), "Height": int64(b.Dy()),
			"ColorSpace": cs, "BitsPerComponent": int64(8), "Filter": name("FlateDecode"),
		}, deflate(data)
	}
	d, data := imgDict("DeviceRGB", rgb)
	if !opaque {
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
