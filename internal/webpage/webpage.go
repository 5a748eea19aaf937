// Package webpage is what Vellum's server-rendered pages (the signing page,
// the certificate portal) share: embedded assets served under
// content-addressed names, and the security headers every page carries.
package webpage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// SetHeaders applies a page's security headers with its Content Security
// Policy. No page may be framed, cached, indexed or leak its URL (which
// may carry a capability) as a referrer.
func SetHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex, nofollow")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

// asset is one embedded file with its content-addressed name.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Assets maps a page's logical asset names ("signer.js") to fingerprinted
// URLs ("/s/assets/signer.3f2a….js"), so a new release busts caches while
// a given URL can be cached for a year.
type Assets struct {
	byHashed map[string]*asset
	urls     map[string]string
}

// LoadAssets reads every file under dir of fsys, and the extra files
// (logical name → body), to be served under prefix. A stylesheet may name
// an extra file as url("name"): the fingerprinted URL goes in before the
// stylesheet's own hash is taken.
func LoadAssets(fsys fs.FS, dir, prefix string, extra map[string][]byte) (*Assets, error) {
	set := &Assets{byHashed: map[string]*asset{}, urls: map[string]string{}}
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
	for name, body := range extra {
		add(name, body)
	}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if path.Ext(p) == ".css" {
			for name := range extra {
				body = bytes.ReplaceAll(body, []byte(`url("`+name+`")`), []byte(`url("`+set.urls[name]+`")`))
			}
		}
		add(path.Base(p), body)
		return nil
	})
	return set, err
}

// URL returns the fingerprinted URL of a logical asset name; templates call
// it, so an unknown name is a programming error caught by the tests.
func (s *Assets) URL(name string) (string, error) {
	u, ok := s.urls[name]
	if !ok {
		return "", fmt.Errorf("webpage: no asset %q", name)
	}
	return u, nil
}

// Templates parses a page's templates with the "asset" function, which
// maps a logical asset name to its fingerprinted URL.
func (s *Assets) Templates(fsys fs.FS, patterns ...string) (*template.Template, error) {
	return template.New("").Funcs(template.FuncMap{"asset": s.URL}).ParseFS(fsys, patterns...)
}

// Serve writes an asset. Names carry the content hash, so the response is
// immutable; the ETag serves clients that revalidate anyway.
func (s *Assets) Serve(w http.ResponseWriter, r *http.Request, hashed string) {
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
	// Cross-origin pages have no business loading a page's script.
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
