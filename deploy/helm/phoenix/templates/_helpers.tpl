{{/* Names, labels and the argument lists shared by the templates. */}}

{{- define "phoenix.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "phoenix.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The operator's image: operator.image where set, else the chart's image. */}}
{{- define "phoenix.operatorImage" -}}
{{- $repository := default .Values.image.repository .Values.operator.image.repository -}}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.operator.image.tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "phoenix.labels" -}}
app.kubernetes.io/name: phoenix
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: phoenix
{{- if .Values.managedBy }}
app.kubernetes.io/managed-by: {{ .Values.managedBy }}
{{- else }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "gateway"). */}}
{{- define "phoenix.selectorLabels" -}}
app.kubernetes.io/name: phoenix
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "phoenix.componentLabels" -}}
{{ include "phoenix.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "phoenix.controlPlaneUrl" -}}
{{- printf "http://%s-control-plane.%s.svc:%d" (include "phoenix.fullname" .) .Release.Namespace (int .Values.controlPlane.port) -}}
{{- end -}}

{{- define "phoenix.aggregatorServiceName" -}}
{{- printf "%s-aggregator" (include "phoenix.fullname" .) -}}
{{- end -}}

{{/*
Flags of the two-tier aggregation layout: the only lines that name them; adjust them here
if they change. Both tiers find the aggregator members the same way: the A records of the
headless Service (members named IP:PORT) or its EndpointSlices through the API (members
named by pod). An aggregator names itself the way that source lists it.
*/}}
{{- define "phoenix.aggregationMembersArgs" -}}
{{- $service := include "phoenix.aggregatorServiceName" . -}}
{{- if eq .Values.aggregation.memberDiscovery "kubernetes" -}}
- --aggregation-members-k8s
- {{ printf "%s/%s" .Release.Namespace $service }}
{{- else -}}
- --aggregation-members-dns
- {{ printf "%s.%s.svc.%s:%d" $service .Release.Namespace .Values.clusterDomain (int .Values.proxy.port) }}
{{- end }}
{{- end -}}

{{- define "phoenix.gatewayTierArgs" -}}
- --aggregation-tier
- gateway
{{ include "phoenix.aggregationMembersArgs" . }}
{{- end -}}

{{- define "phoenix.aggregatorTierArgs" -}}
- --aggregation-tier
- aggregator
{{ include "phoenix.aggregationMembersArgs" . }}
- --aggregation-self
{{- if eq .Values.aggregation.memberDiscovery "kubernetes" }}
- $(POD_NAME)
{{- else }}
- {{ printf "$(POD_IP):%d" (int .Values.proxy.port) }}
{{- end }}
{{- end -}}

{{/* Whether the proxies read member lists from the API (and need a token and the Role). */}}
{{- define "phoenix.membersFromApi" -}}
{{- if and (eq .Values.topology "aggregation") (eq .Values.aggregation.memberDiscovery "kubernetes") -}}
true
{{- end -}}
{{- end -}}

{{/*
`phoenix proxy` arguments every proxy container shares: listeners on all interfaces (the
kubelet probes and Prometheus scrape the pod IP), the data volume, the upstreams file.
*/}}
{{- define "phoenix.proxyCommonArgs" -}}
- proxy
- --listen
- {{ printf "0.0.0.0:%d" (int .Values.proxy.port) }}
- --otlp-grpc-listen
- {{ if eq (int .Values.proxy.otlpGrpcPort) 0 }}off{{ else }}{{ printf "0.0.0.0:%d" (int .Values.proxy.otlpGrpcPort) }}{{ end }}
- --data-dir
- /var/lib/phoenix
- --upstreams-file
- /etc/phoenix/upstreams/upstreams.yaml
- --max-queue-bytes
- {{ .Values.proxy.maxQueueBytes | quote }}
- --workers
- {{ .Values.proxy.workers | quote }}
- --shutdown-timeout
- {{ printf "%ds" (int .Values.proxy.shutdownTimeoutSeconds) }}
{{- end -}}

{{/* Where a sidecar or gateway proxy gets its pipeline: the control plane, or pipeline.config. */}}
{{- define "phoenix.pipelineArgs" -}}
{{- if .Values.controlPlane.enabled -}}
- --control-plane
- {{ include "phoenix.controlPlaneUrl" . }}
- --pipeline
- {{ .Values.pipeline.name }}
- --proxy-token-file
- /etc/phoenix/control-plane/proxy.token
{{- else -}}
- --config
- /etc/phoenix/pipeline/phoenix.yaml
{{- end }}
{{- end -}}

{{- define "phoenix.pipelineVolumeMounts" -}}
- name: upstreams
  mountPath: /etc/phoenix/upstreams
  readOnly: true
{{- if .Values.controlPlane.enabled }}
- name: control-plane-token
  mountPath: /etc/phoenix/control-plane
  readOnly: true
{{- else }}
- name: pipeline
  mountPath: /etc/phoenix/pipeline
  readOnly: true
{{- end }}
{{- end -}}

{{- define "phoenix.pipelineVolumes" -}}
- name: upstreams
  secret:
    secretName: {{ include "phoenix.fullname" . }}-upstreams
{{- if .Values.controlPlane.enabled }}
- name: control-plane-token
  secret:
    secretName: {{ .Values.controlPlane.auth.tokensSecret }}
    items:
      - key: proxy.token
        path: proxy.token
{{- else }}
- name: pipeline
  configMap:
    name: {{ include "phoenix.fullname" . }}-pipeline
{{- end }}
{{- end -}}

{{/* Container hardening: non-root, read-only root file system, no privileges. */}}
{{- define "phoenix.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "phoenix.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Ports, probes and resources of a proxy container. */}}
{{- define "phoenix.proxyContainerSpec" -}}
image: {{ include "phoenix.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
ports:
  - name: http
    containerPort: {{ .Values.proxy.port }}
    protocol: TCP
{{- if ne (int .Values.proxy.otlpGrpcPort) 0 }}
  - name: otlp-grpc
    containerPort: {{ .Values.proxy.otlpGrpcPort }}
    protocol: TCP
{{- end }}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 5
  failureThreshold: 2
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 30
resources:
  {{- toYaml .Values.proxy.resources | nindent 2 }}
securityContext:
  {{- include "phoenix.containerSecurityContext" . | nindent 2 }}
{{- end -}}

{{- define "phoenix.proxyPodScheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.proxy.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.proxy.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.proxy.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
