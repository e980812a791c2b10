package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT: with it, binding a
// source address leaves the port choice to connect(), which only needs the
// whole 4-tuple to be unique. Without it, each source address would give out
// at most one port range's worth of sockets across all destinations.
const ipBindAddressNoPort = 24

// sourceDialer spreads outgoing connections over several loopback source
// addresses (127.0.0.2, 127.0.0.3, ...), so tens of thousands of client
// sockets to one server port do not run out of ephemeral ports. It is safe
// for concurrent use.
type sourceDialer struct {
	sources []net.IP
	next    atomic.Uint64
}

func (d *sourceDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}
	if len(d.sources) > 0 {
		ip := d.sources[d.next.Add(1)%uint64(len(d.sources))]
		nd.LocalAddr = &net.TCPAddr{IP: ip}
		nd.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	return nd.DialContext(ctx, network, addr)
}

// parseSources reads the -src flag: "auto" picks 127.0.0.2-127.0.0.5 when the
// server is on a loopback address (and none otherwise), "none" uses the
// kernel's choice, anything else is a comma-separated list of addresses.
func parseSources(flag, serverHost string) ([]net.IP, error) {
	switch flag {
	case "none", "":
		return nil, nil
	case "auto":
		ip := net.ParseIP(serverHost)
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			return nil, nil
		}
		return []net.IP{{127, 0, 0, 2}, {127, 0, 0, 3}, {127, 0, 0, 4}, {127, 0, 0, 5}}, nil
	}
	var ips []net.IP
	for _, s := range strings.Split(flag, ",") {
		ip := net.ParseIP(strings.TrimSpace(s))
		if ip == nil {
			return nil, fmt.Errorf("-src: %q is not an IP address; give a comma-separated list such as 127.0.0.2,127.0.0.3, or auto, or none", s)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// raiseFileLimit lifts the soft limit on open files to the hard limit (a
// 19,000-connection run needs 19,000 sockets) and returns the limit now in
// force.
func raiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}
