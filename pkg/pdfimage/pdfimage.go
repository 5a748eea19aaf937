// Package pdfimage turns images into the sample data of PDF image
// XObjects: 8-bit RGB samples and, for images that are not opaque, the 8-bit
// grey samples of their soft mask (/SMask).
package pdfimage

import "image"

// Samples returns img's colour as 8-bit RGB, straight (not premultiplied),
// row by row, and its alpha as 8-bit grey; alpha is nil when img is opaque.
func Samples(img image.Image) (rgb, alpha []byte) {
	b := img.Bounds()
	rgb = make([]byte, 0, b.Dx()*b.Dy()*3)
	alpha = make([]byte, 0, b.Dx()*b.Dy())
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
	if opaque {
		alpha = nil
	}
	return rgb, alpha
}
