package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Block is one keyword of a keepalived config with its arguments and, for sections, children.
type Block struct {
	Keyword  string
	Args     []string
	Children []*Block
	Line     int
}

// Child returns the first child with keyword kw, or nil.
func (b *Block) Child(kw string) *Block {
	for _, c := range b.Children {
		if c.Keyword == kw {
			return c
		}
	}
	return nil
}

// Arg returns the first argument of the child kw, or "".
func (b *Block) Arg(kw string) string {
	if c := b.Child(kw); c != nil && len(c.Args) > 0 {
		return c.Args[0]
	}
	return ""
}

// Parse reads keepalived.conf syntax: one keyword per line with arguments, '{' opening a section
// (on the keyword's line), '}' closing it, '#' and '!' starting comments, and double-quoted
// strings. It covers what Render writes and the seed's hand-written configs, not every keepalived
// extension (include, conditional lines, multi-line strings).
func Parse(text []byte) (*Block, error) {
	root := &Block{Keyword: "<root>"}
	stack := []*Block{root}
	for n, line := range strings.Split(string(text), "\n") {
		lineNo := n + 1
		toks, err := tokenize(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
		for len(toks) > 0 {
			top := stack[len(stack)-1]
			switch toks[0] {
			case "}":
				if len(stack) == 1 {
					return nil, fmt.Errorf("line %d: '}' without an open section", lineNo)
				}
				stack = stack[:len(stack)-1]
				toks = toks[1:]
				continue
			case "{":
				return nil, fmt.Errorf("line %d: '{' without a keyword", lineNo)
			}
			b := &Block{Keyword: toks[0], Line: lineNo}
			top.Children = append(top.Children, b)
			rest := toks[1:]
			toks = nil
			for i, t := range rest {
				if t == "{" {
					stack = append(stack, b)
					toks = rest[i+1:]
					break
				}
				if t == "}" {
					toks = rest[i:]
					break
				}
				b.Args = append(b.Args, t)
			}
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("section %q opened on line %d is not closed", stack[len(stack)-1].Keyword, stack[len(stack)-1].Line)
	}
	return root, nil
}

func tokenize(line string) ([]string, error) {
	var toks []string
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#' || c == '!':
			return toks, nil
		case c == '{' || c == '}':
			toks = append(toks, string(c))
			i++
		case c == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			toks = append(toks, line[i+1:i+1+j])
			i += j + 2
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t\r{}\"#!", rune(line[j])) {
				j++
			}
			toks = append(toks, line[i:j])
			i = j
		}
	}
	return toks, nil
}

