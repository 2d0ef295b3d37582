#!/usr/bin/env bash
# Builds the node root file system image, in two cached stages:
#   1. base:  Debian 12 minbase by debootstrap, plus the node packages
#             (keyed by the package list and this script);
#   2. image: the base plus ssi's node files (init, ssh keys, hosts),
#             packed into an ext4 image with mkfs.ext4 -d (seconds).
# The project's own binaries and ssi.ko are not in the image: every node
# mounts the host's build output read-only at /opt/ssi (virtio-9p), so a
# fresh build reaches the nodes without rebuilding anything here.
#
#   build-rootfs.sh            build (no-op when current); prints nothing else
#   build-rootfs.sh print-image   print the image path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/common.sh"

MIRROR=${SSI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
PACKAGES=(
  procps iproute2 util-linux kmod iputils-ping netbase less psmisc strace
  rdma-core ibverbs-utils criu iperf3 sockperf
  openssh-server openssh-client
)

base_key=$( { echo "$MIRROR $SUITE ${PACKAGES[*]}"; sed -n '/^# BASE-BEGIN/,/^# BASE-END/p' "$0"; } | sha256sum | cut -c1-16)
base_dir=$SSI_CACHE/rootfs/base-$base_key
image_key=$( { echo "$base_key"; cat "$0"; find "$here/files" -type f | sort | xargs cat; } | sha256sum | cut -c1-16)
image=$SSI_CACHE/rootfs/node-$image_key.ext4

if [ "${1:-}" = print-image ]; then echo "$image"; exit 0; fi
[ "$(id -u)" = 0 ] || die "building the root file system needs root (debootstrap)"

# BASE-BEGIN
if [ ! -f "$base_dir/.done" ]; then
  command -v debootstrap >/dev/null || die "debootstrap missing: run 'make deps'"
  log "debootstrap $SUITE (minbase + ${#PACKAGES[@]} packages) into $base_dir: a few minutes, once"
  rm -rf "$base_dir" "$base_dir.tmp"; mkdir -p "$base_dir.tmp"
  inc=$(IFS=,; echo "${PACKAGES[*]}")
  debootstrap --variant=minbase --include="$inc" "$SUITE" "$base_dir.tmp" "$MIRROR" \
    > "$SSI_CACHE/rootfs/debootstrap-$base_key.log" 2>&1 \
    || { tail -20 "$SSI_CACHE/rootfs/debootstrap-$base_key.log"; die "debootstrap failed"; }
  chroot "$base_dir.tmp" apt-get clean
  rm -rf "$base_dir.tmp"/var/lib/apt/lists/* "$base_dir.tmp"/usr/share/doc/* "$base_dir.tmp"/usr/share/man/*
  # sshd host keys and a cluster-wide root key: generated once per base, so
  # nodes trust each other and the host can reach them.
  rm -f "$base_dir.tmp"/etc/ssh/ssh_host_*
  chroot "$base_dir.tmp" ssh-keygen -q -A
  mkdir -p "$base_dir.tmp/root/.ssh"
  ssh-keygen -q -t ed25519 -N '' -C ssi-cluster -f "$base_dir.tmp/root/.ssh/id_ed25519"
  cp "$base_dir.tmp/root/.ssh/id_ed25519.pub" "$base_dir.tmp/root/.ssh/authorized_keys"
  mv "$base_dir.tmp" "$base_dir"
  touch "$base_dir/.done"
fi
# BASE-END

if [ -f "$image" ]; then exit 0; fi
log "packing node image $image"
stage=$(mktemp -d "$SSI_CACHE/rootfs/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -a "$base_dir/." "$stage/"
rm -f "$stage/.done"
cp -a "$here/files/." "$stage/"
chmod 0755 "$stage/usr/sbin/ssi-init"
mkdir -p "$stage/cluster" "$stage/opt/ssi" "$stage/sys/kernel/config"
printf 'PermitRootLogin prohibit-password\nUseDNS no\n' > "$stage/etc/ssh/sshd_config.d/ssi.conf"
printf 'Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n' > "$stage/etc/ssh/ssh_config.d/ssi.conf"
mkfs.ext4 -q -F -L ssi-root -d "$stage" "$image.tmp" 2G >/dev/null
mv "$image.tmp" "$image"
# keep the cache small: drop stale images of this base
for old in "$SSI_CACHE"/rootfs/node-*.ext4; do [ "$old" = "$image" ] || rm -f "$old"; done
log "node image ready"
