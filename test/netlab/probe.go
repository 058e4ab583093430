package netlab

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Prober reads a host's eth0 addresses through a netlink socket inside the host's namespace,
// without forking `ip`: a dump costs tens of microseconds, so several hosts can be sampled every
// 10 ms on two cores without the sampling itself loading the machine it measures.
type Prober struct {
	req  chan struct{}
	resp chan probeAnswer
}

type probeAnswer struct {
	addrs []netip.Addr
	err   error
}

// Prober starts a goroutine locked to an OS thread that has entered h's network namespace. It
// stops when the lab is torn down (the thread then exits, as a locked thread does).
func (h *Host) Prober() (*Prober, error) {
	p := &Prober{req: make(chan struct{}), resp: make(chan probeAnswer)}
	ready := make(chan error, 1)
	stop := make(chan struct{})
	h.lab.t.Cleanup(func() { close(stop) })
	go func() {
		// Never unlocked: the thread's namespace differs from the process's, so it must die
		// with the goroutine rather than go back to the scheduler's pool.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + h.NS)
		if err != nil {
			ready <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		_ = f.Close()
		if err != nil {
			ready <- fmt.Errorf("entering %s: %w", h.NS, err)
			return
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			ready <- fmt.Errorf("%s: %w", h.NS, err)
			return
		}
		ready <- nil
		for {
			select {
			case <-stop:
				return
			case <-p.req:
				addrs, err := dumpAddrs(ifi.Index)
				p.resp <- probeAnswer{addrs, err}
			}
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return p, nil
}

// Addrs lists the IPv4 addresses on the host's eth0.
func (p *Prober) Addrs() ([]netip.Addr, error) {
	p.req <- struct{}{}
	a := <-p.resp
	return a.addrs, a.err
}

// dumpAddrs asks the kernel (RTM_GETADDR dump, in the calling thread's namespace) for the IPv4
// addresses of interface index.
func dumpAddrs(index int) ([]netip.Addr, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, syscall.AF_INET)
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		ifa := (*syscall.IfAddrmsg)(unsafe.Pointer(&m.Data[0]))
		if int(ifa.Index) != index {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return nil, err
		}
		// IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on point-to-point links
		// and the same address elsewhere, so it counts only when IFA_LOCAL is absent.
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
		if ip, ok := netip.AddrFromSlice(local); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
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
