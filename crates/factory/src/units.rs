//! Numbers for people, made here once for both front ends.

use serde::Serialize;

/// A byte count and its text for people, for results the front ends show as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Size {
    pub bytes: u64,
    /// `4.5 MiB`.
    pub text: String,
}

impl From<u64> for Size {
    fn from(bytes: u64) -> Size {
        Size {
            bytes,
            text: human_bytes(bytes),
        }
    }
}

/// `4718592` → `4.5 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1 file`, `2 files`.
pub fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_bytes_reads_well() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(4_718_592), "4.5 MiB");
        assert_eq!(super::human_bytes(3 << 30), "3.0 GiB");
        assert_eq!(super::plural(1, "run"), "1 run");
        assert_eq!(super::plural(0, "run"), "0 runs");
    }
}
