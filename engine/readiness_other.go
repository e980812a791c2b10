//go:build !linux

package engine

// Without epoll every WebSocket keeps a reader goroutine (readWS).

type inputPoller struct{}

func thePoller() *inputPoller { return nil }

func (p *inputPoller) watch(*batchConn) error { return errNoPoller }

func (p *inputPoller) arm(*batchConn) error { return errNoPoller }

func (p *inputPoller) stop(*batchConn) {}
