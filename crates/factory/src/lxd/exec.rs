//! Running commands in instances: `lxc exec NAME --env K=V -- ARGV…`, with
//! output streamed line by line, or captured for short commands.

use std::ffi::OsString;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{check_instance_name, Lxc, Output};
use crate::error::{Error, Result};
use crate::kinds::Stream;

/// Lines longer than this are delivered in pieces of this size, so a
/// program that never prints a newline cannot exhaust memory.
const MAX_LINE: usize = 1 << 20;

/// LXD on a busy host now and then fails to start the command at all: the
/// client prints only this and exits non-zero, and nothing ran in the
/// instance. Such an exec is tried again, up to [`EXEC_TRIES`] times.
const NOT_STARTED: &str = "Error: Failed to retrieve PID of executing child process";
const EXEC_TRIES: u32 = 3;
const EXEC_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether an exec that printed nothing else was one LXD never started.
fn not_started(code: i32, last_stderr: &str) -> bool {
    code != 0 && last_stderr.trim() == NOT_STARTED
}

impl Lxc {
    /// Runs `argv` in the instance (no shell: each element arrives as one
    /// argument), with `env` added to its environment. Every line of stdout
    /// and stderr goes to `on_line` as it comes (lossy UTF-8, without the
    /// newline); the result is the command's exit code. When `cancel` fires
    /// the client is killed and this returns [`Error::Cancelled`]; the
    /// command may still run in the instance until the instance is deleted.
    pub async fn exec(
        &self,
        name: &str,
        argv: &[String],
        env: &[(String, String)],
        mut on_line: impl FnMut(Stream, String) + Send,
        cancel: &CancellationToken,
    ) -> Result<i32> {
        let args = self.exec_args(name, argv, env)?;
        let mut tries = 0;
        loop {
            tries += 1;
            let (code, lines, last_stderr) = self.exec_once(&args, &mut on_line, cancel).await?;
            if tries < EXEC_TRIES && lines == 1 && not_started(code, &last_stderr) {
                tokio::time::sleep(EXEC_RETRY_PAUSE).await;
                continue;
            }
            return self.exec_outcome(name, code, &last_stderr).await;
        }
    }

    /// One `lxc exec`: its exit code, how many lines it printed, its last
    /// line of stderr.
    async fn exec_once(
        &self,
        args: &[OsString],
        on_line: &mut (impl FnMut(Stream, String) + Send),
        cancel: &CancellationToken,
    ) -> Result<(i32, usize, String)> {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        // One reader task per pipe, merged into one channel: lines of each
        // stream stay in order and both streams interleave as they arrive.
        let (tx, mut rx) = mpsc::channel(256);
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        tokio::spawn(read_lines(stdout, Stream::Stdout, tx.clone()));
        tokio::spawn(read_lines(stderr, Stream::Stderr, tx));

        let mut last_stderr = String::new();
        let mut lines = 0;
        let status = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    // kill_on_drop would do it too; killing and reaping here
                    // means the client is gone when we return.
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    return Err(Error::Cancelled);
                }
                line = rx.recv() => match line {
                    Some((kind, line)) => {
                        if kind == Stream::Stderr {
                            last_stderr.clone_from(&line);
                        }
                        lines += 1;
                        on_line(kind, line);
                    }
                    // Both pipes closed: the client is exiting.
                    None => break tokio::select! {
                        _ = cancel.cancelled() => {
                            let _ = child.start_kill();
                            let _ = child.wait().await;
                            return Err(Error::Cancelled);
                        }
                        status = child.wait() => status.map_err(|e| self.spawn_error(e))?,
                    },
                },
            }
        };
        Ok((status.code().unwrap_or(-1), lines, last_stderr))
    }

    /// Runs a short command in the instance and returns its exit code and
    /// whole output. A non-zero exit is not an error; `lxc` failing is.
    pub async fn exec_capture(
        &self,
        name: &str,
        argv: &[String],
        env: &[(String, String)],
    ) -> Result<Output> {
        let args = self.exec_args(name, argv, env)?;
        let mut tries = 0;
        loop {
            tries += 1;
            let out = self.run_unchecked(&args).await?;
            let last = out.stderr.lines().last().unwrap_or("").to_string();
            let only_line = out.stdout.is_empty() && out.stderr.lines().count() == 1;
            if tries < EXEC_TRIES && only_line && not_started(out.status, &last) {
                tokio::time::sleep(EXEC_RETRY_PAUSE).await;
                continue;
            }
            self.exec_outcome(name, out.status, &last).await?;
            return Ok(out);
        }
    }

    fn exec_args(
        &self,
        name: &str,
        argv: &[String],
        env: &[(String, String)],
    ) -> Result<Vec<OsString>> {
        check_instance_name(name)?;
        if argv.is_empty() {
            return Err(Error::InvalidValue {
                what: "command",
                value: String::new(),
                reason: "an empty command cannot run".into(),
            });
        }
        // -T: never a pty, so stdout and stderr stay apart.
        let mut args: Vec<OsString> = vec!["exec".into(), self.on_remote(name).into(), "-T".into()];
        for (key, value) in env {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(Error::InvalidValue {
                    what: "environment variable name",
                    value: key.clone(),
                    reason: "must be non-empty and contain no `=`".into(),
                });
            }
            args.push("--env".into());
            args.push(format!("{key}={value}").into());
        }
        args.push("--".into());
        args.extend(argv.iter().map(OsString::from));
        Ok(args)
    }

    /// `lxc exec` exits with the command's code, and with 1 plus an
    /// `Error: …` line when it could not run it at all. Only in that
    /// ambiguous case is the instance looked at, to tell the two apart.
    async fn exec_outcome(&self, name: &str, code: i32, last_stderr: &str) -> Result<i32> {
        if code != 1 || !last_stderr.starts_with("Error: ") {
            return Ok(code);
        }
        match self.instance(name).await? {
            None => Err(Error::InstanceNotFound { name: name.into() }),
            Some(i) if !i.is_running() => Err(Error::Lxc {
                command: format!("{} exec {name}", self.binary),
                stderr: format!(
                    "the instance is {}: {}",
                    i.status,
                    last_stderr.trim_start_matches("Error: ")
                ),
            }),
            Some(_) => Ok(code),
        }
    }
}

