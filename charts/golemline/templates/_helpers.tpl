{{/* Chart name. */}}
{{- define "golemline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name. */}}
{{- define "golemline.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "golemline.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "golemline.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The GolemPipeline's name. */}}
{{- define "golemline.pipelineName" -}}
{{- default (include "golemline.fullname" .) .Values.pipeline.name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Standard labels. */}}
{{- define "golemline.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "golemline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Image reference. */}}
{{- define "golemline.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "golemline.operatorImage" -}}
{{- printf "%s:%s" .Values.operator.image.repository (default .Chart.AppVersion .Values.operator.image.tag) -}}
{{- end -}}

{{/* Pod Security "restricted": pod level. */}}
{{- define "golemline.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod Security "restricted": container level. */}}
{{- define "golemline.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The InferenceService of KServe's Hugging Face LLM runtime that serves the Oracle (oracle.inferenceService). */}}
{{- define "golemline.oracleLlmName" -}}
{{- printf "%s-oracle-llm" (include "golemline.fullname" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* The Oracle's OpenAI-compatible endpoint: the rendered LLM InferenceService's (KServe serves the OpenAI API under
/openai/v1), else oracle.url; empty when the Oracle runs its own model. */}}
{{- define "golemline.oracleUrl" -}}
{{- if .Values.oracle.inferenceService.enabled -}}
{{- printf "http://%s-predictor.%s.svc.cluster.local/openai/v1" (include "golemline.oracleLlmName" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.oracle.url -}}
{{- end -}}
{{- end -}}
