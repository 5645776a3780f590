{{- /* deploy/webhooks with this install's Service and CA, as renderWebhookConfigurations() in src/webhooks/configurations.ts. */ -}}
{{- if .Values.modules.webhooks }}
{{- /* The CA: the value if given, else the one the webhooks keep in their Secret (written by
  their first start, or by kosmosctl install), so a `helm upgrade` after the first install
  fills it in. `helm template` cannot look up, and uses the value. */}}
{{- $ca := .Values.webhooks.caBundle }}
{{- if not $ca }}
{{- $secret := lookup "v1" "Secret" .Values.namespace "kosmos-webhooks-certs" }}
{{- if $secret }}{{- $ca = index $secret.data "ca.crt" | default "" }}{{- end }}
{{- end }}
{{- range $f := list "mutating-webhook-configuration.yaml" "validating-webhook-configuration.yaml" }}
{{- $cfg := $.Files.Get (printf "files/webhooks/%s" $f) | fromYaml }}
{{- $_ := set $cfg.metadata "labels" (merge (dict "app.kubernetes.io/part-of" "kosmos" "app.kubernetes.io/managed-by" $.Values.managedBy) ($cfg.metadata.labels | default dict)) }}
{{- range $w := $cfg.webhooks }}
{{- $path := $w.clientConfig.service.path }}
{{- $_ := set $w "clientConfig" (dict "service" (dict "name" "kosmos-webhooks" "namespace" $.Values.namespace "path" $path "port" 443) "caBundle" $ca) }}
{{- end }}
---
{{ toYaml $cfg }}
{{- end }}
{{- end }}
