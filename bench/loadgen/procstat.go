package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// procSample is the resources a server process and its descendants hold at
// one moment, read from /proc from the outside: the load generator measures
// any server the same way, Node or Caddy.
type procSample struct {
	CPU   time.Duration // user + system time consumed so far
	Sys   time.Duration // the system (kernel) part of CPU
	RSS   int64         // resident bytes
	Procs int           // processes summed
	// Writes counts the write(2) and writev(2) calls made so far (syscw in
	// /proc/<pid>/io): how many frames a server packs into one system call
	// shows in write calls per delivery. 0 where /proc/<pid>/io is not
	// readable (another user's process without CAP_SYS_PTRACE).
	Writes int64
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// sampleProcessTree sums CPU time and resident memory of pid and all its
// descendants.
func sampleProcessTree(pid int) (procSample, error) {
	var s procSample
	pids := append([]int{pid}, descendants(pid)...)
	for i, p := range pids {
		st, err := readStat(p)
		if err != nil {
			if i == 0 {
				return s, fmt.Errorf("server process %d: %v (is -pid right, and the server still running?)", pid, err)
			}
			continue // a child that exited meanwhile
		}
		s.CPU += st.cpu
		s.Sys += st.sys
		s.RSS += st.rss
		s.Writes += readWriteCalls(p)
		s.Procs++
	}
	return s, nil
}

type procStat struct {
	ppid int
	cpu  time.Duration // user + system
	sys  time.Duration
	rss  int64
}

// readStat parses /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func readStat(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return st, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (procStat, error) {
	var st procStat
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return st, fmt.Errorf("malformed stat line %q", clip(b))
	}
	f := bytes.Fields(b[end+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
	if len(f) < 22 {
		return st, fmt.Errorf("stat line has %d fields after the name, want at least 22", len(f))
	}
	num := func(i int) int64 { n, _ := strconv.ParseInt(string(f[i]), 10, 64); return n }
	st.ppid = int(num(1))
	st.cpu = time.Duration(num(11)+num(12)) * time.Second / clockTicks
	st.sys = time.Duration(num(12)) * time.Second / clockTicks
	st.rss = num(21) * int64(os.Getpagesize())
	return st, nil
}

// readWriteCalls reads syscw, the write calls of a process's whole life,
// from /proc/<pid>/io; 0 when it cannot be read.
func readWriteCalls(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("syscw:")); ok {
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

// descendants lists the processes below pid, found through the parent ids
// in /proc (children files need a kernel option some machines lack).
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(p)
		if err != nil {
			continue
		}
		children[st.ppid] = append(children[st.ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, children[p]...)
		queue = append(queue, children[p]...)
	}
	return out
}
