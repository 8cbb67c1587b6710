package store

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// processStart returns an identifier of when process pid started (field
// 22 of /proc/PID/stat, in clock ticks since boot), so that a recycled pid
// is not taken for the process that recorded a run; "" when unknown.
func processStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); start time is field 22.
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

// processAlive reports whether process pid exists and, when start is
// known, started at start.
func processAlive(pid int, start string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && errors.Is(err, syscall.ESRCH) {
		return false
	}
	if start != "" {
		if got := processStart(pid); got != "" && got != start {
			return false
		}
	}
	// A zombie (dead, not yet reaped by its parent) has ended its work.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
				return false
			}
		}
	}
	return true
}
