// The app's commands come from src/command_list.rs, so that each needs a
// permission: the web side may call exactly those its capability file grants.
macro_rules! app_commands {
    ($($module:ident :: $name:ident ($($arg:ident : $ty:literal),*) -> $ret:literal;)*) => {
        const COMMANDS: &[&str] = &[$(stringify!($name)),*];
    };
}
include!("src/command_list.rs");

fn main() {
    println!("cargo:rerun-if-changed=src/command_list.rs");
    let mut commands = COMMANDS.to_vec();
    if std::env::var_os("CARGO_FEATURE_BENCH").is_some() {
        commands.extend(["bench_stream", "bench_export"]);
    }
    // tauri-build wants a 'static list; a build script may leak it.
    let commands: &'static [&str] = commands.leak();
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri-build");
}
