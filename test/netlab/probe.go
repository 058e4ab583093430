package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Prober reads a host's eth0 addresses through a netlink socket inside the host's namespace,
// without forking `ip`: a dump costs tens of microseconds, so several hosts can be sampled every
// 10 ms on two cores without the sampling itself loading the machine it measures.
type Prober struct {
	mu    sync.Mutex
	fd    int
	index int
	seq   uint32
}

// Prober opens a netlink socket in h's network namespace: a thread enters the namespace just long
// enough to create the socket (which stays bound to it) and to look eth0 up, then returns to its
// own. A thread left in the host's namespace would make the test process one of the host's
// processes, and the lab's teardown kills those (`ip netns pids`). The socket closes with the
// lab.
func (h *Host) Prober() (*Prober, error) {
	p := &Prober{}
	err := h.inNamespace(func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			_ = unix.Close(fd)
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			_ = unix.Close(fd)
			return err
		}
		p.fd, p.index = fd, ifi.Index
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", h.NS, err)
	}
	h.lab.t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		_ = unix.Close(p.fd)
		p.fd = -1
	})
	return p, nil
}

// inNamespace runs f on a locked thread inside h's network namespace and brings the thread back.
func (h *Host) inNamespace(f func() error) error { return InNetNS(h.NS, f) }

// InNetNS runs f on a locked thread of its own inside the network namespace /run/netns/name and
// brings the thread back; sockets f creates stay in that namespace. If the thread cannot come
// back, it stays locked and dies with its goroutine, so no other code ever runs on it.
func InNetNS(name string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer own.Close()
		target, err := os.Open("/var/run/netns/" + name)
		if err != nil {
			errc <- err
			runtime.UnlockOSThread()
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering %s: %w", name, err)
			runtime.UnlockOSThread()
			return
		}
		ferr := f()
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("returning from %s: %w", name, err))
			return // still locked: the thread exits with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Addrs lists the IPv4 addresses on the host's eth0 (RTM_GETADDR dump).
func (p *Prober) Addrs() ([]netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fd < 0 {
		return nil, errors.New("netlab: prober closed")
	}
	p.seq++
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofRtGenmsg)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: unix.RTM_GETADDR, Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP, Seq: p.seq,
	}
	req[unix.NLMSG_HDRLEN] = unix.AF_INET
	if err := unix.Sendto(p.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []netip.Addr
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(p.fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != p.seq {
				continue // an answer to an earlier, abandoned request
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				return nil, errors.New("netlink: RTM_GETADDR failed")
			case unix.RTM_NEWADDR:
				if a, ok := addrOf(m, p.index); ok {
					out = append(out, a)
				}
			}
		}
	}
}

// addrOf is the address of an RTM_NEWADDR message for interface index.
func addrOf(m syscall.NetlinkMessage, index int) (netip.Addr, bool) {
	if len(m.Data) < syscall.SizeofIfAddrmsg {
		return netip.Addr{}, false
	}
	ifa := (*syscall.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
	if int(ifa.Index) != index {
		return netip.Addr{}, false
	}
	attrs, err := syscall.ParseNetlinkRouteAttr(&m)
	if err != nil {
		return netip.Addr{}, false
	}
	// IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on point-to-point links and the
	// same address elsewhere, so it counts only when IFA_LOCAL is absent.
	var local, addr []byte
	for _, a := range attrs {
		switch a.Attr.Type {
		case syscall.IFA_LOCAL:
			local = a.Value
		case syscall.IFA_ADDRESS:
			addr = a.Value
		}
	}
	if local == nil {
		local = addr
	}
	ip, ok := netip.AddrFromSlice(local)
	return ip.Unmap(), ok
}

// SetLink connects (up) or disconnects the host from the bridge, returning the error instead of
// failing the test (for callers on goroutines other than the test's).
func (h *Host) SetLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return run("ip", "-n", h.lab.bridge, "link", "set", h.port, state)
}

// DelAddr removes p from eth0 if it is there (what a reboot does to a VIP keepalived held).
func (h *Host) DelAddr(a netip.Addr) error {
	entries, err := h.AddrEntries(a)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := run("ip", "-n", h.NS, "addr", "del", e.String(), "dev", "eth0"); err != nil {
			return err
		}
	}
	return nil
}

func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %v: %s", name, args, err, out)
	}
	return nil
}
