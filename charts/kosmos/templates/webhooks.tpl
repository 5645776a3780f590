{{- /* deploy/webhooks with this install's Service and CA, as renderWebhookConfigurations() in src/webhooks/configurations.ts. */ -}}
{{- if .Values.modules.webhooks }}
{{- range $f := list "mutating-webhook-configuration.yaml" "validating-webhook-configuration.yaml" }}
{{- $cfg := $.Files.Get (printf "files/webhooks/%s" $f) | fromYaml }}
{{- $_ := set $cfg.metadata "labels" (merge (dict "app.kubernetes.io/part-of" "kosmos" "app.kubernetes.io/managed-by" $.Values.managedBy) ($cfg.metadata.labels | default dict)) }}
{{- range $w := $cfg.webhooks }}
{{- $path := $w.clientConfig.service.path }}
{{- $_ := set $w "clientConfig" (dict "service" (dict "name" "kosmos-webhooks" "namespace" $.Values.namespace "path" $path "port" 443) "caBundle" $.Values.webhooks.caBundle) }}
{{- end }}
---
{{ toYaml $cfg }}
{{- end }}
{{- end }}
