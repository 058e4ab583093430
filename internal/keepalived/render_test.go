package keepalived

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// defaultSpec is a VIPGroup spec with the CRD's defaults filled in.
func defaultSpec(vips ...string) hacpv1.VIPGroupSpec {
	return hacpv1.VIPGroupSpec{
		VirtualIPs:                        vips,
		VirtualRouterID:                   68,
		AdvertisementIntervalMilliseconds: 1000,
		VRRPVersion:                       2,
		Preemption:                        hacpv1.PreemptionEnabled,
		HealthCheck: hacpv1.HealthCheck{
			Mode: hacpv1.HealthCheckQuorumAware, APIServerPort: 6443, Path: "/readyz",
			IntervalSeconds: 1, TimeoutMilliseconds: 800, Fall: 2, Rise: 2,
		},
	}
}

func member(name string, addrs ...string) Member {
	m := Member{Name: name}
	for _, a := range addrs {
		m.Addresses = append(m.Addresses, netip.MustParseAddr(a))
	}
	return m
}

func seedMembers() []Member {
	return []Member{member("h1", "192.168.1.12"), member("h2", "192.168.1.10"), member("h3", "192.168.1.9")}
}

// goldenCases are the configs reviewed as text under testdata/ and checked by real keepalived.
func goldenCases() map[string]Input {
	seed := Input{Namespace: "kube-system", Name: "kube-apiserver", Spec: defaultSpec("192.168.1.8"), Members: seedMembers(), Password: "s3cr3t!x"[:6], Options: DefaultOptions()}

	five := Input{Namespace: "kube-system", Name: "five", Spec: defaultSpec("203.0.113.100"), Password: "pw5nodes", Options: DefaultOptions()}
	five.Spec.VirtualRouterID = 51
	five.Spec.Interface = "bond0"
	five.Spec.Preemption = hacpv1.PreemptionDisabled
	for i, n := range []string{"cp-e", "cp-a", "cp-c", "cp-b", "cp-d"} {
		five.Members = append(five.Members, member(n, netip.AddrFrom4([4]byte{203, 0, 113, byte(11 + i)}).String()))
	}

	dual := Input{Namespace: "kube-system", Name: "dual", Spec: defaultSpec("198.51.100.8", "2001:db8::8"), Options: DefaultOptions()}
	dual.Spec.VRRPVersion = 3
	dual.Members = []Member{
		member("n1", "198.51.100.11", "2001:db8::11"),
		member("n2", "198.51.100.12", "2001:db8::12"),
		member("n3", "198.51.100.13", "2001:db8::13"),
	}

	fast := Input{Namespace: "kube-system", Name: "fast", Spec: defaultSpec("198.51.100.9"), Members: []Member{member("f1", "198.51.100.21"), member("f2", "198.51.100.22"), member("f3", "198.51.100.23")}, Options: DefaultOptions()}
	fast.Spec.VRRPVersion = 3
	fast.Spec.AdvertisementIntervalMilliseconds = 100

	bootstrap := Input{Namespace: "kube-system", Name: "kube-apiserver", Spec: defaultSpec("192.168.1.8"), Members: []Member{member("h1", "192.168.1.12")}, Password: "bootpw", Mode: hacpv1.HealthCheckWeighted, Options: DefaultOptions()}
	bootstrap.Spec.StaticMembers = []hacpv1.StaticMember{{Name: "h1", Address: "192.168.1.12"}}
	bootstrap.Members[0].Static = true
	bootstrap.Bootstrap = true

	dualBoot := Input{Namespace: "kube-system", Name: "dual", Spec: defaultSpec("198.51.100.8", "2001:db8::8"), Mode: hacpv1.HealthCheckWeighted, Bootstrap: true, Options: DefaultOptions(),
		Members: []Member{member("n1", "198.51.100.11", "2001:db8::11")}}
	dualBoot.Spec.VRRPVersion = 3

	// The VIPGroup's first node, before any other joins: unicast to itself, never multicast.
	first := Input{Namespace: "kube-system", Name: "first", Spec: defaultSpec("198.51.100.8", "2001:db8::8"), Options: DefaultOptions(),
		Members: []Member{member("n1", "198.51.100.11", "2001:db8::11")}}
	first.Spec.VRRPVersion = 3

	return map[string]Input{"first": first, "seed": seed, "five": five, "dualstack": dual, "fast-v3": fast, "bootstrap": bootstrap, "bootstrap-dualstack": dualBoot}
}

// renderAll renders every node, static members included (the bootstrap case is one).
func renderAll(t *testing.T, in Input) map[string]NodeConfig {
	t.Helper()
	out := map[string]NodeConfig{}
	for _, m := range in.Members {
		cfg, err := RenderNode(in, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[m.Name] = cfg
	}
	return out
}

func TestGolden(t *testing.T) {
	for name, in := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			for node, cfg := range renderAll(t, in) {
				path := filepath.Join("testdata", name+"-"+node+".conf")
				if *update {
					if err := os.WriteFile(path, cfg.Text, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run `go test ./internal/keepalived -run TestGolden -update` and review the diff)", err)
				}
				if string(want) != string(cfg.Text) {
					t.Errorf("%s differs from the golden file; if intended, run with -update and review the diff.\n--- got ---\n%s", path, cfg.Text)
				}
			}
		})
	}
}

