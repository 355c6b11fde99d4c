#!/usr/bin/env bash
# Build the Debian package: a release build, then what the package ships
# that the binary generates itself (the configuration rendered with the
# package's placeholders, one man page per command, shell completions),
# then `cargo deb --no-build`. Prints the path of the .deb.
#
# Needs cargo-deb (`cargo install cargo-deb --locked`); honours
# CARGO_TARGET_DIR. Usage: packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
build=packaging/build

cargo build --release --locked
bin="$target/release/vigie"

rm -rf "$build"
mkdir -p "$build/man" "$build/completions"
"$bin" init --template --dir "$build/etc/vigie" >/dev/null
"$bin" manpages --out "$build/man" >/dev/null
"$bin" completions bash >"$build/completions/vigie.bash"
"$bin" completions zsh >"$build/completions/_vigie"
"$bin" completions fish >"$build/completions/vigie.fish"

# Build-time files stay out of the package's /etc: only the rendering.
find "$build/etc" -name '*.vigie-tmp' -delete

cargo deb --no-build --locked
