package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"

	"hacp.dev/hacp/internal/check"
	"hacp.dev/hacp/internal/contract"
)

// Every argument the manager and hacpctl put in an agent container (internal/contract) is a flag
// the agent defines: parsing them with -h last stops at -h, not at an unknown flag.
func TestAgentAcceptsTheContractsArguments(t *testing.T) {
	stderr := os.Stderr
	os.Stderr, _ = os.Open(os.DevNull)
	defer func() { os.Stderr = stderr }()
	for name, tc := range map[string]struct {
		args []string
		run  func([]string) error
	}{
		"run":          {contract.RunArgs(contract.RunOptions{Secret: "s", HandoverSocket: "h"}), run},
		"run, standby": {contract.RunArgs(contract.RunOptions{Secret: "s", HandoverSocket: "h", Interface: "eth0", VIPGroup: "vip", StandbyImage: "hacp:1"}), run},
		"bootstrap":    {contract.BootstrapArgs("h"), bootstrap},
		"standby":      {contract.StandbyArgs("kube-system", "vip"), standby},
	} {
		if cmd := strings.TrimPrefix(name, ""); tc.args[0] != strings.Fields(strings.ReplaceAll(cmd, ",", ""))[0] {
			t.Errorf("%s: the arguments start with %q", name, tc.args[0])
		}
		if err := tc.run(append(tc.args[1:], "-h")); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s %v: %v", name, tc.args, err)
		}
	}
	probe := contract.ReadinessProbe().Exec.Command
	var out bytes.Buffer
	if code := check.Main(probe[1], append(probe[2:], "-h"), &out); code != 2 || strings.Contains(out.String(), "not defined") || probe[0] != contract.CheckBinary {
		t.Errorf("readiness probe %v: exit %d, %s", probe, code, out.String())
	}
}
