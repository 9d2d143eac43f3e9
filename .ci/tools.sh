# shellcheck shell=bash
# The real tools the tests drive, installed from their registries into a cache outside the
# checkout, and their paths exported for the tests:
#   ROLLOUT_GUARD_PRE_COMMIT       pre-commit (PyPI), in its own virtualenv
#   ROLLOUT_GUARD_SARIF_MULTITOOL  Microsoft's SARIF validator (npm @microsoft/sarif-multitool-linux)
#   ROLLOUT_GUARD_SARIF_SCHEMA     the SARIF 2.1.0 JSON schema shipped in that same package
# Idempotent: a second run only checks what is there. Usage: `source .ci/tools.sh`.
# The cache is $ROLLOUT_GUARD_TOOLS, default ~/.cache/rollout-guard-ci; the tests look there
# too when the variables are not set.

PRE_COMMIT_VERSION=4.7.0
SARIF_MULTITOOL_VERSION=5.7.0

rg_tools="${ROLLOUT_GUARD_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/rollout-guard-ci}"
mkdir -p "$rg_tools"

rg_venv="$rg_tools/pre-commit"
# Versions are compared as captured text: `| grep -q` would end the pipe early and fail it
# under pipefail.
if [ "$("$rg_venv/bin/pre-commit" --version 2>/dev/null)" != "pre-commit $PRE_COMMIT_VERSION" ]; then
  echo "tools: installing pre-commit $PRE_COMMIT_VERSION into $rg_venv" >&2
  rm -rf "$rg_venv"
  python3 -m venv "$rg_venv"
  "$rg_venv/bin/pip" install --quiet --disable-pip-version-check "pre-commit==$PRE_COMMIT_VERSION"
fi
export ROLLOUT_GUARD_PRE_COMMIT="$rg_venv/bin/pre-commit"

rg_mt="$rg_tools/sarif-multitool"
# It prints its version on stderr.
rg_mt_version="$("$rg_mt/package/Sarif.Multitool" --version 2>&1 || true)"
rg_mt_version="${rg_mt_version%%$'\n'*}"
if [ "${rg_mt_version%%+*}" != "SARIF Multitool $SARIF_MULTITOOL_VERSION" ] \
  || [ ! -f "$rg_mt/package/sarif-2.1.0.json" ]; then
  echo "tools: installing @microsoft/sarif-multitool-linux $SARIF_MULTITOOL_VERSION into $rg_mt" >&2
  rm -rf "$rg_mt"
  mkdir -p "$rg_mt"
  (cd "$rg_mt" && npm pack --silent "@microsoft/sarif-multitool-linux@$SARIF_MULTITOOL_VERSION" >/dev/null \
    && tar xzf ./*.tgz && rm -f ./*.tgz)
  chmod u+x "$rg_mt/package/Sarif.Multitool"
fi
export ROLLOUT_GUARD_SARIF_MULTITOOL="$rg_mt/package/Sarif.Multitool"
export ROLLOUT_GUARD_SARIF_SCHEMA="$rg_mt/package/sarif-2.1.0.json"
unset rg_tools rg_venv rg_mt rg_mt_version