/// Sends each line of `pipe` to `tx` until EOF or until nobody listens.
async fn read_lines(
    pipe: impl AsyncRead + Unpin,
    kind: Stream,
    tx: mpsc::Sender<(Stream, String)>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, pipe);
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await.unwrap_or(&[]);
        if buf.is_empty() {
            // EOF (or a broken pipe): the unterminated tail is a line too.
            if !line.is_empty() {
                let _ = tx
                    .send((kind, String::from_utf8_lossy(&line).into_owned()))
                    .await;
            }
            return;
        }
        let window = &buf[..buf.len().min(MAX_LINE - line.len())];
        let (used, complete) = match window.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (window.len(), false),
        };
        line.extend_from_slice(&window[..used - usize::from(complete)]);
        reader.consume(used);
        if complete && line.last() == Some(&b'\r') {
            line.pop();
        }
        if complete || line.len() >= MAX_LINE {
            let text = String::from_utf8_lossy(&line).into_owned();
            line.clear();
            if tx.send((kind, text)).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines_of(input: &[u8]) -> Vec<String> {
        let (tx, mut rx) = mpsc::channel(16);
        let input = input.to_vec();
        let reader = tokio::spawn(async move {
            read_lines(std::io::Cursor::new(input), Stream::Stdout, tx).await
        });
        let mut out = Vec::new();
        while let Some((_, line)) = rx.recv().await {
            out.push(line);
        }
        reader.await.unwrap();
        out
    }

    #[tokio::test]
    async fn splits_lines_keeps_empty_ones_and_the_unterminated_tail() {
        assert_eq!(
            lines_of(b"one\r\n\ntwo\nthree").await,
            ["one", "", "two", "three"]
        );
        assert!(lines_of(b"").await.is_empty());
    }

    #[tokio::test]
    async fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(lines_of(b"caf\xe9\n").await, ["caf\u{fffd}"]);
    }

    #[tokio::test]
    async fn a_line_longer_than_the_cap_comes_in_pieces() {
        let mut input = vec![b'x'; MAX_LINE + 10];
        input.extend_from_slice(b"\nend\n");
        let lines = lines_of(&input).await;
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1], "x".repeat(10));
        assert_eq!(lines[2], "end");
    }

    /// A client that fails to start the command the first `failures` times
    /// (as LXD on a busy host does), then runs it: prints `ran` and exits 3.
    fn flaky_client(dir: &std::path::Path, failures: u32) -> Lxc {
        use std::os::unix::fs::PermissionsExt;
        let client = dir.join("lxc");
        let count = dir.join("count");
        std::fs::write(
            &client,
            format!(
                "#!/bin/sh\nn=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}\n\
                 if [ \"$n\" -lt {failures} ]; then echo '{NOT_STARTED}' >&2; exit 255; fi\n\
                 echo ran; exit 3\n",
                count = count.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).unwrap();
        Lxc::from_parts(client.to_str().unwrap(), "local", "default")
    }

    fn execs(dir: &std::path::Path) -> u32 {
        std::fs::read_to_string(dir.join("count"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// The install stage of a CI run failed with "install.sh exited with
    /// 255; last output: Error: Failed to retrieve PID of executing child
    /// process": LXD never started it.
    #[tokio::test]
    async fn a_command_lxd_never_started_is_run_again() {
        let dir = tempfile::tempdir().unwrap();
        let lxc = flaky_client(dir.path(), 2);
        let mut seen = Vec::new();
        let code = lxc
            .exec(
                "sf-x",
                &["true".to_string()],
                &[],
                |_, line| seen.push(line),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(code, 3);
        assert_eq!(execs(dir.path()), 3);
        assert_eq!(seen.last().unwrap(), "ran");

        let dir = tempfile::tempdir().unwrap();
        let out = flaky_client(dir.path(), 1)
            .exec_capture("sf-x", &["true".to_string()], &[])
            .await
            .unwrap();
        assert_eq!((out.status, out.stdout.trim()), (3, "ran"));
        assert_eq!(execs(dir.path()), 2);

        // Not without end: the third failure is the result.
        let dir = tempfile::tempdir().unwrap();
        let code = flaky_client(dir.path(), 5)
            .exec(
                "sf-x",
                &["true".to_string()],
                &[],
                |_, _| {},
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!((code, execs(dir.path())), (255, 3));
    }
}
