package main

import (
	"bytes"
	"strings"
	"testing"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

func TestWhatIfFromSavedStatus(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"whatif", "-f", "testdata/hacp-status.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"etcd: 2 of 3 voters healthy, quorum 2, failure tolerance 0",
		"QuorumHealthy=False (AtRisk)",
		"h3      192.168.1.9   NotReady  not ready  unhealthy",
		"h1             breaks EtcdQuorum,APIServer,VIP  etcd quorum lost (1 of 3 voters left, 2 needed)",
		"h3             survives",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestWhatIfErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing file": {[]string{"whatif", "-f", "testdata/nope.yaml"}, "no such file"},
		"no HACP":      {[]string{"whatif", "-f", "../../examples/haclusterplane.yaml"}, ""},
		"no cluster":   {[]string{"whatif", "--kubeconfig", "testdata/nope-kubeconfig"}, "use -f with a saved status"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tc.args, &out, &errOut)
			if tc.want == "" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut.String())
				}
				return
			}
			if code != exitUsage || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %q", code, errOut.String(), tc.want)
			}
		})
	}
}

func TestWhatIfSaysQuorumLostRatherThanMinusOne(t *testing.T) {
	var out bytes.Buffer
	printWhatIf(&out, &hacpv1.HAControlPlane{Status: hacpv1.HAControlPlaneStatus{
		Quorum: &hacpv1.QuorumStatus{Voters: 3, Healthy: 1, Quorum: 2, FailureTolerance: -1},
	}})
	if want := "etcd: 1 of 3 voters healthy, quorum 2, quorum LOST\n"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	if strings.Contains(out.String(), "-1") {
		t.Errorf("output shows -1:\n%s", out.String())
	}
}
