package keepalived

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

var (
	ifaceRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,14}$`)
	// keepalived reads auth_pass as one unquoted word; quotes, spaces, '#' and '!' would start a
	// string or a comment, '{' and '}' are tokens of their own (a '}' closes the authentication
	// block early), and '$' starts a parameter substitution.
	passwordRE = regexp.MustCompile(`^[A-Za-z0-9_.,:;+=@%^&*()\[\]<>/?~|-]{1,8}$`)
	nameRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
	pathRE     = regexp.MustCompile(`^/[A-Za-z0-9/_.?=&-]*$`)
)

// IsInterfaceName reports whether name is a network interface name (at most 15 characters, none
// that keepalived's config syntax would read as more than a name).
func IsInterfaceName(name string) bool { return ifaceRE.MatchString(name) }

// Validate checks an Input against everything keepalived would reject or silently misread. Each
// error names the field it is about. The CRD rejects most of these earlier; this is the last line,
// for inputs that never pass through the API server (hacpctl render) and for rules that need the
// members or the password.
func Validate(in Input) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	s := in.Spec

	if in.Bootstrap && len(in.Members) != 1 {
		errs = append(errs, field.Invalid(field.NewPath("members"), len(in.Members), "a bootstrap config is for exactly one node, the first control-plane node"))
	}
	vips := map[netip.Addr]bool{}
	families := map[int]bool{}
	if len(s.VirtualIPs) == 0 {
		errs = append(errs, field.Required(spec.Child("virtualIPs"), "at least one virtual IP is needed"))
	}
	for i, v := range s.VirtualIPs {
		p := spec.Child("virtualIPs").Index(i)
		a, err := netip.ParseAddr(v)
		switch {
		case err != nil || a.Zone() != "":
			errs = append(errs, field.Invalid(p, v, "must be an IPv4 or IPv6 address without prefix length or zone"))
			continue
		case a.String() != v:
			errs = append(errs, field.Invalid(p, v, fmt.Sprintf("must be in canonical form (%s)", a)))
		case !a.IsGlobalUnicast():
			errs = append(errs, field.Invalid(p, v, "must be a unicast address (not loopback, unspecified, multicast or link-local)"))
		}
		if vips[a] {
			errs = append(errs, field.Duplicate(p, v))
		}
		vips[a] = true
		families[Family(a)] = true
		if a.Is6() && s.VRRPVersion != 3 {
			errs = append(errs, field.Invalid(p, v, "IPv6 virtual IPs need vrrpVersion 3 (VRRPv2 is IPv4 only)"))
		}
	}
	if s.VirtualRouterID < 1 || s.VirtualRouterID > 255 {
		errs = append(errs, field.Invalid(spec.Child("virtualRouterID"), s.VirtualRouterID, "must be in 1..255"))
	}
	adv := spec.Child("advertisementIntervalMilliseconds")
	switch s.VRRPVersion {
	case 2:
		if s.AdvertisementIntervalMilliseconds < 1000 || s.AdvertisementIntervalMilliseconds > 255000 || s.AdvertisementIntervalMilliseconds%1000 != 0 {
			errs = append(errs, field.Invalid(adv, s.AdvertisementIntervalMilliseconds, "with vrrpVersion 2 must be whole seconds, 1000..255000 (use vrrpVersion 3 for sub-second adverts)"))
		}
	case 3:
		if s.AdvertisementIntervalMilliseconds < 10 || s.AdvertisementIntervalMilliseconds > 40950 || s.AdvertisementIntervalMilliseconds%10 != 0 {
			errs = append(errs, field.Invalid(adv, s.AdvertisementIntervalMilliseconds, "with vrrpVersion 3 must be 10..40950 in steps of 10"))
		}
	default:
		errs = append(errs, field.NotSupported(spec.Child("vrrpVersion"), s.VRRPVersion, []string{"2", "3"}))
	}
	if s.Interface != "" && !ifaceRE.MatchString(s.Interface) {
		errs = append(errs, field.Invalid(spec.Child("interface"), s.Interface, "must be a network interface name of at most 15 characters"))
	}
	if d := in.Options.DefaultInterface; d != "" && !ifaceRE.MatchString(d) {
		errs = append(errs, field.Invalid(field.NewPath("options", "defaultInterface"), d, "must be a network interface name of at most 15 characters"))
	}
	switch s.Preemption {
	case hacpv1.PreemptionEnabled, hacpv1.PreemptionDisabled:
	default:
		errs = append(errs, field.NotSupported(spec.Child("preemption"), s.Preemption, []string{string(hacpv1.PreemptionEnabled), string(hacpv1.PreemptionDisabled)}))
	}

	pw := spec.Child("passwordSecretRef")
	switch {
	case in.Password != "" && s.VRRPVersion == 3:
		errs = append(errs, field.Invalid(pw, "(password)", "VRRPv3 has no authentication: keepalived would ignore the password, remove it"))
	case in.Password != "" && len(in.Password) > 8:
		errs = append(errs, field.Invalid(pw, fmt.Sprintf("(%d characters)", len(in.Password)), "the VRRP password must be at most 8 characters: keepalived silently truncates longer ones"))
	case in.Password != "" && !passwordRE.MatchString(in.Password):
		errs = append(errs, field.Invalid(pw, "(password)", "the VRRP password may only contain letters, digits and _.,:;+=@%^&*()[]<>/?~|- (no spaces, quotes, braces, '#', '!' or '$'): keepalived would read it differently"))
	}

	hc := spec.Child("healthCheck")
	mode := s.HealthCheck.Mode
	if in.Mode != "" {
		mode = in.Mode
	}
	if mode != hacpv1.HealthCheckWeighted && mode != hacpv1.HealthCheckQuorumAware {
		errs = append(errs, field.NotSupported(hc.Child("mode"), mode, []string{string(hacpv1.HealthCheckWeighted), string(hacpv1.HealthCheckQuorumAware)}))
	}
	if p := s.HealthCheck.APIServerPort; p < 1 || p > 65535 {
		errs = append(errs, field.Invalid(hc.Child("apiServerPort"), p, "must be in 1..65535"))
	}
	if !pathRE.MatchString(s.HealthCheck.Path) {
		errs = append(errs, field.Invalid(hc.Child("path"), s.HealthCheck.Path, "must be an absolute URL path such as /readyz"))
	}
	if s.HealthCheck.IntervalSeconds < 1 || s.HealthCheck.IntervalSeconds > 60 {
		errs = append(errs, field.Invalid(hc.Child("intervalSeconds"), s.HealthCheck.IntervalSeconds, "must be in 1..60"))
	}
	if t := s.HealthCheck.TimeoutMilliseconds; t < 50 || t >= s.HealthCheck.IntervalSeconds*1000 {
		errs = append(errs, field.Invalid(hc.Child("timeoutMilliseconds"), t, "must be at least 50 and shorter than intervalSeconds"))
	}
	for _, f := range []struct {
		name string
		v    int32
	}{{"fall", s.HealthCheck.Fall}, {"rise", s.HealthCheck.Rise}} {
		if f.v < 1 || f.v > 20 {
			errs = append(errs, field.Invalid(hc.Child(f.name), f.v, "must be in 1..20"))
		}
	}

	// Members: unique names and addresses, none on a VIP, every VIP family carried by someone.
	mp := field.NewPath("members")
	names := map[string]bool{}
	addrs := map[netip.Addr]string{}
	carried := map[int]int{}
	if len(in.Members) == 0 {
		errs = append(errs, field.Required(mp, "no members: no Node matches spec.nodeSelector and there are no staticMembers"))
	}
	if len(in.Members) > MaxMembers {
		tooMany := field.TooMany(mp, len(in.Members), MaxMembers)
		tooMany.Detail += fmt.Sprintf(": the priority plan keeps members %d apart below %d, so that one failing member never outranks a healthy one; select fewer nodes with spec.nodeSelector or drop staticMembers", PriorityStep, TopPriority)
		errs = append(errs, tooMany)
	}
	for i, m := range in.Members {
		p := mp.Index(i)
		if !nameRE.MatchString(m.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), m.Name, "must be a DNS subdomain name"))
		}
		if names[m.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), m.Name))
		}
		names[m.Name] = true
		if m.Interface != "" && !ifaceRE.MatchString(m.Interface) {
			errs = append(errs, field.Invalid(p.Child("interface"), m.Interface, "must be a network interface name of at most 15 characters"))
		}
		seen := map[int]bool{}
		if len(m.Addresses) == 0 {
			errs = append(errs, field.Required(p.Child("addresses"), fmt.Sprintf("member %s has no address", m.Name)))
		}
		for j, a := range m.Addresses {
			ap := p.Child("addresses").Index(j)
			switch {
			case !a.IsValid() || !a.IsGlobalUnicast() || a.Zone() != "":
				errs = append(errs, field.Invalid(ap, a.String(), "must be a unicast address"))
				continue
			case vips[a]:
				errs = append(errs, field.Invalid(ap, a.String(), fmt.Sprintf("member %s's address is also a virtual IP; keepalived would treat it as the address owner", m.Name)))
			case addrs[a] != "":
				errs = append(errs, field.Duplicate(ap, fmt.Sprintf("%s (also %s's)", a, addrs[a])))
			case seen[Family(a)]:
				errs = append(errs, field.Invalid(ap, a.String(), "at most one address per family"))
			}
			addrs[a] = m.Name
			seen[Family(a)] = true
			carried[Family(a)]++
		}
	}
	for f := range families {
		if len(in.Members) > 0 && carried[f] == 0 {
			errs = append(errs, field.Invalid(mp, len(in.Members), fmt.Sprintf("no member has an IPv%d address for the IPv%d virtual IPs", f, f)))
		}
	}
	return errs
}

// Family is an address's IP family, 4 or 6 (IPv4-mapped IPv6 counts as 4).
func Family(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}

// errorString flattens a field.ErrorList into one line.
func errorString(errs field.ErrorList) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}
