{{/* Release-scoped name prefix: "<release>-xir", or the release name when it already says xir. */}}
{{- define "xir.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object of one component (svc-auth, ..., edge, xir); pass (list $ "svc-auth"). */}}
{{- define "xir.labels" -}}
{{- $root := index . 0 -}}
{{ include "xir.selector" . }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version }}
app.kubernetes.io/part-of: xir
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one component (svc-auth, ..., edge); pass (list $ "svc-auth"). */}}
{{- define "xir.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ index . 1 }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{/* The Secret holding database URLs and signing keys. */}}
{{- define "xir.secretName" -}}
{{- default (printf "%s-secrets" (include "xir.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The in-cluster gRPC address of a service; pass (list $ "user"). */}}
{{- define "xir.serviceUrl" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $service := index $root.Values.services $name -}}
{{- printf "http://%s-svc-%s.%s.svc.cluster.local:%d" (include "xir.fullname" $root) $name $root.Release.Namespace (int $service.port) -}}
{{- end -}}

{{/* Pod labels and annotations for sidecar injection (mesh.sidecarInjection). */}}
{{- define "xir.meshLabels" -}}
{{- if eq .Values.mesh.sidecarInjection "istio" }}
sidecar.istio.io/inject: "true"
{{- end }}
{{- end -}}
{{- define "xir.meshAnnotations" -}}
{{- if eq .Values.mesh.sidecarInjection "linkerd" }}
linkerd.io/inject: enabled
{{- end }}
{{- end -}}

{{/* The hardened container securityContext every container gets. */}}
{{- define "xir.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Which components call which service (NetworkPolicy ingress). svc-auth serves the JWKS every
service fetches; the outboxes call svc-user (profiles) and svc-timeline (events); svc-timeline
hydrates from svc-user and svc-tweet; svc-tweet resolves mentions through svc-user.
*/}}
{{- define "xir.callers" -}}
auth: [edge, svc-user, svc-tweet, svc-timeline]
user: [edge, svc-auth, svc-tweet, svc-timeline]
tweet: [edge, svc-timeline]
timeline: [edge, svc-user, svc-tweet]
{{- end -}}

{{/*
The internal RPCs of each service and the only services that may call each: the same table as
INTERNAL_RPCS in each service's startup.rs (testkit/tests/chart_policies.rs keeps them equal).
The services enforce it with service tokens; with mesh.sidecarInjection=istio the mesh's
AuthorizationPolicies enforce it too.
*/}}
{{- define "xir.internalRpcs" -}}
user:
  CreateProfile: [svc-auth]
  BatchGetProfiles: [svc-tweet, svc-timeline]
  ResolveUsernames: [svc-tweet]
  ListFollowerIds: [svc-timeline]
  ListFollowingIds: [svc-timeline]
  ApplyTweetCountEvent: [svc-tweet]
tweet:
  BatchGetTweets: [svc-timeline]
  ListRecentByAuthors: [svc-timeline]
timeline:
  ApplyTweetEvent: [svc-tweet]
  ApplyFollowEvent: [svc-user]
  ApplyTweetEvents: [svc-tweet]
  ApplyFollowEvents: [svc-user]
{{- end -}}

{{/* The gRPC service name of one of the four services; pass "user". */}}
{{- define "xir.grpcService" -}}
{{- printf "xir.%s.v1.%sService" . (title .) -}}
{{- end -}}

{{/* The ServiceAccount of a component (the mesh identity of its pods); pass (list $ "svc-user"). */}}
{{- define "xir.serviceAccount" -}}
{{- printf "%s-%s" (include "xir.fullname" (index . 0)) (index . 1) -}}
{{- end -}}

{{/* The mesh (SPIFFE) principal of a component; pass (list $ "svc-user"). */}}
{{- define "xir.principal" -}}
{{- $root := index . 0 -}}
{{- printf "%s/ns/%s/sa/%s" $root.Values.mesh.trustDomain $root.Release.Namespace (include "xir.serviceAccount" .) -}}
{{- end -}}

{{/* The Secret holding the services' identity keys. */}}
{{- define "xir.identitySecretName" -}}
{{- default (printf "%s-service-identity" (include "xir.fullname" .)) .Values.serviceIdentity.existingSecret -}}
{{- end -}}
