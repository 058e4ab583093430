package main

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	hacpv1 "hacp.dev/hacp/api/v1alpha1"
)

func hacpSchemeForCLI() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = hacpv1.AddToScheme(s)
	return s
}
