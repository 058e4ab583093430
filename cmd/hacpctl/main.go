// Command hacpctl is hacp's command line: it renders a node's keepalived config and the first
// node's bootstrap static Pod before any cluster exists, prints what-if tables, and prints join
// commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `hacpctl: hacp's command line

Usage:
  hacpctl render -f FILE --node NAME=ADDRESS [--peer NAME=ADDRESS ...] [flags]
      Print the keepalived.conf of one node for the VIPGroup in FILE (for the seed node before
      the cluster exists).

  hacpctl bootstrap -f FILE --node NAME=ADDRESS [--image IMAGE] [--out DIR]
      Write the first node's bootstrap keepalived.conf and static Pod (they hold the VIP until the
      VIPGroup's DaemonSet takes over) and print the kubeadm init command.

  hacpctl whatif [NAME] [-n NAMESPACE]
  hacpctl whatif -f FILE
      Print an HAControlPlane's members and what further failures would break, from the cluster
      or from a status saved with 'kubectl get hacp NAME -o yaml' (works when the API is down).

  hacpctl join [NAME] [--control-plane] [-n NAMESPACE]
      Print the current kubeadm join command from the HAControlPlane's join Secret.

  hacpctl certs [NAME] [-n NAMESPACE] | hacpctl certs -f FILE
      Print the control plane's certificates as their servers present them, soonest expiry first.

Run 'hacpctl COMMAND -h' for the flags of a command.
`

// exitUsage is the exit code for bad flags or input files.
const exitUsage = 2

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "render":
		return runRender(args[1:], stdout, stderr)
	case "bootstrap":
		return runBootstrap(args[1:], stdout, stderr)
	case "whatif":
		return runWhatIf(args[1:], stdout, stderr)
	case "join":
		return runJoin(args[1:], stdout, stderr)
	case "certs":
		return runCerts(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "hacpctl: unknown command %q (try 'hacpctl help')\n", args[0])
		return exitUsage
	}
}

// parseNamed parses a command's flags, accepting one optional NAME before or after them. done is
// true when the command should exit with code (after -h, or on a flag error).
func parseNamed(fs *flag.FlagSet, args []string) (name string, done bool, code int) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", true, 0
		}
		return "", true, exitUsage
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	return name, false, 0
}
