#!/usr/bin/env bash
# Validates the Kubernetes manifests in deploy/kubernetes/ (or the directory given)
# offline against the API schema of a pinned Kubernetes version, strictly: an unknown
# or misspelled field is an error, as `kubectl apply` reports it. Installs
# kubernetes-validate from PyPI if missing (it ships the schemas). Also checks that
# the schema ConfigMap still holds examples/orders.schema.json.
#
#   scripts/validate-manifests.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

# kubernetes-validate ships the API schemas of the Kubernetes releases up to its own
# version. The manifests target 1.33, the first release where every Job field they use
# (backoffLimitPerIndex, the pods' job-completion-index label) is generally available.
validator_version=1.37.0
kubernetes_version=${KUBERNETES_VERSION:-1.33.0}
dir=${1:-deploy/kubernetes}

validator() { python3 -m kubernetes_validate "$@"; }
if [ "$(validator --version 2>/dev/null)" != "$validator_version" ]; then
  echo "== installing kubernetes-validate==$validator_version (pip)"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
    "kubernetes-validate==$validator_version"
fi

shopt -s nullglob
manifests=("$dir"/*.yaml "$dir"/*.yml)
[ ${#manifests[@]} -gt 0 ] || { echo "validate-manifests.sh: no manifests in $dir" >&2; exit 1; }
validator --strict --quiet --kubernetes-version "$kubernetes_version" "${manifests[@]}" ||
  { echo "validate-manifests.sh: manifests in $dir do not validate against Kubernetes $kubernetes_version" >&2; exit 1; }

configmap=$dir/schema-configmap.yaml
if [ -f "$configmap" ]; then
  # PyYAML comes with kubernetes-validate.
  python3 - "$configmap" examples/orders.schema.json <<'EOF'
import sys, yaml
configmap, example = sys.argv[1:]
with open(configmap) as f:
    held = yaml.safe_load(f)["data"]["schema.json"]
with open(example) as f:
    if held != f.read():
        sys.exit(f"validate-manifests.sh: {configmap} no longer holds {example}")
EOF
fi
echo "${#manifests[@]} manifests in $dir valid for Kubernetes $kubernetes_version (kubernetes-validate $validator_version, strict)"
