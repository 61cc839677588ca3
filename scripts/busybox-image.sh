#!/usr/bin/env bash
# Builds the image mk/busybox:test with no registry: a rootfs holding
# Debian's static busybox (/bin/busybox, package busybox-static) and a
# link per applet, imported with `docker import`. Skipped when the image
# is there; -f rebuilds it.
set -euo pipefail
image=mk/busybox:test
if [ "${1:-}" != -f ] && docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
busybox=$(command -v busybox)
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked' && ldd "$busybox" >/dev/null 2>&1; then
  echo "busybox-image: $busybox is not static; install busybox-static" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root,var/www}
cp "$busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -sf /bin/busybox "$root/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
chmod 1777 "$root/tmp"
tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$image" >/dev/null
echo "busybox-image: built $image"
