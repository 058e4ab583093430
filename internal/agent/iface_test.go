package agent

import "testing"

func TestInterfaceOf(t *testing.T) {
	if got, err := InterfaceOf("127.0.0.1"); err != nil || got != "lo" {
		t.Fatalf("127.0.0.1: %q, %v; want lo", got, err)
	}
	if _, err := InterfaceOf("198.51.100.250"); err == nil {
		t.Fatal("found an interface for an address this machine does not hold")
	}
	if _, err := InterfaceOf("h1"); err == nil {
		t.Fatal("accepted a name")
	}
}
