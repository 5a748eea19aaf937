package testenv

import "syscall"

// s3ProcAttr puts versitygw in its own process group, so Close can signal
// everything it started, and kills it if the test process dies without
// running cleanups (a `go test -timeout` panic, a SIGKILL). Linux sends the
// signal when the starting OS thread exits; Go only retires threads locked
// by a goroutine that exits, which the test harness does not do.
func s3ProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
