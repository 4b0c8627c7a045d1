#!/usr/bin/env bash
# Re-vendor the files that strawberry's graphiql.html loads from a CDN.
#
# Reads the installed strawberry's page, runs `npm pack <package>@<version>`
# for every package it references, and copies exactly the referenced files
# (at their CDN paths, <package>@<version>/<path>) plus each package's
# LICENSE here. Run it after upgrading strawberry-graphql, from anywhere,
# with the project's virtualenv active (or PYTHON=/path/to/python), then
# update the table in README.md and run tests/test_graphiql.py.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
python="${PYTHON:-python}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mapfile -t assets < <(cd "$repo" && "$python" -c '
from api.graphiql import cdn_assets, upstream_html
print("\n".join(cdn_assets(upstream_html())))
')
[ "${#assets[@]}" -gt 0 ] || { echo "no CDN assets found in strawberry's graphiql.html" >&2; exit 1; }

# Drop what an older page referenced; keep this script and the README.
find "$here" -mindepth 1 -maxdepth 1 ! -name refresh.sh ! -name README.md -exec rm -rf {} +

for asset in "${assets[@]}"; do
  # "@scope/name@1.2.3/dist/x.js" -> spec "@scope/name@1.2.3", path "dist/x.js"
  if [[ "$asset" == @* ]]; then
    spec="$(cut -d/ -f1-2 <<<"$asset")"; path="$(cut -d/ -f3- <<<"$asset")"
  else
    spec="$(cut -d/ -f1 <<<"$asset")"; path="$(cut -d/ -f2- <<<"$asset")"
  fi
  name="${spec%@*}"
  unpacked="$work/$spec"
  if [ ! -d "$unpacked" ]; then
    mkdir -p "$unpacked"
    tarball="$(cd "$work" && npm pack "$spec" --silent | tail -n 1)"
    tar -xzf "$work/$tarball" -C "$unpacked" --strip-components=1
    licence_name="LICENSE.$(tr '/' '-' <<<"${name#@}").txt"
    licence="$(find "$unpacked" -maxdepth 1 -iname 'licen[cs]e*' | head -n 1)"
    if [ -n "$licence" ]; then
      cp "$licence" "$here/$licence_name"
    else
      # Some packages (e.g. @graphiql/plugin-explorer) ship no licence file:
      # record what package.json declares instead.
      "$python" - "$unpacked/package.json" "$spec" >"$here/$licence_name" <<'PY'
import json, sys
meta = json.load(open(sys.argv[1], encoding="utf-8"))
repo = meta.get("repository", {})
repo = repo.get("url", "") + " " + repo.get("directory", "") if isinstance(repo, dict) else repo
print(f"The npm package {sys.argv[2]} ships no LICENSE file.")
print(f"Its package.json declares: license {meta.get('license')!r}; repository {repo.strip()}.")
print("See README.md in this folder.")
PY
    fi
  fi
  mkdir -p "$(dirname "$here/$asset")"
  cp "$unpacked/$path" "$here/$asset"
  echo "$asset"
done
