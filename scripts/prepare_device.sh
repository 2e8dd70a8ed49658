#!/usr/bin/env bash
# Fill device_carry/ (git-ignored) with what the GPU machine of scripts/gpu_check.sh lacks and
# cannot download (it has no network): the Fashion-MNIST IDX files and the wheels of Hugging
# Face datasets and of its two requirements that machine's image does not hold (dill,
# multiprocess). Its image has Python 3.12 with torch, transformers, pandas, pyarrow, fsspec,
# huggingface-hub, xxhash, requests, tqdm and pyyaml; the wheels are installed there with
# --no-deps so that none of those is replaced.
#
#   bash scripts/prepare_device.sh        # from the repository root; needs pip's network access
#
# Environment: CARRY (default device_carry), FASHION_SRC (default
# /usr/share/datasets/fashion-mnist: apt-get install -y dataset-fashion-mnist), LIMIT_MIB
# (default 56: the carried folder plus the checkout must stay under the 64 MiB a device
# call takes).
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=${CARRY:-device_carry}
FASHION_SRC=${FASHION_SRC:-/usr/share/datasets/fashion-mnist}
LIMIT_MIB=${LIMIT_MIB:-56}
# datasets at the version this project is tested with, and the versions of its requirements
# that it accepts (dill < 0.4.2, multiprocess < 0.70.20).
WHEELS=(datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19)

if ! ls "$FASHION_SRC"/train-images-idx3-ubyte* >/dev/null 2>&1; then
    echo "error: no Fashion-MNIST IDX files in $FASHION_SRC; apt-get install -y dataset-fashion-mnist" \
         "(or set FASHION_SRC)" >&2
    exit 2
fi
mkdir -p "$CARRY/fashion-mnist" "$CARRY/wheels"
cp -p "$FASHION_SRC"/*-ubyte* "$CARRY/fashion-mnist/"

rm -f "$CARRY"/wheels/*.whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d "$CARRY/wheels" "${WHEELS[@]}"

carry_kib=$(du -sk "$CARRY" | cut -f1)
tree_kib=$(git ls-files -z | xargs -0 du -ck 2>/dev/null | tail -1 | cut -f1)
ls -l "$CARRY/wheels" "$CARRY/fashion-mnist"
echo "carry: $CARRY $((carry_kib / 1024)) MiB; tracked files $((tree_kib / 1024)) MiB; limit ${LIMIT_MIB} MiB for the carry"
if [ "$carry_kib" -gt $((LIMIT_MIB * 1024)) ]; then
    echo "error: $CARRY holds $((carry_kib / 1024)) MiB, over ${LIMIT_MIB} MiB" >&2
    exit 1
fi
