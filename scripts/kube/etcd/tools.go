//go:build tools

// Package tools pins the etcd server (its main package is the module root, server/main.go) that the
// Kubernetes test harness runs; scripts/install-kube-tools.sh builds it with `go build` from this module.
// It is a module of its own because etcd v3.6.16 needs newer gRPC/OpenTelemetry than Kubernetes v1.35.8
// pins, and one module would drag kube-apiserver's dependencies forward.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
