#!/usr/bin/env bash
# Reload the feature packs on every steerserve pod, one pod at a time, then check that all pods serve the same set.
#
#   STEERSERVE_ADMIN_KEY=$(kubectl -n steerserve get secret steerserve-keys -o jsonpath='{.data.admin\.ops}' | base64 -d) \
#     deploy/k8s/rolling-reload.sh steerserve
#
# POST /admin/packs/reload re-reads the pod's --packs root (/packs/current/<model>), verifies every pack and swaps
# the tables between two forward passes; requests in flight finish on the tables they started with, and a pack
# that fails verification aborts that pod's reload with nothing changed (this script then stops, non-zero).
# Through the Service a reload would reach one pod at random, so each pod is reached through its own port-forward.
# The admin route is closed (403) unless the policy has an admin key. Monitor switches (POST /admin/monitors/...)
# are per pod and in memory too: the same loop applies them to every pod.
set -euo pipefail

ns="${1:-default}"
selector="${SELECTOR:-app.kubernetes.io/name=steerserve}"
key="${STEERSERVE_ADMIN_KEY:?set STEERSERVE_ADMIN_KEY to an admin key of the policy}"
local_port="${LOCAL_PORT:-18000}"
base="http://127.0.0.1:${local_port}"
pf=""
# the key reaches curl through a file descriptor, not its command line (visible to other local users in ps)
admin_curl() { curl -fsS -H @<(printf 'Authorization: Bearer %s\n' "$key") "$@"; }
trap '[ -n "$pf" ] && kill "$pf" 2>/dev/null || true' EXIT

pods=$(kubectl -n "$ns" get pods -l "$selector" --field-selector=status.phase=Running -o name)
[ -n "$pods" ] || { echo "no running pods match $selector in namespace $ns" >&2; exit 1; }

declare -A seen=()
for pod in $pods; do
  kubectl -n "$ns" port-forward "$pod" "${local_port}:8000" >/dev/null 2>&1 &
  pf=$!
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "$base/health" 2>/dev/null && break
    sleep 0.2
  done
  echo "== $pod"
  admin_curl -X POST "$base/admin/packs/reload"
  echo
  # the pack list (ids, versions, features, calibration) as the pod now serves it
  digest=$(admin_curl "$base/v1/steering/packs" | sha256sum | cut -c1-16)
  seen[$digest]="${seen[$digest]:-} $pod"
  kill "$pf"
  wait "$pf" 2>/dev/null || true
  pf=""
done

if [ "${#seen[@]}" -ne 1 ]; then
  echo "pods disagree on the pack list:" >&2
  for d in "${!seen[@]}"; do echo "  $d:${seen[$d]}" >&2; done
  exit 1
fi
echo "all pods serve pack list ${!seen[*]}"
