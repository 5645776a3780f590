{{- /* deploy/kosmos, file by file: a file applies when its <order>-<part> part is on, as in src/cli/install/render.ts. */ -}}
{{- $v := .Values }}
{{- $bundled := eq (toString $v.redis.url) "" }}
{{- $_ := set $v.redis "bundled" $bundled }}
{{- if $bundled }}
{{- $_ := set $v.redis "url" (printf "redis://kosmos-redis.%s.svc:6379" $v.namespace) }}
{{- end }}
{{- range $path, $_ := .Files.Glob "files/kosmos/*.yaml" }}
{{- $part := regexReplaceAll "^[0-9]+-([a-z]+).*$" (base $path) "${1}" }}
{{- $on := or (eq $part "core") (and (eq $part "redis") $bundled) (and (hasKey $v.modules $part) (index $v.modules $part)) }}
{{- if $on }}
---
{{ tpl ($.Files.Get $path) $ }}
{{- end }}
{{- end }}
