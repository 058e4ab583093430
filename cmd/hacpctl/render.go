package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/keepalived"
	"hacp.dev/hacp/internal/manifest"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// memberFlag collects NAME=ADDRESS[,ADDRESS] values.
type memberFlag []keepalived.Member

func (m *memberFlag) String() string { return fmt.Sprint(len(*m)) }

func (m *memberFlag) Set(v string) error {
	mem, err := parseMember(v)
	if err != nil {
		return err
	}
	*m = append(*m, mem)
	return nil
}

func parseMember(v string) (keepalived.Member, error) {
	name, addrs, ok := strings.Cut(v, "=")
	if !ok || name == "" || addrs == "" {
		return keepalived.Member{}, fmt.Errorf("%q is not NAME=ADDRESS", v)
	}
	mem := keepalived.Member{Name: name}
	for _, a := range strings.Split(addrs, ",") {
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return keepalived.Member{}, fmt.Errorf("%q: %q is not an IP address", v, a)
		}
		mem.Addresses = append(mem.Addresses, ip)
	}
	return mem, nil
}

func runRender(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		file, vipgroup, mode, passwordFile, iface, node string
		peers                                           memberFlag
	)
	fs.StringVar(&file, "f", "", "multi-document YAML holding the VIPGroup (such as examples/haclusterplane.yaml)")
	fs.StringVar(&vipgroup, "vipgroup", "", "name of the VIPGroup in FILE (default: the only one)")
	fs.StringVar(&node, "node", "", "the node to render, NAME=ADDRESS (ADDRESS may be IPv4,IPv6)")
	fs.Var(&peers, "peer", "another member, NAME=ADDRESS; repeat for each")
	fs.StringVar(&mode, "mode", "", "health check mode: weighted (the seed node during bootstrap: the VIP comes up before any API server) or quorum-aware (default: the VIPGroup's)")
	fs.StringVar(&passwordFile, "password-file", "", "file holding the VRRPv2 password (at most 8 characters); generated when absent")
	fs.StringVar(&iface, "interface", "", "interface for VRRP and the VIP when the VIPGroup names none (default eth0)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: hacpctl render -f FILE --node NAME=ADDRESS [--peer NAME=ADDRESS ...] [flags]")
		fs.PrintDefaults()
	}
	self, vg, code, ok := parseNodeCommand("render", fs, args, stderr, &file, &vipgroup, &node)
	if !ok {
		return code
	}
	fail := failer("render", stderr)
	if iface != "" && !keepalived.IsInterfaceName(iface) {
		return fail("--interface %q is not a network interface name (at most 15 letters, digits, '_', '.', '@' or '-')", iface)
	}
	var hcMode hacpv1.HealthCheckMode
	switch mode {
	case "":
	case "weighted", "Weighted":
		hcMode = hacpv1.HealthCheckWeighted
	case "quorum-aware", "QuorumAware":
		hcMode = hacpv1.HealthCheckQuorumAware
	default:
		return fail("--mode %q: want weighted or quorum-aware", mode)
	}
	spec := keepalived.Defaulted(vg.Spec)
	opts := keepalived.DefaultOptions()
	if iface != "" {
		opts.DefaultInterface = iface
	}
	in := keepalived.Input{Namespace: vg.Namespace, Name: vg.Name, Spec: spec, Mode: hcMode, Options: opts}
	if in.Namespace == "" {
		in.Namespace = "default"
	}
	in.Members = append([]keepalived.Member{self}, peers...)
	// Static members in the file are peers too, unless given on the command line.
	for _, sm := range spec.StaticMembers {
		if containsMember(in.Members, sm.Name) {
			continue
		}
		a, err := netip.ParseAddr(sm.Address)
		if err != nil {
			return fail("staticMembers %s: %v", sm.Name, err)
		}
		in.Members = append(in.Members, keepalived.Member{Name: sm.Name, Addresses: []netip.Addr{a}, Static: true})
	}
	if spec.VRRPVersion == 2 {
		if passwordFile != "" {
			pw, err := readPasswordFile(passwordFile)
			if err != nil {
				return fail("%v", err)
			}
			in.Password = pw
		} else {
			in.Password = keepalived.GeneratePassword()
			// Never printed: it is in the config (auth_pass), which goes where the user sends it.
			fmt.Fprintln(stderr, "hacpctl render: WARNING: no --password-file; generated a VRRP password (the config's auth_pass). Every node needs the same one: pass the same --password-file on every node, or create the Secret the VIPGroup's passwordSecretRef names.")
		}
	} else if passwordFile != "" {
		return fail("--password-file: VRRPv3 has no authentication; remove the flag or use vrrpVersion 2")
	}
	cfg, err := keepalived.RenderNode(in, self.Name)
	if err != nil {
		return fail("%v", err)
	}
	if len(in.Members) == 1 {
		fmt.Fprintln(stderr, "hacpctl render: note: this node is the only member, so it sends its VRRP adverts to itself until peers are added; keepalived logs a warning for each, which hacp-agent drops.")
	}
	if _, err := stdout.Write(cfg.Text); err != nil {
		return 1
	}
	return 0
}

// failer prints a command's error and returns the usage exit code.
func failer(cmd string, stderr io.Writer) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hacpctl "+cmd+": "+format+"\n", a...)
		return exitUsage
	}
}

// parseNodeCommand parses the flags of a command that renders one node's config (render,
// bootstrap) and loads that node and the VIPGroup. When ok is false the command exits with code.
func parseNodeCommand(cmd string, fs *flag.FlagSet, args []string, stderr io.Writer, file, vipgroup, node *string) (self keepalived.Member, vg *hacpv1.VIPGroup, code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return self, nil, 0, false
		}
		return self, nil, exitUsage, false
	}
	fail := failer(cmd, stderr)
	if fs.NArg() > 0 {
		return self, nil, fail("unexpected argument %q", fs.Arg(0)), false
	}
	if *file == "" || *node == "" {
		return self, nil, fail("-f FILE and --node NAME=ADDRESS are required"), false
	}
	self, err := parseMember(*node)
	if err != nil {
		return self, nil, fail("--node %v", err), false
	}
	if vg, err = readVIPGroup(*file, *vipgroup); err != nil {
		return self, nil, fail("%v", err), false
	}
	return self, vg, 0, true
}

// readPasswordFile reads a VRRP password, without its trailing newline.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--password-file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func containsMember(ms []keepalived.Member, name string) bool {
	for _, m := range ms {
		if m.Name == name {
			return true
		}
	}
	return false
}

func readVIPGroup(file, name string) (*hacpv1.VIPGroup, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	objs, err := manifest.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var found []*hacpv1.VIPGroup
	for _, o := range objs {
		if o.GetKind() != "VIPGroup" || (name != "" && o.GetName() != name) {
			continue
		}
		var vg hacpv1.VIPGroup
		if _, err := manifest.Into([]*unstructured.Unstructured{o}, "VIPGroup", &vg); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		found = append(found, &vg)
	}
	switch {
	case len(found) == 0 && name != "":
		return nil, fmt.Errorf("%s: no VIPGroup named %q", file, name)
	case len(found) == 0:
		return nil, fmt.Errorf("%s: no VIPGroup", file)
	case len(found) > 1:
		return nil, fmt.Errorf("%s: %d VIPGroups; choose one with --vipgroup", file, len(found))
	}
	return found[0], nil
}
