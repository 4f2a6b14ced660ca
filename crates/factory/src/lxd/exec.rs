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
        let mut child = self
            .command(&args)
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
        let code = status.code().unwrap_or(-1);
        self.exec_outcome(name, code, &last_stderr).await
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
        let out = self.run_unchecked(&args).await?;
        let last = out.stderr.lines().last().unwrap_or("").to_string();
        self.exec_outcome(name, out.status, &last).await?;
        Ok(out)
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
}
