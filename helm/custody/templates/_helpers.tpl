{{/* Names, labels and the pieces every pod shares. */}}

{{- define "custody.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "custody.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The pool names in a fixed order (a map would be iterated alphabetically, which is the same, but say it). */}}
{{- define "custody.poolNames" -}}
orchestration media-io transcode
{{- end -}}

{{- define "custody.selectorLabels" -}}
app.kubernetes.io/name: {{ include "custody.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "custody.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "custody.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: custody
{{- end -}}

{{/* Labels of one component; call with (dict "root" $ "component" "transcode"). */}}
{{- define "custody.componentLabels" -}}
{{ include "custody.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "custody.componentSelectorLabels" -}}
{{ include "custody.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "custody.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "custody.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "custody.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "custody.controllerName" -}}
{{- printf "%s-controller" (include "custody.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "custody.leaseName" -}}
{{- default (include "custody.controllerName" .) .Values.controller.leaseName -}}
{{- end -}}

{{- define "custody.poolDeploymentName" -}}
{{- printf "%s-%s" (include "custody.fullname" .root) .pool | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "custody.taskQueue" -}}
{{- printf "%s-%s" .root.Values.temporal.taskQueuePrefix .pool -}}
{{- end -}}

{{/* A pool's shutdown grace: its own override or the global one. */}}
{{- define "custody.shutdownGrace" -}}
{{- $override := .poolValues.shutdownGraceSeconds -}}
{{- if kindIs "invalid" $override -}}
{{- .root.Values.config.shutdownGraceSeconds -}}
{{- else -}}
{{- $override -}}
{{- end -}}
{{- end -}}

{{/* True (non-empty) when HPA or KEDA scales this pool. */}}
{{- define "custody.autoscaled" -}}
{{- if and (ne .root.Values.autoscaling.engine "none") .poolValues.autoscaling.enabled -}}true{{- end -}}
{{- end -}}

{{/* True (non-empty) when the capacity controller owns this pool's replicas. */}}
{{- define "custody.controllerManaged" -}}
{{- if and .root.Values.controller.enabled (has .pool .root.Values.controller.managedPools) -}}true{{- end -}}
{{- end -}}

{{/* Where the Temporal TLS files are mounted. */}}
{{- define "custody.temporalTlsDir" -}}/etc/custody/temporal-tls{{- end -}}

{{/*
Temporal credentials per component, called with (dict "root" $ "identity" <storage identity>): the API has its
own (temporal.identities.api), every worker pod and the controller the workers' (temporal.identities.workers); ''
falls back to the shared Secret.
*/}}
{{- define "custody.temporalIdentity" -}}
{{- $identities := .root.Values.temporal.identities | default dict -}}
{{- toJson (index $identities (ternary "api" "workers" (eq .identity "api")) | default dict) -}}
{{- end -}}
{{- define "custody.temporalApiKeySecret" -}}
{{- $own := include "custody.temporalIdentity" . | fromJson -}}
{{- $own.apiKeySecret | default .root.Values.temporal.apiKey.existingSecret -}}
{{- end -}}
{{- define "custody.temporalTlsSecret" -}}
{{- $own := include "custody.temporalIdentity" . | fromJson -}}
{{- $own.tlsSecret | default .root.Values.temporal.tls.existingSecret -}}
{{- end -}}
{{- define "custody.payloadKeysDir" -}}/etc/custody/payload-keys{{- end -}}
{{- define "custody.policyDir" -}}/etc/custody/policies{{- end -}}
{{- define "custody.capacityDir" -}}/etc/custody/capacity{{- end -}}
{{- define "custody.assertionPublicKeysDir" -}}/etc/custody/assertion-keys{{- end -}}
{{- define "custody.assertionSigningKeyDir" -}}/etc/custody/assertion-signing-key{{- end -}}
{{- define "custody.pseudonymKeyDir" -}}/etc/custody/pseudonym-key{{- end -}}
{{- define "custody.apiTlsDir" -}}/etc/custody/api-tls{{- end -}}
{{- define "custody.rolesDir" -}}/etc/custody/roles{{- end -}}

{{- define "custody.apiName" -}}
{{- printf "%s-api" (include "custody.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Checks that cannot be expressed in values.schema.json; each says what to change. */}}
{{- define "custody.validate" -}}
{{- $buckets := list -}}
{{- range $store, $bucket := .Values.s3.buckets -}}
{{- if has $bucket $buckets -}}
{{- fail (printf "s3.buckets: %q is used for more than one store; evidence locks and deletion rules differ per store, so give each of the five stores its own bucket" $bucket) -}}
{{- end -}}
{{- $buckets = append $buckets $bucket -}}
{{- end -}}
{{- if not .Values.s3.existingSecret -}}
{{- fail "s3.existingSecret is empty: create a Secret with the S3 credentials (kubectl create secret generic custody-s3 --from-literal=AWS_ACCESS_KEY_ID=... --from-literal=AWS_SECRET_ACCESS_KEY=...) and set s3.existingSecret to its name" -}}
{{- end -}}
{{- if and (not .Values.temporal.tls.enabled) (not .Values.temporal.allowInsecure) -}}
{{- fail "temporal.tls.enabled is false: every worker and the API would talk plain gRPC to Temporal. Keep TLS on (temporal.tls.existingSecret with the client certificate and CA), or set temporal.allowInsecure=true as well — for a dev cluster only" -}}
{{- end -}}
{{- $apiTls := include "custody.temporalTlsSecret" (dict "root" . "identity" "api") -}}
{{- $workersTls := include "custody.temporalTlsSecret" (dict "root" . "identity" "workers") -}}
{{- if ne (empty $apiTls) (empty $workersTls) -}}
{{- fail "temporal.identities: the API and the workers both need a client certificate Secret (identities.api.tlsSecret and identities.workers.tlsSecret) or a shared one (temporal.tls.existingSecret); one without the other leaves pods pointing at certificate files that are not mounted" -}}
{{- end -}}
{{- $apiToken := include "custody.temporalApiKeySecret" (dict "root" . "identity" "api") -}}
{{- $workersToken := include "custody.temporalApiKeySecret" (dict "root" . "identity" "workers") -}}
{{- if ne (empty $apiToken) (empty $workersToken) -}}
{{- fail "temporal.identities: the API and the workers both need a token Secret (identities.api.apiKeySecret and identities.workers.apiKeySecret) or a shared one (temporal.apiKey.existingSecret)" -}}
{{- end -}}
{{- if and (eq .Values.temporal.tls.clientCertKey "") (ne .Values.temporal.tls.clientKeyKey "") -}}
{{- fail "temporal.tls: clientCertKey and clientKeyKey must be set together (mutual TLS needs both) or both be ''" -}}
{{- end -}}
{{- if and (ne .Values.temporal.tls.clientCertKey "") (eq .Values.temporal.tls.clientKeyKey "") -}}
{{- fail "temporal.tls: clientCertKey and clientKeyKey must be set together (mutual TLS needs both) or both be ''" -}}
{{- end -}}
{{- $root := . -}}
{{- range $pool := splitList " " (include "custody.poolNames" .) -}}
{{- $poolValues := index $root.Values.pools $pool -}}
{{- $ctx := dict "root" $root "pool" $pool "poolValues" $poolValues -}}
{{- if and (include "custody.autoscaled" $ctx) (include "custody.controllerManaged" $ctx) -}}
{{- fail (printf "pools.%s is scaled both by autoscaling.engine=%s and by the capacity controller; set pools.%s.autoscaling.enabled=false or remove %s from controller.managedPools" $pool $root.Values.autoscaling.engine $pool $pool) -}}
{{- end -}}
{{- if and (eq $root.Values.autoscaling.engine "hpa") $poolValues.autoscaling.enabled (lt (int $poolValues.autoscaling.minReplicas) 1) -}}
{{- fail (printf "pools.%s.autoscaling.minReplicas is 0, but a HorizontalPodAutoscaler cannot scale to zero; use autoscaling.engine=keda or set minReplicas >= 1" $pool) -}}
{{- end -}}
{{- if gt (int $poolValues.autoscaling.minReplicas) (int $poolValues.autoscaling.maxReplicas) -}}
{{- fail (printf "pools.%s.autoscaling.minReplicas (%v) is above maxReplicas (%v)" $pool $poolValues.autoscaling.minReplicas $poolValues.autoscaling.maxReplicas) -}}
{{- end -}}
{{- end -}}
{{- range $pool := .Values.controller.managedPools -}}
{{- if not (index $root.Values.pools $pool).enabled -}}
{{- fail (printf "controller.managedPools names %s, but pools.%s.enabled is false; remove it from the list" $pool $pool) -}}
{{- end -}}
{{- end -}}
{{- if not .Values.assertionKeys.publicKeys.existingSecret -}}
{{- fail "assertionKeys.publicKeys.existingSecret is empty: the workers accept a person's action only when a key of the custody API verifies it. Create the Secret with the API's public JWKS (kubectl create secret generic custody-assertion-public-keys --from-file=public.json=public.json; README.md § Secrets) and set assertionKeys.publicKeys.existingSecret to its name" -}}
{{- end -}}
{{- /* DEV_MODE lets the demo pack (seconds of retention) be applied to real recordings: no chart value may turn it on. */ -}}
{{- $envMaps := list .Values.config.extraEnv .Values.controller.extraEnv .Values.api.extraEnv -}}
{{- range $pool := splitList " " (include "custody.poolNames" .) -}}
{{- $envMaps = append $envMaps (index $root.Values.pools $pool).extraEnv -}}
{{- end -}}
{{- range $envMaps -}}
{{- if hasKey . "CUSTODY_DEV_MODE" -}}
{{- fail "CUSTODY_DEV_MODE is set in an extraEnv: dev mode lets the demo rule pack (seconds of retention) be applied to recordings and is never for a deployment; the chart keeps it false. Remove it" -}}
{{- end -}}
{{- end -}}
{{- if .Values.api.enabled -}}
{{- if not .Values.api.oidc.issuer -}}
{{- fail "api.oidc.issuer is empty: the API verifies every access token against your OpenID Provider. Set api.oidc.issuer to its issuer URL, exactly as in its tokens' iss claim (e.g. https://keycloak.example.org/realms/police)" -}}
{{- end -}}
{{- if and (not .Values.api.insecureHttp) (not .Values.api.tls.existingSecret) -}}
{{- fail "api.tls.existingSecret is empty: the API serves HTTPS only. Create a kubernetes.io/tls Secret (kubectl create secret tls custody-api-tls --cert=api.crt --key=api.key) and set api.tls.existingSecret to its name" -}}
{{- end -}}
{{- if not .Values.api.signingKey.existingSecret -}}
{{- fail "api.signingKey.existingSecret is empty: the API signs every person's action with its own Ed25519 key. Create the Secret with the private JWK (kubectl create secret generic custody-assertion-signing-key --from-file=signing.json=signing.json; README.md § Secrets) and set api.signingKey.existingSecret to its name" -}}
{{- end -}}
{{- if not .Values.api.pseudonymKey.existingSecret -}}
{{- fail "api.pseudonymKey.existingSecret is empty: the access log names people by keyed pseudonyms. Create the Secret (openssl rand -hex 32 > pseudonym.key; kubectl create secret generic custody-api-pseudonym-key --from-file=pseudonym.key=pseudonym.key) and set api.pseudonymKey.existingSecret to its name" -}}
{{- end -}}
{{- end -}}
{{- if .Values.networkPolicy.enabled -}}
{{- range $destination := list "temporal" "s3" "dns" -}}
{{- $peers := index $root.Values.networkPolicy $destination -}}
{{- if and (empty $peers.cidrs) (empty $peers.selectors) -}}
{{- fail (printf "networkPolicy.%s has neither cidrs nor selectors; an empty peer list would allow egress to everything. Set networkPolicy.%s.cidrs (e.g. [10.20.0.0/24]) or .selectors" $destination $destination) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.controller.enabled (empty .Values.networkPolicy.kubernetesApi.cidrs) (empty .Values.networkPolicy.kubernetesApi.selectors) -}}
{{- fail "networkPolicy.kubernetesApi has neither cidrs nor selectors, but the controller must reach the Kubernetes API; set networkPolicy.kubernetesApi.cidrs to the API server addresses (kubectl get endpoints kubernetes -n default)" -}}
{{- end -}}
{{- if .Values.api.enabled -}}
{{- if and (empty .Values.networkPolicy.oidc.cidrs) (empty .Values.networkPolicy.oidc.selectors) -}}
{{- fail "networkPolicy.oidc has neither cidrs nor selectors, but the API must reach the OpenID Provider (api.oidc.issuer) for its keys; set networkPolicy.oidc.cidrs to the provider's addresses (e.g. [10.40.0.5/32]) or .selectors for an in-cluster Keycloak" -}}
{{- end -}}
{{- if and (empty .Values.api.ingressFrom.cidrs) (empty .Values.api.ingressFrom.selectors) -}}
{{- fail "api.ingressFrom has neither cidrs nor selectors; an empty peer list would let anyone reach the API. Set api.ingressFrom.selectors (e.g. the ingress controller's namespace) or .cidrs (cidrs: [0.0.0.0/0] to allow anyone on purpose)" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The environment every container shares: config from the ConfigMap, secrets by reference. Called with
(dict "root" $ "identity" <storage identity>): the S3 credentials are that identity's Secret (s3.identities), or the
shared s3.existingSecret where none is named.
*/}}
{{- define "custody.commonEnv" -}}
{{- $s3 := .root.Values.s3 -}}
{{- $secret := (index ($s3.identities | default dict) .identity) | default $s3.existingSecret -}}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $s3.secretAccessKeyKey }}
{{- $temporalApiKey := (include "custody.temporalApiKeySecret" .) }}
{{- if $temporalApiKey }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $temporalApiKey }}
      key: {{ .root.Values.temporal.apiKey.key }}
{{- end }}
- name: CUSTODY_PAYLOAD_KEYS_FILE
  value: {{ printf "%s/%s" (include "custody.payloadKeysDir" .root) .root.Values.payloadEncryption.key | quote }}
# Anything else that asks the OS for a temp directory (os.tmpdir()) writes to the same emptyDir.
- name: TMPDIR
  value: {{ .root.Values.config.tmpDir | quote }}
{{- end -}}

{{/* What only the worker pods (pools and controller) get: the public keys the workflows verify actions with. */}}
{{- define "custody.workerEnv" -}}
- name: CUSTODY_ASSERTION_PUBLIC_KEYS_FILE
  value: {{ printf "%s/%s" (include "custody.assertionPublicKeysDir" .) .Values.assertionKeys.publicKeys.key | quote }}
{{- end -}}

{{- define "custody.workerVolumeMounts" -}}
- name: assertion-public-keys
  mountPath: {{ include "custody.assertionPublicKeysDir" . }}
  readOnly: true
{{- end -}}

{{- define "custody.workerVolumes" -}}
- name: assertion-public-keys
  secret:
    secretName: {{ .Values.assertionKeys.publicKeys.existingSecret }}
    # 292 = 0444: public keys, nothing secret in them; the mount is still read-only.
    defaultMode: 292
    items:
      - { key: {{ .Values.assertionKeys.publicKeys.key }}, path: {{ .Values.assertionKeys.publicKeys.key }} }
{{- end -}}

{{/* Call with (dict "root" $ "identity" <storage identity>). */}}
{{- define "custody.volumeMounts" -}}
- name: tmp
  mountPath: {{ .root.Values.config.tmpDir }}
- name: policies
  mountPath: {{ include "custody.policyDir" .root }}
  readOnly: true
{{- if include "custody.temporalTlsSecret" . }}
- name: temporal-tls
  mountPath: {{ include "custody.temporalTlsDir" .root }}
  readOnly: true
{{- end }}
- name: payload-keys
  mountPath: {{ include "custody.payloadKeysDir" .root }}
  readOnly: true
{{- end -}}

{{/* Call with (dict "root" $ "tmpSizeLimit" "1Gi" "identity" <storage identity>). */}}
{{- define "custody.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .tmpSizeLimit }}
- name: policies
  configMap:
    name: {{ include "custody.fullname" .root }}-policies
- name: payload-keys
  secret:
    secretName: {{ .root.Values.payloadEncryption.existingSecret }}
    # 256 = 0400, owner-read only (decimal: YAML 1.1 and 1.2 read a leading 0 differently); the pod's fsGroup adds
    # group read for the service's own group, which the key loader allows (never others).
    defaultMode: 256
    items:
      - { key: {{ .root.Values.payloadEncryption.key }}, path: {{ .root.Values.payloadEncryption.key }} }
{{- $temporalTlsSecret := include "custody.temporalTlsSecret" . }}
{{- with .root.Values.temporal.tls }}
{{- if $temporalTlsSecret }}
- name: temporal-tls
  secret:
    secretName: {{ $temporalTlsSecret }}
    defaultMode: 0440
    items:
      {{- if .clientCertKey }}
      - { key: {{ .clientCertKey }}, path: client.crt }
      - { key: {{ .clientKeyKey }}, path: client.key }
      {{- end }}
      {{- if .serverCaKey }}
      - { key: {{ .serverCaKey }}, path: ca.crt }
      {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "custody.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/policies: {{ include (print .Template.BasePath "/policies-configmap.yaml") . | sha256sum }}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.config.httpPort | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "custody.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: http }
  {{- toYaml .Values.probes.startup | nindent 2 }}
livenessProbe:
  httpGet: { path: /healthz, port: http }
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: { path: /readyz, port: http }
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end -}}
