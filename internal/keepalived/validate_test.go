package keepalived

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestValidateRejectsEveryPitfall(t *testing.T) {
	base := func() Input { return goldenCases()["seed"] }
	for name, tc := range map[string]struct {
		mutate func(*Input)
		field  string
		msg    string
	}{
		"no VIPs":         {func(in *Input) { in.Spec.VirtualIPs = nil }, "spec.virtualIPs", "at least one"},
		"malformed VIP":   {func(in *Input) { in.Spec.VirtualIPs = []string{"192.168.1.300"} }, "spec.virtualIPs[0]", "IPv4 or IPv6"},
		"VIP with prefix": {func(in *Input) { in.Spec.VirtualIPs = []string{"192.168.1.8/24"} }, "spec.virtualIPs[0]", "without prefix"},
		"non-canonical VIP": {func(in *Input) {
			in.Spec.VirtualIPs = []string{"2001:DB8::8"}
			in.Spec.VRRPVersion = 3
			in.Password = ""
		}, "spec.virtualIPs[0]", "canonical"},
		"loopback VIP":            {func(in *Input) { in.Spec.VirtualIPs = []string{"127.0.0.8"} }, "spec.virtualIPs[0]", "unicast"},
		"duplicate VIP":           {func(in *Input) { in.Spec.VirtualIPs = []string{"192.168.1.8", "192.168.1.8"} }, "spec.virtualIPs[1]", "Duplicate"},
		"IPv6 VIP with VRRPv2":    {func(in *Input) { in.Spec.VirtualIPs = []string{"2001:db8::8"} }, "spec.virtualIPs[0]", "vrrpVersion 3"},
		"VRID 0":                  {func(in *Input) { in.Spec.VirtualRouterID = 0 }, "spec.virtualRouterID", "1..255"},
		"VRID 256":                {func(in *Input) { in.Spec.VirtualRouterID = 256 }, "spec.virtualRouterID", "1..255"},
		"fractional advert on v2": {func(in *Input) { in.Spec.AdvertisementIntervalMilliseconds = 1500 }, "spec.advertisementIntervalMilliseconds", "whole seconds"},
		"advert below 10ms on v3": {func(in *Input) {
			in.Spec.VRRPVersion = 3
			in.Password = ""
			in.Spec.AdvertisementIntervalMilliseconds = 5
		}, "spec.advertisementIntervalMilliseconds", "10..40950"},
		"VRRP version 4":                   {func(in *Input) { in.Spec.VRRPVersion = 4 }, "spec.vrrpVersion", "Unsupported"},
		"password over 8":                  {func(in *Input) { in.Password = "ninechars" }, "spec.passwordSecretRef", "at most 8 characters"},
		"password with v3":                 {func(in *Input) { in.Spec.VRRPVersion = 3 }, "spec.passwordSecretRef", "VRRPv3 has no authentication"},
		"password with a space":            {func(in *Input) { in.Password = "a b" }, "spec.passwordSecretRef", "spaces"},
		"password with a comment":          {func(in *Input) { in.Password = "ab#c" }, "spec.passwordSecretRef", "'#'"},
		"bootstrap with peers":             {func(in *Input) { in.Bootstrap = true }, "members", "exactly one node"},
		"password with a brace":            {func(in *Input) { in.Password = "}" }, "spec.passwordSecretRef", "braces"},
		"bad interface":                    {func(in *Input) { in.Spec.Interface = "eth 0" }, "spec.interface", "interface name"},
		"default interface with a newline": {func(in *Input) { in.Options.DefaultInterface = "eth0\n}\nglobal_defs {" }, "options.defaultInterface", "interface name"},
		"bad mode":                         {func(in *Input) { in.Spec.HealthCheck.Mode = "TCP" }, "spec.healthCheck.mode", "Unsupported"},
		"timeout not below interval":       {func(in *Input) { in.Spec.HealthCheck.TimeoutMilliseconds = 1000 }, "spec.healthCheck.timeoutMilliseconds", "shorter than intervalSeconds"},
		"fall 0":                           {func(in *Input) { in.Spec.HealthCheck.Fall = 0 }, "spec.healthCheck.fall", "1..20"},
		"rise 0":                           {func(in *Input) { in.Spec.HealthCheck.Rise = 0 }, "spec.healthCheck.rise", "1..20"},
		"path with a quote":                {func(in *Input) { in.Spec.HealthCheck.Path = `/readyz"` }, "spec.healthCheck.path", "absolute URL path"},
		"no members":                       {func(in *Input) { in.Members = nil }, "members", "no Node matches"},
		"eleven members": {func(in *Input) {
			for i := len(in.Members); i <= MaxMembers; i++ {
				in.Members = append(in.Members, member(fmt.Sprintf("m%d", i), fmt.Sprintf("192.168.1.%d", 100+i)))
			}
		}, "members", "must have at most 10 items"},
		"member on the VIP":        {func(in *Input) { in.Members[0] = member("h1", "192.168.1.8") }, "members[0].addresses[0]", "also a virtual IP"},
		"duplicate member address": {func(in *Input) { in.Members[1] = member("h2", "192.168.1.12") }, "members[1].addresses[0]", "Duplicate"},
		"duplicate member name":    {func(in *Input) { in.Members[1].Name = "h1" }, "members[1].name", "Duplicate"},
		"member without address":   {func(in *Input) { in.Members[1].Addresses = nil }, "members[1].addresses", "no address"},
		"no member for IPv6 VIP": {func(in *Input) {
			in.Spec.VRRPVersion = 3
			in.Password = ""
			in.Spec.VirtualIPs = []string{"192.168.1.8", "2001:db8::8"}
		}, "members", "no member has an IPv6 address"},
		"two IPv4 on one member": {func(in *Input) {
			in.Members[0].Addresses = append(in.Members[0].Addresses, netip.MustParseAddr("192.168.1.99"))
		}, "members[0].addresses[1]", "one address per family"},
		"bad member name": {func(in *Input) { in.Members[0].Name = "H1_bad" }, "members[0].name", "DNS subdomain"},
	} {
		t.Run(name, func(t *testing.T) {
			in := base()
			in.Members = append([]Member(nil), in.Members...)
			tc.mutate(&in)
			errs := Validate(in)
			if len(errs) == 0 {
				t.Fatal("accepted")
			}
			for _, e := range errs {
				if e.Field == tc.field && strings.Contains(e.Error(), tc.msg) {
					return
				}
			}
			t.Fatalf("want an error on %s containing %q, got: %v", tc.field, tc.msg, errs)
		})
	}
}

