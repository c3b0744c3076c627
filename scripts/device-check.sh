#!/usr/bin/env bash
# The sample project's real gpu session on a machine with a GPU and no network: torch comes
# from the machine's image (gpu-torch = image), the few pure-Python packages it lacks are
# carried as wheels. It prints the doctor (GPU, driver, torch's CUDA), the gpu tests and the
# session's verdict.
#
#   bash scripts/device-check.sh prepare   # where PyPI is reachable: wheels into .whl/
#   bash scripts/device-check.sh run       # on the GPU machine, from this folder
#
# MLCI_IMAGE_PYTHON names the image's Python (default /opt/torch/.venv/bin/python, the device
# machine's); DEVICE_PYTHON its version for `prepare` (default 3.12). `run` leaves that
# interpreter as it is: it writes /tmp/mlci-device-site and the session's layer under .nox/.
set -euo pipefail
cd "$(dirname "$0")/.."
wheels="$PWD/.whl"
image_python="${MLCI_IMAGE_PYTHON:-/opt/torch/.venv/bin/python}"

case "${1:-}" in
  prepare)
    rm -rf "$wheels" && mkdir -p "$wheels"
    uv build --quiet --wheel --out-dir "$wheels" .
    # nox and uv (to run the session), mlci's other dependencies, the gpu session's tools the
    # image lacks, and hatchling (to install the sample project, offline).
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      --python-version "${DEVICE_PYTHON:-3.12}" --platform manylinux_2_17_x86_64 -d "$wheels" \
      nox argcomplete attrs colorlog dependency-groups virtualenv distlib platformdirs \
      python-discovery "packaging>=26.3" filelock humanize uv tomlkit \
      pytest pluggy iniconfig pytest-timeout hatchling pathspec trove-classifiers
    count="$(find "$wheels" -name '*.whl' | wc -l)"
    echo "device-check: $count wheels ready in .whl/"
    ;;
  run)
    site=/tmp/mlci-device-site
    rm -rf "$site"
    "$image_python" -m pip install --quiet --no-index --no-deps --target "$site" "$wheels"/*.whl
    export PYTHONPATH="$site" PATH="$site/bin:$PATH"
    # Image mode, offline: uv takes what the image lacks from the carried wheels only; the
    # sample's lock would move the image's packages, so the image's versions are used.
    export MLCI_GPU_TORCH=image MLCI_IMAGE_PYTHON="$image_python" MLCI_RESOLUTION=newest
    export UV_OFFLINE=1 UV_FIND_LINKS="$wheels" UV_PYTHON_DOWNLOADS=never PY_COLORS=0
    started=$SECONDS
    status=0
    "$image_python" -m nox --noxfile examples/sample-model/noxfile.py -s gpu || status=$?
    echo "device-check: gpu session exit $status in $((SECONDS - started)) s"
    exit "$status"
    ;;
  *)
    sed -n '2,13p' "$0"
    exit 2
    ;;
esac
