{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "switchyard.fullname" -}}
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

{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "switchyard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "switchyard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret the pods read their env (admin token, webhook secrets) from. */}}
{{- define "switchyard.secretName" -}}
{{- default (include "switchyard.fullname" .) .Values.secret.existingSecret }}
{{- end }}

{{/*
The pod's termination grace: derived from shutdownGraceSeconds, or the
explicit value, which must leave time after the drain to settle and exit.
*/}}
{{- define "switchyard.terminationGrace" -}}
{{- $grace := int .Values.shutdownGraceSeconds }}
{{- if le $grace 0 }}
{{- fail "shutdownGraceSeconds must be a positive number of seconds" }}
{{- end }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $grace 15 }}
{{- else }}
{{- $t := int .Values.terminationGracePeriodSeconds }}
{{- if le $t $grace }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than shutdownGraceSeconds (%d): the kubelet kills the pod when it runs out, in the middle of the drain" $t $grace) }}
{{- end }}
{{- $t }}
{{- end }}
{{- end }}

{{/*
The Switchyard config: .Values.config plus the fields the chart owns. Built on
a deep copy, so .Values is never modified (the template is rendered twice:
for the ConfigMap and for its checksum).
*/}}
{{- define "switchyard.config" -}}
{{- $cfg := deepCopy (default dict .Values.config) }}
{{- if hasKey $cfg "shutdown_grace" }}
{{- fail "set shutdownGraceSeconds, not config.shutdown_grace: the chart derives the pod's termination grace from it" }}
{{- end }}
{{- $nats := default dict (get $cfg "nats") }}
{{- range $k := list "url" "creds_file" "tls" "embedded" }}
{{- if hasKey $nats $k }}
{{- fail (printf "config.nats.%s is set by the chart: use the nats.* values (the chart needs an external NATS cluster, never the embedded server)" $k) }}
{{- end }}
{{- end }}
{{- $_ := set $nats "url" (required "nats.url is required: the NATS cluster's client URL(s)" .Values.nats.url) }}
{{- if .Values.nats.credsSecret.name }}
{{- $_ := set $nats "creds_file" (printf "/etc/nats-creds/%s" .Values.nats.credsSecret.key) }}
{{- end }}
{{- with .Values.nats.tlsSecret }}
{{- if .name }}
{{- $tls := dict "ca_file" (printf "/etc/nats-tls/%s" .caKey) }}
{{- if or .certKey .keyKey }}
{{- if not (and .certKey .keyKey) }}
{{- fail "nats.tlsSecret: set both certKey and keyKey for a client certificate, or neither" }}
{{- end }}
{{- $_ := set $tls "cert_file" (printf "/etc/nats-tls/%s" .certKey) }}
{{- $_ := set $tls "key_file" (printf "/etc/nats-tls/%s" .keyKey) }}
{{- end }}
{{- $_ := set $nats "tls" $tls }}
{{- end }}
{{- end }}
{{- $_ := set $cfg "nats" $nats }}
{{- $admin := default dict (get $cfg "admin") }}
{{- range $k := list "listen" "token" "insecure_no_auth" }}
{{- if hasKey $admin $k }}
{{- fail (printf "config.admin.%s is set by the chart (admin.port, secret.adminToken)" $k) }}
{{- end }}
{{- end }}
{{- $_ := set $admin "listen" (printf ":%d" (int .Values.admin.port)) }}
{{- $_ := set $admin "token" "${SWITCHYARD_ADMIN_TOKEN}" }}
{{- $_ := set $cfg "admin" $admin }}
{{- $_ := set $cfg "shutdown_grace" (printf "%ds" (int .Values.shutdownGraceSeconds)) }}
{{- toYaml $cfg }}
{{- end }}
