// Package joinmaterial makes what `kubeadm join` reads, in kubeadm's exact formats: bootstrap
// token Secrets, the CA pin, the certificate key and the encrypted kubeadm-certs Secret, and
// decides when to rotate them, as a pure function of (current material, now, spec), so that a
// complete, unexpired join command exists at every instant.
package joinmaterial
