{{/* Names, labels and the checks that reject bad combinations of values. */}}

{{- define "otelbot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "otelbot.fullname" -}}
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

{{- define "otelbot.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "otelbot.labels" -}}
helm.sh/chart: {{ include "otelbot.chart" . }}
{{ include "otelbot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "otelbot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "otelbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: bot
{{- end }}

{{- define "otelbot.redis.fullname" -}}
{{- printf "%s-redis" (include "otelbot.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "otelbot.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "otelbot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "otelbot.redis.labels" -}}
helm.sh/chart: {{ include "otelbot.chart" . }}
{{ include "otelbot.redis.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "otelbot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "otelbot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Namespace the monitoring stack runs in; the namespaced Role is created there. */}}
{{- define "otelbot.monitoredNamespace" -}}
{{- $cluster := .Values.config.cluster | default dict }}
{{- $cluster.namespace | default .Release.Namespace }}
{{- end }}

{{- define "otelbot.slackSecretName" -}}
{{- .Values.slack.existingSecret | default (printf "%s-slack" (include "otelbot.fullname" .)) }}
{{- end }}

{{- define "otelbot.redisSecretName" -}}
{{- .Values.redis.existingSecret | default (printf "%s-redis-url" (include "otelbot.fullname" .)) }}
{{- end }}

{{/* "true" when the bot has a Redis to share state through. */}}
{{- define "otelbot.redisEnabled" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret .Values.redis.bundled.enabled }}true{{ end }}
{{- end }}

{{/* "true" when a Service is rendered: HTTP mode, or a ServiceMonitor that needs one. */}}
{{- define "otelbot.serviceEnabled" -}}
{{- if or (eq .Values.slack.mode "http") .Values.serviceMonitor.enabled }}true{{ end }}
{{- end }}

{{/*
Reject combinations of values that the schema cannot express. Every message names the values
to change.
*/}}
{{- define "otelbot.validate" -}}
{{- $replicas := int .Values.replicaCount }}
{{- if gt $replicas 1 }}
{{- if ne .Values.slack.mode "http" }}
{{- fail (printf "replicaCount=%d needs slack.mode=http and Redis: in Socket Mode only one replica may run, because replicas would not share recheck context and run locks. Set replicaCount=1, or set slack.mode=http and one of redis.url, redis.existingSecret or redis.bundled.enabled." $replicas) }}
{{- end }}
{{- if not (include "otelbot.redisEnabled" .) }}
{{- fail (printf "replicaCount=%d needs Redis so that replicas share recheck context and run locks: set one of redis.url, redis.existingSecret or redis.bundled.enabled, or set replicaCount=1." $replicas) }}
{{- end }}
{{- end }}
{{- $redisSources := 0 }}
{{- range (list .Values.redis.url .Values.redis.existingSecret .Values.redis.bundled.enabled) }}
{{- if . }}{{ $redisSources = add1 $redisSources }}{{ end }}
{{- end }}
{{- if gt $redisSources 1 }}
{{- fail "set only one of redis.url, redis.existingSecret and redis.bundled.enabled" }}
{{- end }}
{{- if and .Values.ingress.enabled (ne .Values.slack.mode "http") }}
{{- fail "ingress.enabled=true needs slack.mode=http: in Socket Mode Slack sends nothing to the bot over HTTP. Set slack.mode=http or ingress.enabled=false." }}
{{- end }}
{{- if not .Values.slack.existingSecret }}
{{- if not .Values.slack.botToken }}
{{- fail "slack.botToken is required (xoxb-...), or set slack.existingSecret to a Secret that holds the tokens" }}
{{- end }}
{{- if and (eq .Values.slack.mode "socket") (not .Values.slack.appToken) }}
{{- fail "slack.appToken is required in Socket Mode (xapp-..., an app-level token with connections:write), or set slack.existingSecret to a Secret that holds the tokens" }}
{{- end }}
{{- if and (eq .Values.slack.mode "http") (not .Values.slack.signingSecret) }}
{{- fail "slack.signingSecret is required in HTTP mode, or set slack.existingSecret to a Secret that holds the tokens" }}
{{- end }}
{{- end }}
{{- range $index, $rule := .Values.rbac.extraRules }}
{{- range $verb := $rule.verbs }}
{{- if not (has $verb (list "get" "list" "watch")) }}
{{- fail (printf "rbac.extraRules[%d] has verb %q: otelbot is read-only, so only get, list and watch are accepted" $index $verb) }}
{{- end }}
{{- end }}
{{- range $resource := $rule.resources }}
{{- if or (eq $resource "*") (eq $resource "secrets") (hasPrefix "secrets/" $resource) }}
{{- fail (printf "rbac.extraRules[%d] names resource %q: otelbot never reads Secrets, so Secrets and wildcards are rejected" $index $resource) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* RBAC rules: the ones generated from the built-in playbooks, then rbac.extraRules. */}}
{{- define "otelbot.rbacRules" -}}
{{- $generated := (.Files.Get "files/rbac-rules.yaml" | fromYaml).rules }}
{{- toYaml (concat $generated .Values.rbac.extraRules) }}
{{- end }}
