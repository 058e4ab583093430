package keepalived

import (
	"net/netip"
	"strings"
	"testing"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// FuzzRender feeds arbitrary specs and member sets to the renderer, bootstrap configs included: it
// must never panic, and every input Validate accepts must render configs that Lint and LintSet
// accept.
func FuzzRender(f *testing.F) {
	f.Add("192.168.1.8", uint8(68), uint32(1000), uint8(2), "h1=192.168.1.12,h2=192.168.1.10,h3=192.168.1.9", "mypass", "", false, uint8(0), false)
	f.Add("198.51.100.8,2001:db8::8", uint8(5), uint32(100), uint8(3), "a=198.51.100.1/2001:db8::1,b=198.51.100.2/2001:db8::2", "", "bond0", true, uint8(1), false)
	f.Add("10.0.0.1", uint8(255), uint32(255000), uint8(2), "solo=10.0.0.2", "12345678", "", false, uint8(1), true)
	f.Add("198.51.100.8,2001:db8::8", uint8(9), uint32(1000), uint8(3), "a=198.51.100.1/2001:db8::1", "", "", false, uint8(1), true)
	f.Add("10.0.0.1", uint8(0), uint32(1500), uint8(2), "x=10.0.0.1", "toolongpassword", "eth 0", false, uint8(2), false)
	f.Fuzz(func(t *testing.T, vips string, vrid uint8, adv uint32, version uint8, members, password, iface string, nopreempt bool, mode uint8, bootstrap bool) {
		spec := defaultSpec()
		if vips != "" {
			spec.VirtualIPs = strings.Split(vips, ",")
		}
		spec.VirtualRouterID = int32(vrid)
		spec.AdvertisementIntervalMilliseconds = int32(adv)
		spec.VRRPVersion = int32(version)
		spec.Interface = iface
		if nopreempt {
			spec.Preemption = hacpv1.PreemptionDisabled
		}
		spec.HealthCheck.Mode = []hacpv1.HealthCheckMode{hacpv1.HealthCheckQuorumAware, hacpv1.HealthCheckWeighted, "Bogus"}[int(mode)%3]
		in := Input{Namespace: "ns", Name: "fuzz", Spec: spec, Password: password, Bootstrap: bootstrap, Options: DefaultOptions()}
		for _, m := range strings.Split(members, ",") {
			name, addrs, _ := strings.Cut(m, "=")
			mem := Member{Name: name}
			for _, a := range strings.Split(addrs, "/") {
				if p, err := netip.ParseAddr(a); err == nil {
					mem.Addresses = append(mem.Addresses, p)
				}
			}
			in.Members = append(in.Members, mem)
		}
		cfgs, err := renderConfigs(in)
		if len(Validate(in)) > 0 {
			if err == nil {
				t.Fatal("Render accepted an input Validate rejects")
			}
			return
		}
		if err != nil {
			t.Fatalf("Validate accepted but Render failed: %v", err)
		}
		for node, c := range cfgs {
			if err := Lint(c.Text); err != nil {
				t.Fatalf("%s: rendered config fails Lint: %v\n%s", node, err, c.Text)
			}
		}
		if err := LintSet(cfgs); err != nil {
			t.Fatalf("rendered set fails LintSet: %v", err)
		}
	})
}

// FuzzParse: the parser never panics, and what it parses it parses the same way twice.
func FuzzParse(f *testing.F) {
	for _, in := range goldenCases() {
		cfgs, _ := renderConfigs(in)
		for _, c := range cfgs {
			f.Add(string(c.Text))
		}
	}
	f.Add("a {\n b \"c d\" {\n }\n}\n# x\n! y\n")
	f.Add("}")
	f.Fuzz(func(t *testing.T, text string) {
		root, err := Parse([]byte(text))
		if err != nil {
			return
		}
		_ = Lint([]byte(text))
		if root.Keyword != "<root>" {
			t.Fatal("root keyword changed")
		}
	})
}
