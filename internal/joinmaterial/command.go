package joinmaterial

import "fmt"

// WorkerCommand is the join command for a worker node.
func WorkerCommand(endpoint string, t Token, caHash string) string {
	return fmt.Sprintf("kubeadm join %s --token %s --discovery-token-ca-cert-hash %s", endpoint, t, caHash)
}

// ControlPlaneCommand is the join command for a control-plane node.
func ControlPlaneCommand(endpoint string, t Token, caHash, certKey string) string {
	return fmt.Sprintf("%s --control-plane --certificate-key %s", WorkerCommand(endpoint, t, caHash), certKey)
}
