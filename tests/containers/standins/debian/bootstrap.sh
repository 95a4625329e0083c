#!/usr/bin/env bash
# A Debian bookworm root file system for the stand-in images: `debootstrap --variant=minbase`
# from Debian's own mirror, trimmed as Docker's debian:bookworm-slim is (no docs, man pages or
# translations), written as a tar stream for `podman import` / `docker import`.
# Usage (as root): bootstrap.sh MIRROR > rootfs.tar
set -euo pipefail
mirror="$1"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

debootstrap --variant=minbase bookworm "$root" "$mirror" >&2

# The same path excludes as debian:bookworm-slim, so that later apt installs stay slim too.
cat > "$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
rm -rf "$root"/usr/share/{man,info,locale,lintian}/* "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/lib/apt/lists/*
# Security updates as well as the release, as the official images have them.
cat > "$root/etc/apt/sources.list" <<LIST
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
LIST

tar --numeric-owner -C "$root" -c .
