{{/*
Names and labels keep the svc-lb-mux chart's scheme (name from nameOverride, default
"svc-mux"; fullname <release>-svc-mux): a Deployment's selector is immutable, so these are
what let `helm upgrade` of an existing svc-lb-mux release replace it in place.
*/}}
{{- define "svcmux.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "svcmux.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "svcmux.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "svcmux.labels" -}}
helm.sh/chart: {{ include "svcmux.chart" . }}
{{ include "svcmux.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: svcmux
{{- end }}

{{/* The agent's objects also say which component they are; the mux does not. */}}
{{- define "svcmux.agentLabels" -}}
{{ include "svcmux.labels" . }}
app.kubernetes.io/component: agent
{{- end }}

{{- define "svcmux.selectorLabels" -}}
app.kubernetes.io/name: {{ include "svcmux.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "svcmux.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "svcmux.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Python controller's image: a values file copied from its chart still names it. */}}
{{- define "svcmux.pythonImage" -}}ghcr.io/nowakeai/svc-lb-mux{{- end }}
{{- define "svcmux.defaultImage" -}}ghcr.io/nowakeai/svcmux-agent{{- end }}

{{- define "svcmux.image" -}}
{{- $repo := .Values.image.repository }}
{{- if eq $repo (include "svcmux.pythonImage" .) }}
{{- $repo = include "svcmux.defaultImage" . }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The port of a host:port bind address; "0" (disabled) stays "0". */}}
{{- define "svcmux.port" -}}
{{- regexReplaceAll "^.*:" (toString .) "" }}
{{- end }}
{{- define "svcmux.metricsPort" -}}{{ include "svcmux.port" .Values.agent.metricsBindAddress }}{{- end }}
{{- define "svcmux.healthPort" -}}{{ include "svcmux.port" .Values.agent.healthProbeBindAddress }}{{- end }}

{{/* The value of a plain (value:, not valueFrom:) entry of .Values.env, or "". */}}
{{- define "svcmux.envValue" -}}
{{- $want := .name }}
{{- range .env }}
{{- if and (eq (toString .name) $want) (hasKey . "value") }}{{ toString .value }}{{ end }}
{{- end }}
{{- end }}

{{/*
Where a class without .<namespace> points: agent.defaultMuxNamespace, else the Python
controller's DEFAULT_MUX_NAMESPACE from env (so its values file keeps its meaning), else the
release namespace (where the chart's mux lives).
*/}}
{{- define "svcmux.defaultMuxNamespace" -}}
{{- $fromEnv := include "svcmux.envValue" (dict "name" "DEFAULT_MUX_NAMESPACE" "env" .Values.env) }}
{{- .Values.agent.defaultMuxNamespace | default $fromEnv | default .Release.Namespace }}
{{- end }}

{{/* Dry-run when agent.dryRun or the Python controller's DRYRUN_MODE (true/1/yes/on) asks. */}}
{{- define "svcmux.dryRun" -}}
{{- $fromEnv := include "svcmux.envValue" (dict "name" "DRYRUN_MODE" "env" .Values.env) | lower }}
{{- or .Values.agent.dryRun (has $fromEnv (list "true" "1" "yes" "on")) }}
{{- end }}

{{/* The loadBalancerClass a channel of the default mux uses. */}}
{{- define "svcmux.channelClass" -}}
{{- $class := printf "%s/%s" .Values.api.prefix .Values.defaultLoadBalancer.name }}
{{- if ne .Release.Namespace (include "svcmux.defaultMuxNamespace" .) }}
{{- $class = printf "%s.%s" $class .Release.Namespace }}
{{- end }}
{{- $class }}
{{- end }}

{{/*
Paths of the set leaves under a legacy value, ";"-separated: empty strings, maps and lists
are not "set" (they are the Python chart's own defaults); booleans and numbers are.
*/}}
{{- define "svcmux.setPaths" -}}
{{- $prefix := .prefix }}
{{- range $k, $v := .value }}
{{- $path := printf "%s.%s" $prefix $k }}
{{- if kindIs "map" $v }}
{{- include "svcmux.setPaths" (dict "prefix" $path "value" $v) }}
{{- else if or (kindIs "bool" $v) (kindIs "float64" $v) (kindIs "int" $v) (kindIs "int64" $v) (not (empty $v)) }}
{{- $path }};
{{- end }}
{{- end }}
{{- end }}

{{/* Every legacy value that is set, one path per list item. */}}
{{- define "svcmux.ignoredValues" -}}
{{- $paths := list }}
{{- range $key := list "service" "debugWeb" }}
{{- $v := index $.Values $key }}
{{- if kindIs "map" $v }}
{{- $paths = concat $paths (splitList ";" (include "svcmux.setPaths" (dict "prefix" $key "value" $v)) | compact) }}
{{- end }}
{{- end }}
{{- range $key := list "command" "args" }}
{{- if index $.Values $key }}
{{- $paths = append $paths $key }}
{{- end }}
{{- end }}
{{- if and (kindIs "map" .Values.api) .Values.api.legacyPrefixes }}
{{- $paths = append $paths "api.legacyPrefixes" }}
{{- end }}
{{- toJson $paths }}
{{- end }}
