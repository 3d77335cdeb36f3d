#!/usr/bin/env bash
# Installs CRuby's headers and shared library (Debian's `ruby-dev`, which brings `ruby`)
# and libclang (`libclang-dev`, for rb-sys's bindgen), needed to build the `ruby` filter
# (crates/pipeline/src/filters/ruby/, cargo feature `ruby`) and to run it. Idempotent; run
# as root. Installs only what is missing; runs `apt-get update` only when the install
# fails without it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

have_ruby() {
    command -v ruby >/dev/null 2>&1 || return 1
    ruby -e 'exit 0' >/dev/null 2>&1 || return 1
    local hdr
    hdr=$(ruby -e 'print RbConfig::CONFIG["rubyhdrdir"]' 2>/dev/null) || return 1
    [ -f "$hdr/ruby.h" ] || return 1
    # The shared library and its unversioned dev symlink (the linker's -lruby-X.Y).
    local libs
    libs=$(ldconfig -p)
    grep -Eq 'libruby[-0-9.]*\.so\.[0-9]' <<<"$libs" || return 1
    grep -Eq 'libruby[-0-9.]*\.so ' <<<"$libs"
}
have_clang() {
    compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null || compgen -G '/usr/lib/*/libclang-[0-9]*.so*' >/dev/null
}

pkgs=()
have_ruby || pkgs+=(ruby ruby-dev)
have_clang || pkgs+=(libclang-dev)

if [ ${#pkgs[@]} -gt 0 ]; then
    echo "installing ${pkgs[*]}"
    if ! apt-get install -y --no-install-recommends "${pkgs[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${pkgs[@]}"
    fi
fi

have_ruby || { echo "ruby-dev is installed but ruby.h / libruby is not usable" >&2; exit 1; }
have_clang || { echo "libclang-dev is installed but libclang was not found" >&2; exit 1; }
echo "ruby: $(ruby -e 'print RUBY_DESCRIPTION')"
