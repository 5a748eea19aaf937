package remsig

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
)

// etag gives a JSON answer the ETag RemSig's examples show — Spring's
// shallow ETag, "0" and the hex MD5 of the body — and answers a matching
// If-None-Match with 304 Not Modified and no body. The body's operationId
// is new on every request, so it is hashed as 0: an unchanged resource
// keeps its tag and a client's conditional GET can match (hashing it would
// make every tag unique and the header useless). MD5 here identifies a
// representation; it protects nothing.
func etag(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		orig := res.Writer
		cw := &captureWriter{ResponseWriter: orig}
		res.Writer = cw
		err := next(c)
		res.Writer = orig
		if !cw.wrote {
			return err // nothing written: the error handler answers
		}
		status := cw.status
		if status == 0 {
			status = http.StatusOK
		}
		h := orig.Header()
		if err == nil && status == http.StatusOK && strings.Contains(h.Get(echo.HeaderContentType), "json") {
			tag := shallowETag(cw.body.Bytes())
			h.Set("ETag", tag)
			if noneMatch(c.Request().Header.Get("If-None-Match"), tag) {
				h.Del(echo.HeaderContentType)
				h.Del(echo.HeaderContentLength)
				orig.WriteHeader(http.StatusNotModified)
				return nil
			}
		}
		orig.WriteHeader(status)
		_, _ = orig.Write(cw.body.Bytes())
		return err
	}
}

var operationIDMember = regexp.MustCompile(`"operationId"\s*:\s*\d+`)

// shallowETag is the ETag of a JSON body with its operationId set aside.
func shallowETag(body []byte) string {
	sum := md5.Sum(operationIDMember.ReplaceAll(body, []byte(`"operationId":0`)))
	return `"0` + hex.EncodeToString(sum[:]) + `"`
}

// noneMatch reports whether an If-None-Match header lists tag (weak
// comparison, as RFC 9110 asks for GET) or is "*".
func noneMatch(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// captureWriter holds a handler's answer so its ETag can be computed
// before anything is sent.
type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (w *captureWriter) WriteHeader(status int) { w.status, w.wrote = status, true }

func (w *captureWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.body.Write(p)
}
