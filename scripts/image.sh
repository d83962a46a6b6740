#!/usr/bin/env bash
# make image: the bootable kernel + u-root initramfs under build/. Not built yet.
set -euo pipefail
echo "image: the boot image is not built yet (initramfs/ issue)."
