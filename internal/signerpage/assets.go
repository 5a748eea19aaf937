package signerpage

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/vellum-sign/vellum/pkg/pdffont"
)

// static holds the page's stylesheet and script. They are served from the
// binary so the page works offline and the CSP can stay at 'self'.
//
//go:embed assets
var static embed.FS

// asset is one embedded file with its content-addressed name.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assetSet maps the page's logical asset names ("signer.js") to
// fingerprinted URLs ("/s/assets/signer.3f2a….js"), so a new release busts
// caches while a given URL can be cached for a year.
type assetSet struct {
	byHashed map[string]*asset
	urls     map[string]string
}

// fonts are the typed-signature faces, served from pkg/pdffont's copies so
// the preview is drawn with the very files the stamp embeds.
var fonts = map[string][]byte{
	"signature-handwriting.ttf":  pdffont.HandwritingFile(),
	"signature-serif-italic.ttf": pdffont.SerifItalicFile(),
}

func loadAssets(prefix string) (*assetSet, error) {
	set := &assetSet{byHashed: map[string]*asset{}, urls: map[string]string{}}
	add := func(name string, body []byte) {
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])[:16]
		ext := path.Ext(name)
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		ct := mime.TypeByExtension(ext)
		switch {
		case ext == ".ttf":
			ct = "font/ttf"
		case ct == "":
			ct = "application/octet-stream"
		}
		set.byHashed[hashed] = &asset{body: body, contentType: ct, etag: `"` + hash + `"`}
		set.urls[name] = prefix + hashed
	}
	for name, body := range fonts {
		add(name, body)
	}
	err := fs.WalkDir(static, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		if path.Ext(p) == ".css" {
			// Stylesheets name fonts by logical name; the fingerprinted URL
			// goes in before the stylesheet's own hash is taken.
			for name := range fonts {
				body = bytes.ReplaceAll(body, []byte(`url("`+name+`")`), []byte(`url("`+set.urls[name]+`")`))
			}
		}
		add(path.Base(p), body)
		return nil
	})
	return set, err
}

// url returns the fingerprinted URL of a logical asset name; templates call
// it, so an unknown name is a programming error caught by the tests.
func (s *assetSet) url(name string) (string, error) {
	u, ok := s.urls[name]
	if !ok {
		return "", fmt.Errorf("signerpage: no asset %q", name)
	}
	return u, nil
}

// serve writes an asset. Names carry the content hash, so the response is
// immutable; the ETag serves clients that revalidate anyway.
func (s *assetSet) serve(w http.ResponseWriter, r *http.Request, hashed string) {
	a, ok := s.byHashed[hashed]
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if !ok {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("not found\n"))
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", a.etag)
	// Cross-origin pages have no business loading the signer's script.
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
