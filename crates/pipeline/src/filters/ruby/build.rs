//! The pipeline crate's build script (`build = ...` in crates/pipeline/Cargo.toml). It
//! matters only with the `ruby` feature.
//!
//! The binary links Oniguruma statically (the `onig` crate, for grok) and CRuby
//! dynamically (libruby, for the ruby filter); libruby carries its own Onigmo with the same
//! symbol names (`onig_reg_init`, `onigenc_*`, ...). An executable exports its definitions
//! of symbols a shared library also defines, so libruby's internal calls would bind to the
//! binary's Oniguruma, whose structures differ: Ruby crashes while compiling its first
//! regexp. A version script marking those symbols local keeps them out of the binary's
//! dynamic symbol table, so libruby binds to its own. It is handed to the linker as an
//! implicit linker script posing as a library (`-l lsm_ruby_hide_onig`), because a
//! library's link requests, unlike `rustc-link-arg`, reach every binary that depends on
//! this crate (the product binary, the agent's and scheduler's tests, benches).

fn main() {
    println!("cargo:rerun-if-changed=src/filters/ruby/build.rs");
    let ruby = std::env::var_os("CARGO_FEATURE_RUBY").is_some();
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if !(ruby && linux) {
        return;
    }
    let Some(out) = std::env::var_os("OUT_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(out);
    let script = "VERSION {\n  {\n    local:\n      onig*;\n      Onig*;\n  };\n}\n";
    if let Err(e) = std::fs::write(dir.join("liblsm_ruby_hide_onig.so"), script) {
        println!("cargo:warning=cannot write the linker script: {e}");
        return;
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=lsm_ruby_hide_onig");
}
