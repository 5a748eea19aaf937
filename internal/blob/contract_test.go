package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vellum-sign/vellum/internal/blob"
)

// contract is the behaviour every blob.Store must have; each implementation's
// test runs all of it against a fresh, empty store.
var contract = []struct {
	name string
	run  func(t *testing.T, s blob.Store)
}{
	{"Put_ThenGetRoundTripsBytesSizeAndContentType", testRoundTrip},
	{"Put_WithoutContentTypeStoresOctetStream", testDefaultContentType},
	{"Put_EmptyBody", testEmptyBody},
	{"Put_ReplacesExistingObject", testReplace},
	{"Put_StreamsLargeObjectIntact", testLargeObject},
	{"Put_FailingReaderLeavesNoObject", testFailingReaderLeavesNothing},
	{"Put_FailingReaderKeepsPreviousObject", testFailingReaderKeepsPrevious},
	{"Put_CancelledContextFails", testCancelledPut},
	{"Put_NestedKeysAreIndependent", testNestedKeys},
	{"Stat_MissingKeyIsNotFound", testStatMissing},
	{"Get_MissingKeyIsNotFound", testGetMissing},
	{"Delete_RemovesObject", testDelete},
	{"Delete_MissingKeyIsNotAnError", testDeleteMissing},
	{"AllOperations_RejectInvalidKeys", testInvalidKeys},
	{"Ping_SucceedsOnUsableStore", testPing},
}

func runContract(t *testing.T, newStore func(t *testing.T) blob.Store) {
	for _, c := range contract {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStore(t))
		})
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	ctx := context.Background()
	body := []byte("%PDF-1.7\nnot really a pdf\n")
	start := time.Now().Add(-time.Minute)
	obj, err := s.Put(ctx, "docs/a.pdf", bytes.NewReader(body), "application/pdf")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	want := blob.Object{Key: "docs/a.pdf", Size: int64(len(body)), ContentType: "application/pdf"}
	assertObject(t, "Put", obj, want, start)

	got, obj := getAll(t, s, "docs/a.pdf")
	if !bytes.Equal(got, body) {
		t.Fatalf("Get returned %q, want %q", got, body)
	}
	assertObject(t, "Get", obj, want, start)

	obj, err = s.Stat(ctx, "docs/a.pdf")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	assertObject(t, "Stat", obj, want, start)
}

func testDefaultContentType(t *testing.T, s blob.Store) {
	obj, err := s.Put(context.Background(), "k", strings.NewReader("x"), "")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if obj.ContentType != "application/octet-stream" {
		t.Fatalf("content type %q, want application/octet-stream", obj.ContentType)
	}
}

func testEmptyBody(t *testing.T, s blob.Store) {
	obj, err := s.Put(context.Background(), "empty", strings.NewReader(""), "text/plain")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if obj.Size != 0 {
		t.Fatalf("size %d, want 0", obj.Size)
	}
	if got, _ := getAll(t, s, "empty"); len(got) != 0 {
		t.Fatalf("Get returned %d bytes, want 0", len(got))
	}
}

func testReplace(t *testing.T, s blob.Store) {
	ctx := context.Background()
	mustPut(t, s, "k", "first version", "text/plain")
	if _, err := s.Put(ctx, "k", strings.NewReader("second"), "application/json"); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	got, obj := getAll(t, s, "k")
	if string(got) != "second" || obj.ContentType != "application/json" || obj.Size != 6 {
		t.Fatalf("after replace got %q %+v", got, obj)
	}
}

// testLargeObject streams 20 MB that exist only as a generator, spanning
// several multipart parts on S3, and checks the bytes by hash both ways.
func testLargeObject(t *testing.T, s blob.Store) {
	ctx := context.Background()
	const size = 20 << 20
	put := sha256.New()
	obj, err := s.Put(ctx, "big/object.bin", io.TeeReader(generated(size, 1), put), "application/octet-stream")
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if obj.Size != size {
		t.Fatalf("Put size %d, want %d", obj.Size, size)
	}
	rc, obj, err := s.Get(ctx, "big/object.bin")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	get := sha256.New()
	n, err := io.Copy(get, rc)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if n != size || obj.Size != size {
		t.Fatalf("read %d bytes, Get size %d, want %d", n, obj.Size, size)
	}
	if !bytes.Equal(put.Sum(nil), get.Sum(nil)) {
		t.Fatal("downloaded bytes differ from uploaded bytes")
	}
}

