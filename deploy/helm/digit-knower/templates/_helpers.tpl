{{/* The chart's name, and the release's full name (at most 63 characters: a DNS label). */}}
{{- define "digit-knower.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "digit-knower.fullname" -}}
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

{{/* A component's object name: <fullname>-<component>. Call with (dict "root" $ "component" "api"). */}}
{{- define "digit-knower.componentName" -}}
{{- printf "%s-%s" (include "digit-knower.fullname" .root | trunc 50 | trimSuffix "-") .component }}
{{- end }}

{{/* The labels every object carries; call with (dict "root" $ "component" "api"). */}}
{{- define "digit-knower.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "digit-knower.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: digit-knower
{{- end }}

{{/* The labels that select a component's pods: never change them, Deployments cannot. */}}
{{- define "digit-knower.selectorLabels" -}}
app.kubernetes.io/name: {{ include "digit-knower.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* An image reference: repository@digest, or repository:tag (default: the chart's appVersion). */}}
{{- define "digit-knower.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{- define "digit-knower.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "digit-knower.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
checkov findings that do not apply, each with its reason; put into a workload's annotations.
Call with (dict "probes" true) for workloads without probes (Jobs).
*/}}
{{- define "digit-knower.checkovSkips" -}}
checkov.io/skip1: "CKV_K8S_43=Images are pinned by version tag (the chart's appVersion); set image.digest to pin by digest."
checkov.io/skip2: "CKV_K8S_15=Version tags are immutable, so IfNotPresent pulls the same image as Always."
checkov.io/skip3: "CKV_K8S_35=DATABASE_URL is read from the environment by the app; it comes from a Secret by reference, never inline."
{{- if .probes }}
checkov.io/skip4: "CKV_K8S_8=A run-to-completion job serves nothing: no liveness probe."
checkov.io/skip5: "CKV_K8S_9=A run-to-completion job serves nothing: no readiness probe."
{{- end }}
{{- end }}

{{/* The environment every Digit Knower container shares: the database, the state folder, metrics. */}}
{{- define "digit-knower.env" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.existingSecretKey }}
- name: DIGIT_KNOWER_STATE_DIR
  value: /var/lib/digit-knower
- name: DIGIT_KNOWER_METRICS
  value: {{ .Values.metrics.enabled | quote }}
{{- if .Values.modelRegistry.enabled }}
- name: DIGIT_KNOWER_MODEL_REGISTRY
  value: {{ .Values.modelRegistry.mountPath }}
{{- end }}
{{- end }}

{{/*
The API key, for the api and web pods, from a Secret made beforehand. Both listen on 0.0.0.0 in
the pod: `api` refuses to start there with no key, and `serve` warns. With no Secret the install
fails here, unless apiKey.insecureNoKey says so for a demo.
*/}}
{{- define "digit-knower.apiKeyEnv" -}}
{{- if .Values.apiKey.existingSecret -}}
- name: DIGIT_KNOWER_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.apiKey.existingSecret }}
      key: {{ .Values.apiKey.existingSecretKey }}
{{- else if not .Values.apiKey.insecureNoKey }}
{{- fail "apiKey.existingSecret is empty: name a Secret that holds the API key (kubectl create secret generic digit-knower-api-key --from-literal=api-key=$(openssl rand -hex 32)), or set apiKey.insecureNoKey=true for a demo open to anyone who reaches it" }}
{{- end }}
{{- end }}

{{/* The writable folders of a container whose root filesystem is read-only. */}}
{{- define "digit-knower.volumeMounts" -}}
- name: state
  mountPath: /var/lib/digit-knower
- name: tmp
  mountPath: /tmp
{{- if .Values.modelRegistry.enabled }}
- name: model-registry
  mountPath: {{ .Values.modelRegistry.mountPath }}
{{- end }}
{{- end }}

{{/* The volumes behind them; call with (dict "root" $ "stateSizeLimit" "1Gi" "outboxClaim" ...). */}}
{{- define "digit-knower.volumes" -}}
# Per-pod local storage: the outbox (SQLite in WAL mode) must never be on a shared network volume.
{{- with .outboxClaim }}{{ if .enabled }}
- name: state
  ephemeral:
    volumeClaimTemplate:
      spec:
        accessModes: ["ReadWriteOnce"]
        {{- with .storageClassName }}
        storageClassName: {{ . | quote }}
        {{- end }}
        resources:
          requests:
            storage: {{ .size }}
{{- end }}{{ end }}
{{- if not (and .outboxClaim .outboxClaim.enabled) }}
- name: state
  emptyDir:
    sizeLimit: {{ .stateSizeLimit }}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if .root.Values.modelRegistry.enabled }}
- name: model-registry
  persistentVolumeClaim:
    claimName: {{ default (include "digit-knower.componentName" (dict "root" .root "component" "model-registry")) .root.Values.modelRegistry.existingClaim }}
{{- end }}
{{- end }}
