//go:build !linux

package engine

import "syscall"

// Without epoll every WebSocket keeps a reader goroutine (readWS).

type inputPoller struct{}

type inputWatch struct{}

func thePoller() *inputPoller { return nil }

func (p *inputPoller) watch(syscall.RawConn, func([]byte)) (*inputWatch, error) {
	return nil, errNoPoller
}

func (w *inputWatch) arm() error { return errNoPoller }

func (w *inputWatch) stop() {}