func testFailingReaderLeavesNothing(t *testing.T, s blob.Store) {
	// Fail past the first S3 part, so a multipart upload has begun.
	r := io.MultiReader(generated(12<<20, 2), failingReader{})
	if _, err := s.Put(context.Background(), "broken", r, ""); !errors.Is(err, errRead) {
		t.Fatalf("Put with failing reader: %v, want %v", err, errRead)
	}
	if _, err := s.Stat(context.Background(), "broken"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after failed Put: %v, want ErrNotFound", err)
	}
}

func testFailingReaderKeepsPrevious(t *testing.T, s blob.Store) {
	mustPut(t, s, "k", "good", "text/plain")
	r := io.MultiReader(strings.NewReader("partial"), failingReader{})
	if _, err := s.Put(context.Background(), "k", r, "text/plain"); !errors.Is(err, errRead) {
		t.Fatalf("Put with failing reader: %v, want %v", err, errRead)
	}
	if got, _ := getAll(t, s, "k"); string(got) != "good" {
		t.Fatalf("after failed Put got %q, want the previous %q", got, "good")
	}
}

func testCancelledPut(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, "k", strings.NewReader("x"), ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled context: %v, want context.Canceled", err)
	}
	if _, err := s.Stat(context.Background(), "k"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after cancelled Put: %v, want ErrNotFound", err)
	}
}

func testNestedKeys(t *testing.T, s blob.Store) {
	mustPut(t, s, "acct_1/env=test/doc_1/original.pdf", "one", "application/pdf")
	mustPut(t, s, "acct_1/env=test/doc_1/signed.pdf", "two", "application/pdf")
	mustPut(t, s, "acct_1/env=test/doc_2/original.pdf", "three", "application/pdf")
	if err := s.Delete(context.Background(), "acct_1/env=test/doc_1/original.pdf"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, _ := getAll(t, s, "acct_1/env=test/doc_1/signed.pdf"); string(got) != "two" {
		t.Fatalf("sibling got %q, want %q", got, "two")
	}
	if _, err := s.Stat(context.Background(), "acct_1/env=test/doc_1"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat of a key prefix: %v, want ErrNotFound", err)
	}
}

func testStatMissing(t *testing.T, s blob.Store) {
	if _, err := s.Stat(context.Background(), "missing/key"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat: %v, want ErrNotFound", err)
	}
}

func testGetMissing(t *testing.T, s blob.Store) {
	rc, _, err := s.Get(context.Background(), "missing/key")
	if rc != nil {
		rc.Close()
	}
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get: %v, want ErrNotFound", err)
	}
}

func testDelete(t *testing.T, s blob.Store) {
	mustPut(t, s, "d/k", "x", "")
	if err := s.Delete(context.Background(), "d/k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(context.Background(), "d/k"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after Delete: %v, want ErrNotFound", err)
	}
}

func testDeleteMissing(t *testing.T, s blob.Store) {
	for range 2 {
		if err := s.Delete(context.Background(), "never/stored"); err != nil {
			t.Fatalf("Delete of missing key: %v", err)
		}
	}
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, key := range invalidKeys {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), ""); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q): %v, want ErrInvalidKey", key, err)
		}
		if _, _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Get(%q): %v, want ErrInvalidKey", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Stat(%q): %v, want ErrInvalidKey", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q): %v, want ErrInvalidKey", key, err)
		}
	}
}

func testPing(t *testing.T, s blob.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// generated yields n pseudo-random bytes from seed without holding them.
func generated(n int64, seed byte) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), n)
}

var errRead = errors.New("reader broke")

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errRead }

func mustPut(t *testing.T, s blob.Store, key, body, contentType string) {
	t.Helper()
	if _, err := s.Put(context.Background(), key, strings.NewReader(body), contentType); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func getAll(t *testing.T, s blob.Store, key string) ([]byte, blob.Object) {
	t.Helper()
	rc, obj, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b, obj
}

// assertObject compares all but ModTime, which must be recent: S3 rounds it
// to the second and clocks may differ slightly.
func assertObject(t *testing.T, op string, got, want blob.Object, after time.Time) {
	t.Helper()
	mod := got.ModTime
	got.ModTime = time.Time{}
	if got != want {
		t.Fatalf("%s returned %+v, want %+v", op, got, want)
	}
	if mod.Before(after) || mod.After(time.Now().Add(time.Minute)) {
		t.Fatalf("%s ModTime %v is not recent", op, mod)
	}
}