func TestGoldenConfigsAreConsistent(t *testing.T) {
	for name, in := range goldenCases() {
		if err := LintSet(renderAll(t, in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	in := goldenCases()["five"]
	a, err := renderConfigs(in)
	if err != nil {
		t.Fatal(err)
	}
	// Member order in the input must not matter.
	rev := in
	rev.Members = nil
	for i := len(in.Members) - 1; i >= 0; i-- {
		rev.Members = append(rev.Members, in.Members[i])
	}
	b, err := renderConfigs(rev)
	if err != nil {
		t.Fatal(err)
	}
	for node := range a {
		if a[node].Hash != b[node].Hash {
			t.Errorf("%s: hash depends on input order", node)
		}
	}
}

// TestUnicastPeers: a member's peers are the other members, never itself; the VIPGroup's only
// member advertises to itself alone (a join is then a unicast-to-unicast reload, applied in place),
// and only the bootstrap config, which is never reloaded with peers, advertises by multicast.
func TestUnicastPeers(t *testing.T) {
	for name, in := range goldenCases() {
		for node, cfg := range renderAll(t, in) {
			root, err := Parse(cfg.Text)
			if err != nil {
				t.Fatal(err)
			}
			for _, inst := range root.Children {
				if inst.Keyword != "vrrp_instance" {
					continue
				}
				src := inst.Arg("unicast_src_ip")
				up := inst.Child("unicast_peer")
				if up == nil {
					if !in.Bootstrap {
						t.Errorf("%s/%s: no unicast_peer: only the bootstrap config may advertise by multicast", name, node)
					}
					continue
				}
				if in.Bootstrap {
					t.Errorf("%s/%s: the bootstrap config has unicast peers", name, node)
				}
				for _, p := range up.Children {
					if p.Keyword == src && len(in.Members) > 1 {
						t.Errorf("%s/%s: own address %s in unicast_peer although there are %d members", name, node, src, len(in.Members))
					}
					if p.Keyword != src && len(in.Members) == 1 {
						t.Errorf("%s/%s: the only member advertises to %s, not to itself", name, node, p.Keyword)
					}
				}
			}
		}
	}
}

func TestMembershipChangeReRendersEveryone(t *testing.T) {
	in := goldenCases()["seed"]
	before, _ := renderConfigs(in)
	in.Members = append(in.Members, member("h4", "192.168.1.16"))
	after, err := renderConfigs(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"h1", "h2", "h3"} {
		if before[n].Hash == after[n].Hash {
			t.Errorf("%s's config did not change when h4 joined", n)
		}
		if !strings.Contains(string(after[n].Text), "192.168.1.16") {
			t.Errorf("%s does not list h4 as a peer", n)
		}
		if before[n].Priority != after[n].Priority {
			t.Errorf("%s's priority changed from %d to %d when h4 joined", n, before[n].Priority, after[n].Priority)
		}
	}
}

func TestWeightedAndQuorumAwareDifferOnlyInWeight(t *testing.T) {
	in := goldenCases()["seed"]
	q, _ := RenderNode(in, "h1")
	in.Mode = hacpv1.HealthCheckWeighted
	w, _ := RenderNode(in, "h1")
	if !strings.Contains(string(q.Text), "weight 0\n") || !strings.Contains(string(w.Text), "weight -100\n") {
		t.Fatalf("unexpected weights:\n%s\n%s", q.Text, w.Text)
	}
}

// One disruption per failure: a spec that says nothing about preemption renders nopreempt on
// every node, so a node that returns rejoins as BACKUP instead of taking the VIP back.
func TestDefaultIsOneDisruptionPerFailure(t *testing.T) {
	in := goldenCases()["seed"]
	in.Spec.Preemption = ""
	in.Spec = Defaulted(in.Spec)
	if in.Spec.Preemption != hacpv1.PreemptionDisabled {
		t.Fatalf("default preemption %q, want %q", in.Spec.Preemption, hacpv1.PreemptionDisabled)
	}
	configs, err := renderConfigs(in)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range configs {
		text := string(c.Text)
		if !strings.Contains(text, "\n    nopreempt\n") || strings.Contains(text, "state MASTER") {
			t.Errorf("%s: a returning node would take the VIP back:\n%s", name, text)
		}
	}
}

// renderConfigs is Render's configs, for the tests that look at nothing else.
func renderConfigs(in Input) (map[string]NodeConfig, error) {
	r, err := Render(in)
	return r.Configs, err
}

// A member whose interface is not known yet is pending: in the plan, with no config.
func TestRenderPendingWithoutInterface(t *testing.T) {
	in := goldenCases()["seed"]
	in.WaitForInterfaces = true
	in.Spec.Interface = ""
	var known []string
	for i := range in.Members {
		if !in.Members[i].Static && len(known) == 0 {
			in.Members[i].Interface = "eth1"
			known = append(known, in.Members[i].Name)
		} else {
			in.Members[i].Interface = ""
		}
	}
	r, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Plan) != len(in.Members) {
		t.Fatalf("plan has %d members, want %d", len(r.Plan), len(in.Members))
	}
	if len(r.Configs) != 1 || r.Configs[known[0]].Hash == "" {
		t.Fatalf("configs %v, want only %s's", r.Configs, known[0])
	}
	for _, p := range r.Pending {
		if p == known[0] {
			t.Fatalf("%s is pending with an interface", p)
		}
	}
	if len(r.Pending)+len(r.Configs) != countAgentRun(in.Members) {
		t.Fatalf("pending %v and configs %d do not cover every agent-run member", r.Pending, len(r.Configs))
	}
	in.WaitForInterfaces = false
	if all, _ := Render(in); len(all.Pending) != 0 || len(all.Configs) != countAgentRun(in.Members) {
		t.Fatalf("without WaitForInterfaces: pending %v, %d configs", all.Pending, len(all.Configs))
	}
}

func countAgentRun(ms []Member) int {
	n := 0
	for _, m := range ms {
		if !m.Static {
			n++
		}
	}
	return n
}
