package agent

import (
	"bytes"
	"testing"

	"hacp.dev/hacp/internal/keepalived"
)

func TestDropLines(t *testing.T) {
	var out bytes.Buffer
	w := DropLines(&out, keepalived.SelfAdvertWarning)
	// keepalived's own words, written in pieces that split lines, as a pipe delivers them.
	for _, chunk := range []string{
		"Mon Nov 30 13:50:48 2026: (hacp_v4) Entering MASTER STATE\nMon Nov 30 13:50:48 2026: (hacp_v4) WARN",
		"ING - equal priority advert received from remote host with our IP address.\n",
		"Mon Nov 30 13:50:49 2026: (hacp_v4) Received advert from 198.51.100.12 with lower priority 199, ours 200, forcing new election\npartial",
	} {
		if n, err := w.Write([]byte(chunk)); err != nil || n != len(chunk) {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	want := "Mon Nov 30 13:50:48 2026: (hacp_v4) Entering MASTER STATE\n" +
		"Mon Nov 30 13:50:49 2026: (hacp_v4) Received advert from 198.51.100.12 with lower priority 199, ours 200, forcing new election\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}
