{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "task-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name alone when it already contains the chart name. */}}
{{- define "task-api.fullname" -}}
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

{{- define "task-api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name and instance only, because a Deployment's selector is immutable. */}}
{{- define "task-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "task-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "task-api.labels" -}}
helm.sh/chart: {{ include "task-api.chart" . }}
{{ include "task-api.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: api
app.kubernetes.io/part-of: watchpost
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "task-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "task-api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "task-api.image" -}}
{{- $tag := default .Chart.AppVersion .image.tag }}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* The Secret that holds the database URL: an existing one, or the chart's own. */}}
{{- define "task-api.databaseSecretName" -}}
{{- default (include "task-api.fullname" .) .Values.database.existingSecret }}
{{- end }}

{{- define "task-api.authSecretName" -}}
{{- default (include "task-api.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{/* Whether the pod reads DATABASE_URL from a Secret (otherwise: SQLite on an emptyDir). */}}
{{- define "task-api.databaseFromSecret" -}}
{{- if or .Values.database.url .Values.database.existingSecret }}true{{ end }}
{{- end }}

{{/* Whether a JWT key is configured, inline or from an existing Secret. */}}
{{- define "task-api.authConfigured" -}}
{{- if or .Values.auth.jwtSecret .Values.auth.jwtPublicKey .Values.auth.existingSecret }}true{{ end }}
{{- end }}

{{/*
Fails the render for configurations the API would refuse at start or that are unsafe:
production refuses to install without a JWT key and a database secret.
*/}}
{{- define "task-api.validate" -}}
{{- if and .Values.auth.required (not (include "task-api.authConfigured" .)) }}
{{- required "auth.required is true: set auth.existingSecret (a Secret with the JWT key), auth.jwtSecret or auth.jwtPublicKey" nil }}
{{- end }}
{{- if and (not .Values.database.embeddedSqlite) (not (include "task-api.databaseFromSecret" .)) }}
{{- required "database.embeddedSqlite is false: set database.existingSecret (a Secret with the PostgreSQL URL) or database.url" nil }}
{{- end }}
{{- if and .Values.auth.jwtSecret .Values.auth.jwtPublicKey }}
{{- fail "auth.jwtSecret (HS256) and auth.jwtPublicKey (RS256) are exclusive: set one" }}
{{- end }}
{{- if and .Values.agentSidecar.logs.enabled (not .Values.logFile.enabled) }}
{{- fail "agentSidecar.logs.enabled needs logFile.enabled: the sidecar tails the API's log file on the shared emptyDir" }}
{{- end }}
{{- end }}

{{/* Seconds the pod needs to stop cleanly: preStop, the API's drain delay and shutdown timeout, plus slack. */}}
{{- define "task-api.terminationGracePeriodSeconds" -}}
{{- add .Values.shutdown.preStopSleepSeconds .Values.shutdown.drainDelaySeconds .Values.shutdown.timeoutSeconds .Values.shutdown.slackSeconds }}
{{- end }}

{{/* The API container's env entries from Secrets (none for a development install). */}}
{{- define "task-api.secretEnv" -}}
{{- if include "task-api.databaseFromSecret" . }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "task-api.databaseSecretName" . }}
      key: {{ ternary .Values.database.existingSecretKey "database-url" (ne .Values.database.existingSecret "") }}
{{- end }}
{{- if include "task-api.authConfigured" . }}
{{- $rs256 := ternary (eq .Values.auth.existingSecretAlgorithm "rs256") (ne .Values.auth.jwtPublicKey "") (ne .Values.auth.existingSecret "") }}
- name: {{ ternary "AUTH_JWT_PUBLIC_KEY" "AUTH_JWT_SECRET" $rs256 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "task-api.authSecretName" . }}
      key: {{ ternary .Values.auth.existingSecretKey "jwt-key" (ne .Values.auth.existingSecret "") }}
{{- end }}
{{- with .Values.extraEnv }}
{{- toYaml . | nindent 0 }}
{{- end }}
{{- end }}
