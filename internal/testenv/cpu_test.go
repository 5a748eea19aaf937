package testenv

import (
	"crypto/sha256"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestProcessCPU_GrowsWithWork(t *testing.T) {
	before, err := ProcessCPU(os.Getpid(), false)
	if err != nil {
		t.Fatal(err)
	}
	// Hash until this process has used at least 50 ms of CPU by the
	// kernel's account (wall time says nothing on a loaded machine).
	deadline := time.Now().Add(time.Minute)
	var after time.Duration
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		for i := 0; i < 20; i++ {
			sha256.Sum256(buf)
		}
		if after, err = ProcessCPU(os.Getpid(), false); err != nil {
			t.Fatal(err)
		}
		if after-before >= 50*time.Millisecond {
			break
		}
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("CPU grew by %s after a minute of hashing", after-before)
	}
}

func TestProcessCPU_TreeCountsReapedChildren(t *testing.T) {
	self, err := ProcessCPU(os.Getpid(), true)
	if err != nil {
		t.Fatal(err)
	}
	// A child that burns CPU and is waited for lands in cutime/cstime.
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	own, err := ProcessCPU(os.Getpid(), false)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := ProcessCPU(os.Getpid(), true)
	if err != nil {
		t.Fatal(err)
	}
	if tree-own < child-20*time.Millisecond || tree < self+child-20*time.Millisecond {
		t.Fatalf("tree %s, own %s, child used %s", tree, own, child)
	}
}
