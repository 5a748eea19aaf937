package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/vellum-sign/vellum/internal/idempotency"
)

// HeaderIdempotencyKey and HeaderIdempotentReplayed name the headers.
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

// maxReplayBody is the largest response kept for replay; a larger one
// releases the key instead (POST responses here are small JSON).
const maxReplayBody = 1 << 20

// replayedHeaders are the response headers stored with a response.
var replayedHeaders = []string{echo.HeaderContentType, echo.HeaderLocation, "ETag"}

// idempotent makes POSTs with an Idempotency-Key safe to retry: the first
// response (unless 5xx) is stored for 24 h, scoped to the API key, and a
// retry with the same body replays it; the same key with another body is
// 422 and a retry while the first still runs is 409.
func idempotent(store *idempotency.Store) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			key := req.Header.Get(HeaderIdempotencyKey)
			if store == nil || req.Method != http.MethodPost || key == "" {
				return next(c)
			}
			if len(key) > 255 || !printableASCII(key) {
				return NewValidationProblem([]InvalidParam{{Name: HeaderIdempotencyKey,
					Reason: "must be 1 to 255 printable ASCII characters"}})
			}
			apiKey := APIKey(c)
			if apiKey == nil {
				return next(c)
			}
			ctx := req.Context()
			path := req.URL.Path
			rec, err := store.Claim(ctx, apiKey.ID, key, req.Method, path)
			switch {
			case errors.Is(err, idempotency.ErrInFlight):
				return NewProblem(http.StatusConflict, "idempotency_key_in_use",
					"a request with this Idempotency-Key is still being processed; retry later")
			case errors.Is(err, idempotency.ErrMismatch):
				return NewProblem(http.StatusUnprocessableEntity, "idempotency_key_reused", err.Error())
			case err != nil:
				return err
			}
			h := newRequestHash(req)
			if rec != nil {
				if _, err := io.Copy(h, req.Body); err != nil {
					return NewProblem(http.StatusBadRequest, "malformed_body", "could not read the request body")
				}
				if hex.EncodeToString(h.Sum(nil)) != rec.RequestHash {
					return NewProblem(http.StatusUnprocessableEntity, "idempotency_key_reused",
						"this Idempotency-Key was already used with a different request body or query")
				}
				return replay(c, rec)
			}

			// First use: hash the body as the handler reads it, capture the response.
			req.Body = hashingBody{ReadCloser: req.Body, h: h}
			capture := &captureWriter{ResponseWriter: c.Response().Writer}
			c.Response().Writer = capture
			handlerErr := next(c)
			if handlerErr != nil {
				c.Error(handlerErr)
			}
			status := c.Response().Status
			bg := context.WithoutCancel(ctx)
			if status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestEntityTooLarge ||
				capture.overflow || !c.Response().Committed {
				if err := store.Release(bg, apiKey.ID, key); err != nil {
					Logger(ctx).Error("release idempotency key", "err", err)
				}
				return nil
			}
			// Hash what the handler left unread (bounded by the body limit).
			if _, err := io.Copy(h, req.Body); err != nil {
				if err := store.Release(bg, apiKey.ID, key); err != nil {
					Logger(ctx).Error("release idempotency key", "err", err)
				}
				return nil
			}
			body := capture.buf.Bytes()
			if v := c.Get(replayBodyKey); v != nil {
				// The response carried a secret: keep the version without it.
				b, err := json.Marshal(v)
				if err != nil {
					if err := store.Release(bg, apiKey.ID, key); err != nil {
						Logger(ctx).Error("release idempotency key", "err", err)
					}
					return nil
				}
				body = append(b, '\n')
			}
			resp := idempotency.Response{Status: status, Header: http.Header{}, Body: body}
			for _, name := range replayedHeaders {
				if v := c.Response().Header().Get(name); v != "" {
					resp.Header.Set(name, v)
				}
			}
			if err := store.Complete(bg, apiKey.ID, key, hex.EncodeToString(h.Sum(nil)), resp); err != nil {
				Logger(ctx).Error("store idempotent response", "err", err)
			}
			return nil
		}
	}
}

// replayBodyKey names the echo.Context value set by withholdOnReplay.
const replayBodyKey = "idempotency.replayBody"

// withholdOnReplay makes the Idempotency-Key record store body instead of
// the response actually sent. Handlers whose response carries a secret
// (an API key, a webhook signing secret) pass the response without it: the
// secret is shown once and never lands in idempotency_keys, so a replay
// answers the same status and object with secretWithheld set.
func withholdOnReplay(c echo.Context, body any) {
	c.Set(replayBodyKey, body)
}

func replay(c echo.Context, rec *idempotency.Record) error {
	h := c.Response().Header()
	for name, vs := range rec.ResponseHeaders {
		for _, v := range vs {
			h.Add(name, v)
		}
	}
	h.Set(HeaderIdempotentReplayed, "true")
	c.Response().WriteHeader(rec.ResponseStatus)
	_, err := c.Response().Write(rec.ResponseBody)
	return err
}

// newRequestHash starts the fingerprint of a request: method, path, query
// and content type, then the body. It is keyed with the caller's API key,
// whose secret the database does not hold: a body may carry a secret (a
// person's portal password, a certificate's PIN), and an unkeyed hash
// would let a stolen database test guesses of it at SHA-256 speed.
func newRequestHash(r *http.Request) hash.Hash {
	h := hmac.New(sha256.New, []byte(r.Header.Get(echo.HeaderAuthorization)))
	for _, s := range []string{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get(echo.HeaderContentType)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h
}

type hashingBody struct {
	io.ReadCloser
	h hash.Hash
}

func (b hashingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.h.Write(p[:n])
	return n, err
}

// captureWriter copies the response body (up to maxReplayBody) as it is sent.
type captureWriter struct {
	http.ResponseWriter
	buf      bytes.Buffer
	overflow bool
}

func (w *captureWriter) Write(p []byte) (int, error) {
	if !w.overflow {
		if w.buf.Len()+len(p) > maxReplayBody {
			w.overflow = true
			w.buf.Reset()
		} else {
			w.buf.Write(p)
		}
	}
	return w.ResponseWriter.Write(p)
}

func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
