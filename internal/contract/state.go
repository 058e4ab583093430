package contract

import (
	"fmt"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

// VRRPState is a node's VRRP state, as an agent reports it on its Pod and the VIPGroup's status
// shows it. Its values are the API's enum (hacpv1.VRRPStateMaster and the rest), defined once, in
// the API package, because the CRD schema is generated from them.
type VRRPState = hacpv1.VRRPState

// ParseVRRPState validates s as a reported state; anything else is UNKNOWN with an error.
func ParseVRRPState(s string) (VRRPState, error) {
	switch st := VRRPState(s); st {
	case hacpv1.VRRPStateMaster, hacpv1.VRRPStateBackup, hacpv1.VRRPStateFault, hacpv1.VRRPStateStop, hacpv1.VRRPStateUnknown:
		return st, nil
	}
	return hacpv1.VRRPStateUnknown, fmt.Errorf("unknown VRRP state %q", s)
}
