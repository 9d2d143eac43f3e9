{{/* Names, labels and the shared pieces of the rollout-guard chart. */}}

{{- define "rollout-guard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name; also the Service's name, so the certificate's SANs derive from it. */}}
{{- define "rollout-guard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "rollout-guard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rollout-guard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "rollout-guard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rollout-guard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: admission-webhook
{{- end -}}

{{- define "rollout-guard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rollout-guard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "rollout-guard.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The DNS names the kube-apiserver reaches the Service by: the serving certificate's SANs. */}}
{{- define "rollout-guard.serviceDNSNames" -}}
{{- $svc := include "rollout-guard.fullname" . -}}
{{- $ns := .Release.Namespace -}}
- {{ $svc }}
- {{ printf "%s.%s" $svc $ns }}
- {{ printf "%s.%s.svc" $svc $ns }}
- {{ printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain }}
{{- end -}}

{{/* The Secret holding tls.crt and tls.key, in every tls.mode. */}}
{{- define "rollout-guard.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.secretName is required when tls.mode is secret: the existing kubernetes.io/tls Secret to mount" .Values.tls.secretName -}}
{{- else -}}
{{- default (printf "%s-tls" (include "rollout-guard.fullname" .)) .Values.tls.secretName -}}
{{- end -}}
{{- end -}}

{{/*
tls.mode generate: the CA and serving certificate, base64-encoded, as YAML
{caCert, cert, key}. An existing Secret from an earlier release is reused, so that `helm upgrade`
keeps the certificate and the caBundle the running pods serve. The result is memoised on the root
context so that the Secret, both webhook configurations and the pod checksum see the same
certificate (each template file is rendered separately, and genCA is random).
*/}}
{{- define "rollout-guard.generatedTLS" -}}
{{- if not (hasKey . "rolloutGuardGeneratedTLS") -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "rollout-guard.tlsSecretName" .) -}}
{{- $data := dict -}}
{{- if $secret -}}{{- $data = $secret.data | default dict -}}{{- end -}}
{{- $tls := dict -}}
{{- if and (index $data "ca.crt") (index $data "tls.crt") (index $data "tls.key") -}}
{{- $tls = dict "caCert" (index $data "ca.crt") "cert" (index $data "tls.crt") "key" (index $data "tls.key") -}}
{{- else -}}
{{- $names := include "rollout-guard.serviceDNSNames" . | fromYamlArray -}}
{{- $days := int .Values.tls.generate.days -}}
{{- $ca := genCA "rollout-guard CA" $days -}}
{{- $cert := genSignedCert (index $names 2) nil $names $days $ca -}}
{{- $tls = dict "caCert" ($ca.Cert | b64enc) "cert" ($cert.Cert | b64enc) "key" ($cert.Key | b64enc) -}}
{{- end -}}
{{- $_ := set . "rolloutGuardGeneratedTLS" $tls -}}
{{- end -}}
{{- toYaml (get . "rolloutGuardGeneratedTLS") -}}
{{- end -}}

{{/* The caBundle field of a webhook's clientConfig, or nothing when cert-manager injects it. */}}
{{- define "rollout-guard.caBundle" -}}
{{- if eq .Values.tls.mode "generate" -}}
caBundle: {{ (include "rollout-guard.generatedTLS" . | fromYaml).caCert }}
{{- else if eq .Values.tls.mode "secret" -}}
caBundle: {{ required "tls.caBundle is required when tls.mode is secret: the base64 PEM CA that signed the Secret's certificate (`rollout-guard certs` prints it)" .Values.tls.caBundle }}
{{- end -}}
{{- end -}}

{{/* Namespaces the webhooks never see: kube-system, the release's own and the policy's. */}}
{{- define "rollout-guard.excludedNamespaces" -}}
{{- $policy := include "rollout-guard.policy" . | fromYaml -}}
{{- $names := list "kube-system" .Release.Namespace -}}
{{- range $policy.spec.namespaces.exclude -}}{{- $names = append $names . -}}{{- end -}}
{{- toYaml (uniq $names) -}}
{{- end -}}

{{/* The selectors and rules both webhook configurations share. */}}
{{- define "rollout-guard.webhookCommon" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
failurePolicy: {{ .Values.webhook.failurePolicy }}
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
matchPolicy: Equivalent
namespaceSelector:
  {{- with .Values.webhook.namespaceSelector.matchLabels }}
  matchLabels:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- include "rollout-guard.excludedNamespaces" . | nindent 8 }}
    {{- with .Values.webhook.namespaceSelector.matchExpressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- with .Values.webhook.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
rules:
  - apiGroups: ["argoproj.io"]
    apiVersions: ["v1alpha1"]
    resources: {{ include "rollout-guard.argoResources" . }}
    operations: ["CREATE", "UPDATE"]
    scope: "*"
  - apiGroups: ["apps"]
    apiVersions: ["v1"]
    resources: ["deployments"]
    operations: ["CREATE", "UPDATE"]
    scope: Namespaced
{{- end -}}

{{/*
The policy: policies/default.yaml (reached through the files/policies symlink, the one source of
truth shared with the binary), with the overrides from .Values.policy.
*/}}
{{- define "rollout-guard.policy" -}}
{{- $raw := .Files.Get "files/policies/default.yaml" -}}
{{- if not $raw -}}
{{- fail "files/policies/default.yaml is missing from the chart: it is a symlink to the repository's policies/; package the chart with `helm package` from a checkout" -}}
{{- end -}}
{{- $policy := $raw | fromYaml -}}
{{- $spec := $policy.spec -}}
{{- with .Values.policy.rules -}}
{{- $_ := set $spec "rules" (merge (deepCopy .) (default dict $spec.rules)) -}}
{{- end -}}
{{- with .Values.policy.defaultSteps -}}
{{- $_ := set $spec.canary "defaultSteps" . -}}
{{- end -}}
{{- with .Values.policy.defaultTemplate -}}
{{- $_ := set $spec.analysis "defaultTemplate" . -}}
{{- end -}}
{{- if kindIs "slice" .Values.policy.excludeNamespaces -}}
{{- $_ := set $spec.namespaces "exclude" .Values.policy.excludeNamespaces -}}
{{- end -}}
{{- toYaml $policy -}}
{{- end -}}

{{/*
The Argo Rollouts resources rollout-guard reviews and watches (the webhook rules and the
ClusterRole list the same ones; the Rust side's list is `Kind::ALL`, and tests/chart.rs checks
that the two agree).
*/}}
{{- define "rollout-guard.argoResources" -}}
["rollouts", "analysistemplates", "clusteranalysistemplates"]
{{- end -}}

{{/*
A Go duration (the schema's pattern: "5s", "1m30s", "500ms", "0") in seconds, rounded up.
*/}}
{{- define "rollout-guard.seconds" -}}
{{- $total := 0.0 -}}
{{- $scale := dict "ns" 1e-9 "us" 1e-6 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h)" (toString .) -1 -}}
{{- $unit := regexFind "(ns|us|ms|s|m|h)$" . -}}
{{- $total = addf $total (mulf (float64 (trimSuffix $unit .)) (get $scale $unit)) -}}
{{- end -}}
{{- ceil $total | int -}}
{{- end -}}

{{/*
The pod's grace period: shutdown.delay + shutdown.timeout + 5 s unless given; a given one that
is shorter fails the render (the kubelet would kill the webhook mid-drain).
*/}}
{{- define "rollout-guard.terminationGracePeriodSeconds" -}}
{{- $need := add (include "rollout-guard.seconds" .Values.shutdown.delay | atoi) (include "rollout-guard.seconds" .Values.shutdown.timeout | atoi) 5 -}}
{{- with .Values.shutdown.terminationGracePeriodSeconds -}}
{{- if lt (int .) (int $need) -}}
{{- fail (printf "shutdown.terminationGracePeriodSeconds (%v) is shorter than shutdown.delay + shutdown.timeout + 5s (%v): the kubelet would kill the webhook while it drains" . $need) -}}
{{- end -}}
{{- . -}}
{{- else -}}
{{- $need -}}
{{- end -}}
{{- end -}}
