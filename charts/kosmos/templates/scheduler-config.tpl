{{- /* config/scheduler-config.yaml for in-cluster kosmos-scheduler pods, as schedulerConfig() in src/cli/install/render.ts. */ -}}
{{- if .Values.modules.scheduler }}
{{- $cfg := .Files.Get "files/scheduler-config.yaml" | fromYaml }}
{{- $cc := $cfg.clientConnection | default dict }}
{{- $_ := set $cc "kubeconfig" "" }}
{{- $_ := set $cfg "clientConnection" $cc }}
{{- $_ := set $cfg "leaderElection" (dict "leaderElect" true "resourceNamespace" .Values.namespace "resourceName" "kosmos-scheduler") }}
{{- /* Only the kosmos-scheduler profile: the cluster's own scheduler keeps default-scheduler. */}}
{{- $profiles := list }}
{{- range $p := $cfg.profiles }}{{- if eq $p.schedulerName "kosmos-scheduler" }}{{- $profiles = append $profiles $p }}{{- end }}{{- end }}
{{- $_ := set $cfg "profiles" $profiles }}
{{- $first := index $cfg.extenders 0 }}
{{- $_ := set $first "urlPrefix" (printf "http://kosmos-extender.%s.svc:10262/" .Values.namespace) }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: kosmos-scheduler-config
  namespace: {{ .Values.namespace }}
  labels:
    app.kubernetes.io/name: kosmos-scheduler
    app.kubernetes.io/part-of: kosmos
    app.kubernetes.io/managed-by: {{ .Values.managedBy }}
data:
  scheduler-config.yaml: |
{{ toYaml $cfg | indent 4 }}
{{- end }}
