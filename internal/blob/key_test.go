package blob_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vellum-sign/vellum/internal/blob"
)

var invalidKeys = []string{
	"",
	"/abs",
	"trailing/",
	"a//b",
	"..",
	"../etc/passwd",
	"a/../../b",
	"./a",
	".hidden",
	"a/.tmp-123",
	`a\b`,
	"a b",
	"a\x00b",
	"caf\u00e9",
	strings.Repeat("k", 513),
}

func TestValidateKey_AcceptsApplicationKeys(t *testing.T) {
	for _, key := range []string{
		"a",
		"doc_01J9Z.pdf",
		"acct_1/env=test/documents/doc_1/original.pdf",
		"packages/env_2/all-documents.zip",
		strings.Repeat("k", 512),
	} {
		if err := blob.ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q): %v", key, err)
		}
	}
}

func TestValidateKey_RejectsTraversalAndUnportableKeys(t *testing.T) {
	for _, key := range invalidKeys {
		if err := blob.ValidateKey(key); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
}
