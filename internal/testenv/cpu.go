package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/<pid>/stat times; it is
// 100 on every architecture Go supports on Linux.
const clockTick = 10 * time.Millisecond

// ProcessCPU is the user plus system CPU time process pid has used, from
// /proc/<pid>/stat. With tree, it adds the CPU of the children it has waited
// for (cutime, cstime) and of its live descendants: what a PostgreSQL
// postmaster and its backends spent, for instance.
func ProcessCPU(pid int, tree bool) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	ticks := f.utime + f.stime
	if !tree {
		return time.Duration(ticks) * clockTick, nil
	}
	ticks += f.cutime + f.cstime
	total := time.Duration(ticks) * clockTick
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		c, err := procStat(child)
		if err != nil || c.ppid != pid {
			continue // gone meanwhile, or someone else's
		}
		d, err := ProcessCPU(child, true)
		if err == nil {
			total += d
		}
	}
	return total, nil
}

type statFields struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

// procStat reads the fields of /proc/<pid>/stat that ProcessCPU needs. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from its last ')'.
func procStat(pid int) (statFields, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return statFields{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return statFields{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	// After ")": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return statFields{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(k int) int64 { n, _ := strconv.ParseInt(f[k-3], 10, 64); return n }
	return statFields{ppid: int(num(4)), utime: num(14), stime: num(15), cutime: num(16), cstime: num(17)}, nil
}
