// Package contract is everything hacp's agent and manager must agree on, in one place: the report
// an agent writes on its own Pod (annotation keys and their encoding, report.go), the VRRP states
// it reports (state.go), and the agent container every hacp Pod runs (paths on the node, sockets,
// arguments, volumes and security context, container.go), used by the VIPGroup's DaemonSet, the
// bootstrap and standby static Pods and cmd/agent alike.
//
// The wire format is fixed: agents and managers of different versions run side by side during an
// upgrade, and a changed annotation name or value would make one deaf to the other. The package
// holds no logic beyond encoding, decoding and building these specs.
package contract
