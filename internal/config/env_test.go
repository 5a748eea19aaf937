package config_test

import (
	"os"
	"testing"
)

// unset removes name from the environment for the rest of the test.
func unset(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // registers restoration at cleanup
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}
