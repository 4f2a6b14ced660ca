// The built-in templates are embedded with include_dir; rebuild when any
// file under templates/ changes or is added.
fn main() {
    println!("cargo:rerun-if-changed=../../templates");
}
