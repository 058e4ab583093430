package keepalived

import (
	"net/netip"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
	"hacp.dev/hacp/internal/contract"
)

// Member is one node that runs (or, for static members, is a peer of) keepalived.
type Member struct {
	// Name is the Node name; it becomes router_id and the key of the node's config.
	Name string
	// Addresses are the member's unicast addresses, at most one per family. The IPv4 instance uses
	// the IPv4 one, the IPv6 instance the IPv6 one.
	Addresses []netip.Addr
	// Interface overrides spec.interface for this member (the interface holding its InternalIP).
	Interface string
	// Static is true for spec.staticMembers: it is a peer in every config, but gets no config of its
	// own unless it is the node being rendered (hacpctl render for the seed node).
	Static bool
}

// Options are the node-side paths and identities the configs refer to. They are the same on every
// node, because the agent runs from one image.
type Options struct {
	// CheckCommand is the health check program (hacp-check); its arguments are added.
	CheckCommand string
	// ScriptUser runs the check; keepalived refuses scripts without one under
	// enable_script_security.
	ScriptUser string
	// NotifyFIFO is where keepalived writes state changes for the agent to read. Empty disables it.
	NotifyFIFO string
	// DefaultInterface is used when neither the spec nor the member names an interface.
	DefaultInterface string
}

// DefaultOptions are the paths inside hacp's image.
func DefaultOptions() Options {
	return Options{
		CheckCommand: contract.CheckBinary,
		// root, not nobody: keepalived 2.2.7's --config-test SIGTERMs itself (exit 143, whatever
		// the config holds) when script_user is not root, so a reload could not be tested before
		// it is applied. enable_script_security still refuses a check binary that any non-root
		// user could modify, and the check is hacp's own binary in hacp's image.
		ScriptUser:       "root",
		NotifyFIFO:       contract.FIFOPath,
		DefaultInterface: "eth0",
	}
}

// Input is everything a render needs.
type Input struct {
	// Namespace and Name identify the VIPGroup; they appear in comments and instance names.
	Namespace, Name string
	Spec            hacpv1.VIPGroupSpec
	// Members in any order; the plan orders them (static members in spec order, then by name).
	Members []Member
	// Password is the VRRPv2 PASS password (empty: no authentication). Ignored never: with
	// VRRPv3 a password is an error, because keepalived would drop it silently.
	Password string
	// Mode overrides spec.healthCheck.mode when set (hacpctl render --mode weighted for the seed node).
	Mode hacpv1.HealthCheckMode
	// Bootstrap renders the config of the bootstrap static Pod (hacpctl bootstrap). Its VIPs get
	// a prefix one bit shorter than a host prefix, without a prefix route: the kernel keeps them
	// as entries distinct from the /32 (/128) the VIPGroup's keepalived adds on the same node, so
	// that keepalived's startup cleanup (it deletes its VIPs when it starts, wherever they came
	// from) misses them and the VIP never leaves the node during the handover.
	Bootstrap bool
	// WaitForInterfaces leaves a non-static member without an interface (neither spec.interface
	// nor the member's own) pending when rendering a group: its agent has not reported the
	// interface holding its address yet, so no config is rendered for it rather than one on
	// Options.DefaultInterface.
	WaitForInterfaces bool
	Options           Options
}

// Rendered is a group's render: the plan of every member, one config per member it renders and
// the members it could not render yet.
type Rendered struct {
	// Plan is every member with its priority, in plan order.
	Plan []Plan
	// Configs has one config per non-static member that is not pending, keyed by member name.
	Configs map[string]NodeConfig
	// Pending are the members waiting for their interface (Input.WaitForInterfaces), sorted.
	Pending []string
}

// NodeConfig is one member's rendered configuration.
type NodeConfig struct {
	Node string
	// Text is the keepalived.conf.
	Text []byte
	// Hash is the hex SHA-256 of Text.
	Hash string
	// Priority is the member's base priority in the first instance.
	Priority int
}
