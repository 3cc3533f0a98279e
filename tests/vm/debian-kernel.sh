# shellcheck shell=bash
# tests/vm/debian-kernel.sh — sourced by the QEMU guest tests (run-vfsd-vm.sh,
# run-kernel-vm.sh): Debian's own kernel and a busybox initramfs.
#
#   vm_kernel_fetch CACHE   fetch Debian's kernel package once (apt-get download
#                           + dpkg -x) into CACHE/linux-VERSION/ with its whole
#                           module tree and a modules.dep (busybox depmod);
#                           sets VM_KVER, VM_VMLINUZ, VM_MODROOT (the unpacked
#                           package root: VM_MODROOT/lib/modules/VM_KVER)
#   vm_modules MOD...       the .ko files of MOD and everything they depend on,
#                           dependencies first, one path a line (for insmod)
#   vm_initramfs DIR        a skeleton with a static busybox as DIR/bin/busybox
#   vm_pack DIR OUT         DIR as a gzip'd newc cpio archive
#
# The package is linux-image-amd64's dependency, or MV_KERNEL_PKG when set
# (e.g. MV_KERNEL_PKG=linux-image-6.1.0-57-amd64).  Every function returns
# 77 when a tool or the package is missing, so a caller can skip.

# vm_kernel_fetch CACHE
vm_kernel_fetch() {
	local cache=$1 pkg dir x
	pkg=${MV_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)}
	[ -n "$pkg" ] || { echo "# cannot resolve linux-image-amd64"; return 77; }
	VM_KVER=${pkg#linux-image-}
	dir=$cache/linux-$VM_KVER
	VM_MODROOT=$dir
	VM_VMLINUZ=$dir/vmlinuz
	[ -f "$dir/lib/modules/$VM_KVER/modules.dep" ] && [ -f "$VM_VMLINUZ" ] && return 0
	command -v busybox >/dev/null || { echo "# busybox missing"; return 77; }
	rm -rf "$dir" && mkdir -p "$dir" || return 1
	x=$(mktemp -d "$cache/fetch-XXXXXX") || return 1
	# apt drops privileges to _apt for the download; the cache may be private to root.
	if ! (cd "$x" && apt-get -o APT::Sandbox::User=root download "$pkg" >/dev/null 2>&1); then
		echo "# apt-get download $pkg failed"
		rm -rf "$x"
		return 77
	fi
	if ! dpkg -x "$x"/"$pkg"_*.deb "$x/root"; then
		rm -rf "$x"
		return 1
	fi
	cp "$x"/root/boot/vmlinuz-* "$dir/vmlinuz.part" &&
		mkdir -p "$dir/lib/modules" &&
		mv "$x/root/lib/modules/$VM_KVER" "$dir/lib/modules/" &&
		busybox depmod -b "$dir" "$VM_KVER" &&
		mv "$dir/vmlinuz.part" "$VM_VMLINUZ"
	local rc=$?
	rm -rf "$x"
	return $rc
}

# vm_modules MOD... : prints the module files in load order (needs vm_kernel_fetch).
vm_modules() {
	local md=$VM_MODROOT/lib/modules/$VM_KVER
	awk -v md="$md" -v want="$*" '
		{ sub(":", "", $1); deps[$1] = ""; for (i = 2; i <= NF; i++) deps[$1] = deps[$1] " " $i
		  n = $1; sub(".*/", "", n); sub("\\.ko.*", "", n); gsub("-", "_", n); path[n] = $1 }
		function visit(p,   d, k, i) {
			if (p in seen) return
			seen[p] = 1
			k = split(deps[p], d, " ")
			for (i = k; i >= 1; i--) visit(d[i])
			print md "/" p
		}
		END { k = split(want, w, " ")
		      for (i = 1; i <= k; i++) { n = w[i]; gsub("-", "_", n)
		          if (n in path) visit(path[n]); else print "# no module " w[i] > "/dev/stderr" } }
	' "$md/modules.dep"
}

# vm_initramfs DIR : busybox skeleton (bin/, lib/modules/, proc, sys, dev, mnt, etc).
vm_initramfs() {
	local root=$1 bb
	bb=$(command -v busybox) || { echo "# busybox missing"; return 77; }
	file -L "$bb" 2>/dev/null | grep -q 'statically linked' || ldd "$bb" 2>&1 | grep -q 'not a dynamic' ||
		{ echo "# busybox is not static"; return 77; }
	mkdir -p "$root"/{bin,lib/modules,etc,proc,sys,dev,mnt} && cp "$bb" "$root/bin/busybox"
}

# vm_pack DIR OUT
vm_pack() {
	command -v cpio >/dev/null || { echo "# cpio missing (scripts/install-deps.sh installs it)"; return 77; }
	(set -o pipefail; cd "$1" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$2"
}
