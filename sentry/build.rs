//! Builds the vDSO image the sentry maps into every process.
use std::process::Command;

fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let so = format!("{out}/vdso.so");
    println!("cargo:rerun-if-changed=vdso/vdso.c");
    println!("cargo:rerun-if-changed=vdso/vdso.lds");
    println!("cargo:rerun-if-changed=vdso/vdso-layout.lds");
    let status = Command::new("gcc")
        .args([
            "-O2",
            "-fPIC",
            "-shared",
            "-nostdlib",
            "-fno-stack-protector",
            "-fno-builtin",
            "-mno-red-zone",
            "-fcf-protection=none",
            "-fno-asynchronous-unwind-tables",
            "-Wl,-soname,linux-vdso.so.1",
            "-Wl,--hash-style=both",
            "-Wl,-Bsymbolic",
            "-Wl,--no-undefined",
            "-Wl,-T,vdso/vdso-layout.lds",
            "-Wl,--build-id=none",
            "-Wl,--version-script=vdso/vdso.lds",
            "-o",
            &so,
            "vdso/vdso.c",
        ])
        .status()
        .expect("gcc is needed to build the vDSO");
    assert!(status.success(), "building the vDSO failed");
}
