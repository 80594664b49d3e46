package runtime

import (
	"net"
	"os/exec"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
)

func TestListenerOwner(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("/proc tells who holds a port on Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if owned, known := listenerOwner(syscall.Getpgrp(), port); !owned || !known {
		t.Errorf("our own listener: owned %v known %v", owned, known)
	}
	if owned, known := listenerOwner(1<<30, port); owned || !known {
		t.Errorf("another group's view of our listener: owned %v known %v", owned, known)
	}
	ln.Close()
	if owned, known := listenerOwner(syscall.Getpgrp(), port); owned || known {
		t.Errorf("a closed port: owned %v known %v", owned, known)
	}
}

// A container whose port another program took first is not ready: requests would reach
// that program.
func TestWaitStartedRefusesAForeignListener(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("/proc tells who holds a port on Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = containerProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{addr: ln.Addr().String(), cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	defer p.stop()
	err = waitStarted(p, nil, 8080, make(chan struct{}))
	if err == nil || !strings.Contains(err.Error(), "taken by another program") {
		t.Fatalf("waitStarted = %v", err)
	}
}