func TestValidateAcceptsGoldenCases(t *testing.T) {
	for name, in := range goldenCases() {
		if errs := Validate(in); len(errs) > 0 {
			t.Errorf("%s: %v", name, errs)
		}
	}
}

func TestLintCatchesHandWrittenPitfalls(t *testing.T) {
	seedH1 := `global_defs {
    router_id LVS_DEVEL
}
vrrp_script check_apiserver {
    script "</dev/tcp/127.0.0.1/6443"
    interval 1
    weight -2
}
vrrp_instance VI-kube-master {
    state MASTER
    interface eth0
    virtual_router_id 68
    priority 100
    dont_track_primary
    advert_int 3
    authentication {
        auth_type PASS
        auth_pass mypass
    }
    unicast_src_ip 192.168.1.12
    unicast_peer {
        192.168.1.10
    }
    virtual_ipaddress {
         192.168.1.8 # havip
   }
   track_script {
         check_apiserver
   }
}
`
	err := Lint([]byte(seedH1))
	if err == nil {
		t.Fatal("the seed's config has pitfalls; Lint accepted it")
	}
	for _, want := range []string{"enable_script_security", "unicast_fault_no_peer", "not address/prefix"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Lint of the seed's config does not mention %q: %v", want, err)
		}
	}
	for name, tc := range map[string]struct{ from, to, want string }{
		"own address as peer": {"192.168.1.10\n", "192.168.1.10\n 192.168.1.12\n", "own address"},
		"long password":       {"auth_pass mypass", "auth_pass mypassword", "truncated"},
		"MASTER + nopreempt":  {"dont_track_primary", "nopreempt", "nopreempt needs state BACKUP"},
		"priority 255":        {"priority 100", "priority 255", "1..254"},
		"fractional v2":       {"advert_int 3", "advert_int 0.5", "needs version 3"},
		"auth with v3":        {"advert_int 3", "advert_int 3\n    version 3", "ignored with version 3"},
		"undefined script":    {"         check_apiserver\n   }\n}", "         nope\n   }\n}", "not defined"},
		"unbalanced":          {"   }\n}\n", "   }\n", "not closed"},
	} {
		t.Run(name, func(t *testing.T) {
			text := strings.Replace(seedH1, tc.from, tc.to, 1)
			if text == seedH1 {
				t.Fatalf("mutation %q did not apply", tc.from)
			}
			if err := Lint([]byte(text)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func TestLintSetCatchesAsymmetricPeers(t *testing.T) {
	in := goldenCases()["seed"]
	cfgs, err := renderConfigs(in)
	if err != nil {
		t.Fatal(err)
	}
	h2 := cfgs["h2"]
	h2.Text = []byte(strings.Replace(string(h2.Text), "        192.168.1.9\n", "", 1))
	cfgs["h2"] = h2
	if err := LintSet(cfgs); err == nil || !strings.Contains(err.Error(), "does not list h3") {
		t.Fatalf("want a missing-peer error, got %v", err)
	}
	in.Spec.AdvertisementIntervalMilliseconds = 2000
	other, _ := renderConfigs(in)
	cfgs, _ = renderConfigs(goldenCases()["seed"])
	cfgs["h3"] = other["h3"]
	if err := LintSet(cfgs); err == nil || !strings.Contains(err.Error(), "disagrees") {
		t.Fatalf("want a disagreement error, got %v", err)
	}
}

func TestGeneratedPasswordsAreValid(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw := GeneratePassword()
		in := goldenCases()["seed"]
		in.Password = pw
		if errs := Validate(in); len(errs) > 0 {
			t.Fatalf("generated password %q rejected: %v", pw, errs)
		}
		seen[pw] = true
	}
	if len(seen) < 199 {
		t.Fatalf("only %d distinct passwords in 200", len(seen))
	}
}