// Lint checks one parsed config for the pitfalls keepalived accepts silently or rejects late.
func Lint(text []byte) error {
	root, err := Parse(text)
	if err != nil {
		return err
	}
	var errs []string
	bad := func(b *Block, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("line %d: %s", b.Line, fmt.Sprintf(format, args...)))
	}
	scripts := map[string]bool{}
	for _, b := range root.Children {
		if b.Keyword == "vrrp_script" && len(b.Args) == 1 {
			scripts[b.Args[0]] = true
		}
	}
	gd := root.Child("global_defs")
	if len(scripts) > 0 && (gd == nil || gd.Child("enable_script_security") == nil || gd.Arg("script_user") == "") {
		errs = append(errs, "vrrp_script without enable_script_security and script_user in global_defs")
	}
	if gd != nil && gd.Child("vrrp_strict") != nil {
		bad(gd, "vrrp_strict rejects authentication and unicast: do not use it")
	}
	vrids := map[string]bool{}
	instances := 0
	for _, in := range root.Children {
		if in.Keyword != "vrrp_instance" {
			continue
		}
		instances++
		if len(in.Args) != 1 {
			bad(in, "vrrp_instance needs exactly one name")
			continue
		}
		name := in.Args[0]
		version := in.Arg("version")
		if version == "" {
			version = "2"
		}
		if version != "2" && version != "3" {
			bad(in, "%s: version %q is not 2 or 3", name, version)
		}
		vrid, err := strconv.Atoi(in.Arg("virtual_router_id"))
		if err != nil || vrid < 1 || vrid > 255 {
			bad(in, "%s: virtual_router_id %q is not in 1..255", name, in.Arg("virtual_router_id"))
		}
		src, srcErr := netip.ParseAddr(in.Arg("unicast_src_ip"))
		fam := instanceFamily(in, src)
		key := fam + "/" + in.Arg("virtual_router_id")
		if vrids[key] {
			bad(in, "%s: virtual_router_id %d is used twice for IPv%s", name, vrid, fam)
		}
		vrids[key] = true
		if p, err := strconv.Atoi(in.Arg("priority")); err != nil || p < 1 || p > 254 {
			bad(in, "%s: priority %q is not in 1..254 (255 is reserved for the address owner)", name, in.Arg("priority"))
		}
		adv, err := strconv.ParseFloat(in.Arg("advert_int"), 64)
		switch {
		case err != nil || adv <= 0:
			bad(in, "%s: advert_int %q is not a positive number", name, in.Arg("advert_int"))
		case version == "2" && adv != float64(int(adv)):
			bad(in, "%s: fractional advert_int %s needs version 3", name, in.Arg("advert_int"))
		}
		if in.Arg("state") == "MASTER" && in.Child("nopreempt") != nil {
			bad(in, "%s: nopreempt needs state BACKUP", name)
		}
		if auth := in.Child("authentication"); auth != nil {
			if version == "3" {
				bad(auth, "%s: authentication is ignored with version 3", name)
			}
			if pw := auth.Arg("auth_pass"); len(pw) > 8 {
				bad(auth, "%s: auth_pass longer than 8 characters is silently truncated", name)
			}
		}
		if srcErr != nil && in.Child("unicast_peer") != nil {
			bad(in, "%s: unicast_src_ip %q is not an address", name, in.Arg("unicast_src_ip"))
		}
		peers := map[netip.Addr]bool{}
		if up := in.Child("unicast_peer"); up != nil {
			for _, p := range up.Children {
				a, err := netip.ParseAddr(p.Keyword)
				switch {
				case err != nil:
					bad(p, "%s: unicast peer %q is not an address", name, p.Keyword)
				case a == src && len(up.Children) > 1:
					// Alone, it is the only member's advert to itself (RenderNode); next to
					// others, a mistake that makes keepalived see its own adverts.
					bad(p, "%s: unicast_peer lists the node's own address %s next to other peers", name, a)
				case peers[a]:
					bad(p, "%s: unicast peer %s listed twice", name, a)
				case a.Is6() != src.Is6():
					bad(p, "%s: unicast peer %s is not of the family of unicast_src_ip", name, a)
				}
				peers[a] = true
			}
		}
		if len(peers) > 0 && in.Child("unicast_fault_no_peer") == nil {
			bad(in, "%s: unicast peers without unicast_fault_no_peer: losing them would fall back to multicast", name)
		}
		vips := in.Child("virtual_ipaddress")
		if vips == nil || len(vips.Children) == 0 {
			bad(in, "%s: no virtual_ipaddress", name)
		} else {
			for _, v := range vips.Children {
				p, err := netip.ParsePrefix(v.Keyword)
				if err != nil {
					bad(v, "%s: virtual address %q is not address/prefix", name, v.Keyword)
					continue
				}
				if (src.IsValid() && p.Addr() == src) || peers[p.Addr()] {
					bad(v, "%s: virtual address %s is also a member's address", name, p.Addr())
				}
				if fam == "6" != p.Addr().Is6() {
					bad(v, "%s: virtual address %s is not of the instance's family", name, p.Addr())
				}
			}
		}
		if ts := in.Child("track_script"); ts != nil {
			for _, s := range ts.Children {
				if !scripts[s.Keyword] {
					bad(s, "%s: track_script %q is not defined", name, s.Keyword)
				}
			}
		}
	}
	if instances == 0 {
		errs = append(errs, "no vrrp_instance")
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// LintSet checks that the configs of all nodes of one group agree: the same VRID, advert_int,
// version and password per instance, and every node's source address in every other node's peers.
func LintSet(configs map[string]NodeConfig) error {
	type inst struct{ vrid, adv, version, pass string }
	want := map[string]inst{}
	srcs := map[string]map[string]string{}    // instance -> node -> src
	peers := map[string]map[string][]string{} // instance -> node -> peers
	var errs []string
	for node, cfg := range configs {
		if err := Lint(cfg.Text); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", node, err))
			continue
		}
		root, _ := Parse(cfg.Text)
		for _, in := range root.Children {
			if in.Keyword != "vrrp_instance" {
				continue
			}
			name := in.Args[0]
			pass := ""
			if a := in.Child("authentication"); a != nil {
				pass = a.Arg("auth_pass")
			}
			got := inst{in.Arg("virtual_router_id"), in.Arg("advert_int"), in.Arg("version"), pass}
			if w, ok := want[name]; ok && w != got {
				errs = append(errs, fmt.Sprintf("%s: instance %s disagrees with another node on VRID, advert_int, version or password", node, name))
			}
			want[name] = got
			if srcs[name] == nil {
				srcs[name], peers[name] = map[string]string{}, map[string][]string{}
			}
			srcs[name][node] = in.Arg("unicast_src_ip")
			if up := in.Child("unicast_peer"); up != nil {
				for _, p := range up.Children {
					peers[name][node] = append(peers[name][node], p.Keyword)
				}
			}
		}
	}
	for name, bySrc := range srcs {
		for node := range bySrc {
			for other, src := range bySrc {
				if other != node && !slices.Contains(peers[name][node], src) {
					errs = append(errs, fmt.Sprintf("%s: instance %s does not list %s (%s) as a peer", node, name, other, src))
				}
			}
		}
	}
	sort.Strings(errs)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// instanceFamily is the address family of an instance: its unicast_src_ip's, or without one (a
// lone multicast member) its first virtual address's.
func instanceFamily(in *Block, src netip.Addr) string {
	if !src.IsValid() {
		if v := in.Child("virtual_ipaddress"); v != nil && len(v.Children) > 0 {
			if p, err := netip.ParsePrefix(v.Children[0].Keyword); err == nil {
				src = p.Addr()
			}
		}
	}
	if src.Is6() {
		return "6"
	}
	return "4"
}
