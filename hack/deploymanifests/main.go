// Command deploymanifests prints what `make deploy` applies: config/CONFIG with the image IMG.
//
//	go run ./hack/deploymanifests config/with-pki registry.example/hacp:v1 | kubectl apply --server-side -f -
package main

import (
	"fmt"
	"os"

	"hacp.dev/hacp/internal/deploy"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: deploymanifests CONFIG_DIR IMG")
		os.Exit(2)
	}
	out, err := deploy.Render(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploymanifests:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
