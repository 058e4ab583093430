// Command pause is the lab's Pod sandbox process (the image kubelet and containerd call
// registry.k8s.io/pause): PID 1 of a Pod's namespaces, it holds them open, reaps the orphans that are
// re-parented to it and exits on SIGTERM or SIGINT. The lab builds it statically and puts it in an
// image of its own, so nothing is pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
