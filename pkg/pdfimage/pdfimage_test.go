package pdfimage_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"testing"

	"github.com/vellum-sign/vellum/pkg/pdfimage"
)

func TestSamples_UnpremultipliesAndKeepsAlphaOnlyWhenNeeded(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.NRGBA{200, 100, 50, 255})
	img.Set(1, 0, color.NRGBA{200, 100, 50, 128})
	rgb, alpha := pdfimage.Samples(img)
	if !bytes.Equal(rgb, []byte{200, 100, 50, 200, 100, 50}) || !bytes.Equal(alpha, []byte{255, 128}) {
		t.Errorf("rgb %v alpha %v", rgb, alpha)
	}
	img.Set(1, 0, color.NRGBA{1, 2, 3, 255})
	if _, alpha := pdfimage.Samples(img); alpha != nil {
		t.Errorf("opaque image has a mask: %v", alpha)
	}
}

func ExampleSamples() {
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.Gray{Y: 0x80})
	rgb, alpha := pdfimage.Samples(img)
	fmt.Println(rgb, alpha == nil)
	// Output: [128 128 128] true
}
