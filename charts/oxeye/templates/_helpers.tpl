{{/* Names, labels and images shared by every template. */}}

{{- define "oxeye.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains "oxeye" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-oxeye" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "oxeye.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object; pass (dict "ctx" $ "component" "server"). */}}
{{- define "oxeye.labels" -}}
helm.sh/chart: {{ include "oxeye.chart" .ctx }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: oxeye
{{ include "oxeye.selectorLabels" . }}
{{- end -}}

{{- define "oxeye.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "oxeye.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "oxeye.serverName" -}}{{ include "oxeye.fullname" . }}-server{{- end -}}
{{- define "oxeye.operatorName" -}}{{ include "oxeye.fullname" . }}-operator{{- end -}}
{{- define "oxeye.alertmanagerName" -}}{{ include "oxeye.fullname" . }}-alertmanager{{- end -}}
{{- define "oxeye.grafanaName" -}}{{ include "oxeye.fullname" . }}-grafana{{- end -}}
{{- define "oxeye.nodeExporterName" -}}{{ include "oxeye.fullname" . }}-node-exporter{{- end -}}
{{- define "oxeye.kubeStateMetricsName" -}}{{ include "oxeye.fullname" . }}-kube-state-metrics{{- end -}}
{{/* The Secret the operator writes and the server watches. */}}
{{- define "oxeye.serverConfigSecret" -}}{{ include "oxeye.fullname" . }}-server-config{{- end -}}
{{/* The operator's record of ConfigMap dashboards (<secretName>-grafana-state). */}}
{{- define "oxeye.grafanaStateConfigMap" -}}{{ include "oxeye.serverConfigSecret" . }}-grafana-state{{- end -}}

{{- define "oxeye.serverURL" -}}
http://{{ include "oxeye.serverName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.server.service.port }}
{{- end -}}
{{- define "oxeye.alertmanagerURL" -}}
http://{{ include "oxeye.alertmanagerName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.alertmanager.service.port }}
{{- end -}}
{{- define "oxeye.grafanaURL" -}}
http://{{ include "oxeye.grafanaName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.grafana.service.port }}
{{- end -}}

{{/* A ServiceMonitor for one of the chart's Services; pass (dict "ctx" $ "component" "x" "port" "http"). */}}
{{- define "oxeye.serviceMonitor" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "oxeye.fullname" .ctx }}-{{ .component }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "oxeye.labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "oxeye.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames: [{{ .ctx.Release.Namespace }}]
  endpoints:
    - port: {{ .port }}
      {{- with .path }}
      path: {{ . }}
      {{- end }}
{{- end -}}
