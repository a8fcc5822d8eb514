//go:build tools

// Package tools pins the Kubernetes commands the integration tests run; scripts/install-kube-tools.sh
// builds them with `go build` from this module so every dependency comes from go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
