//! The simulated container runtime's one decision: what a container "does", read from its
//! command line, since no container really runs. Moved here from aliyun-emu's ECI module so the
//! simulated kubelets and ECI agree on it.
//!
//! * `sh -c "<script>"` (also `bash`, `ash`, `dash`, `/bin/sh`) runs the script's statements,
//!   separated by `;`, `&&` or newlines; any other command line is one statement.
//! * `echo …` prints a line; `sleep S` waits S seconds (fractions allowed, `infinity` never ends);
//!   `exit N` ends the run with code N; `true`/`:` succeed; `false` sets the status to 1.
//! * Anything else (`nginx`, `python app.py`…), and an empty command (the image's entrypoint), is
//!   a server: it keeps running.
//! * Reaching the end of the script exits with the status of its last statement.

/// What one run of a container does: the lines it prints (at milliseconds after its start) and
/// how it ends (`None`: it keeps running).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Printed lines with their offsets.
    pub lines: Vec<(i64, String)>,
    /// Run time and exit code.
    pub end: Option<(i64, i32)>,
}

const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "busybox"];

/// Reads a container's behaviour from its command line (see the module header).
pub fn script(command: &[String], args: &[String]) -> Script {
    let words: Vec<&str> = command.iter().chain(args).map(String::as_str).collect();
    let Some(first) = words.first() else {
        // The image's own entrypoint: assumed to be a server, as nginx is.
        return Script::default();
    };
    let program = first.rsplit('/').next().unwrap_or(first);
    let statements: Vec<Vec<String>> = if SHELLS.contains(&program) && words.get(1) == Some(&"-c") {
        let text = words.get(2).copied().unwrap_or_default();
        split_statements(text)
            .iter()
            .map(|s| shell_words(s))
            .collect()
    } else {
        vec![words.iter().map(|w| (*w).to_owned()).collect()]
    };
    let mut out = Script::default();
    let (mut t, mut status) = (0i64, 0i32);
    for words in statements {
        let Some(program) = words.first() else {
            continue;
        };
        let rest = &words[1..];
        match program.rsplit('/').next().unwrap_or(program) {
            "echo" | "printf" => {
                let rest: Vec<&str> = rest
                    .iter()
                    .map(String::as_str)
                    .filter(|w| *w != "-n" && *w != "-e")
                    .collect();
                out.lines.push((t, rest.join(" ")));
                status = 0;
            }
            "sleep" => match rest.first().map(String::as_str) {
                Some("infinity" | "inf") => return out,
                Some(arg) => match parse_seconds(arg) {
                    Some(ms) => {
                        t = t.saturating_add(ms);
                        status = 0;
                    }
                    None => {
                        out.lines
                            .push((t, format!("sleep: invalid time interval '{arg}'")));
                        status = 1;
                    }
                },
                None => {
                    out.lines.push((t, "sleep: missing operand".to_owned()));
                    status = 1;
                }
            },
            "exit" => {
                let code = rest
                    .first()
                    .and_then(|c| c.parse::<i64>().ok())
                    .map_or(status, |c| c.rem_euclid(256) as i32);
                out.end = Some((t, code));
                return out;
            }
            "true" | ":" => status = 0,
            "false" => status = 1,
            // Anything else is taken for a long-running process.
            _ => return out,
        }
    }
    out.end = Some((t, status));
    out
}

/// Splits a shell script at `;`, `&&`, `||` and newlines, outside quotes.
fn split_statements(text: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.push(c);
            }
            (None, ';' | '\n') => statements.push(std::mem::take(&mut current)),
            (None, '&' | '|') if chars.peek() == Some(&c) => {
                chars.next();
                statements.push(std::mem::take(&mut current));
            }
            (None, c) => current.push(c),
        }
    }
    statements.push(current);
    statements
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Splits a statement into words, removing quotes.
fn shell_words(statement: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in statement.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.get_or_insert_default().push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                current.get_or_insert_default();
            }
            (None, c) if c.is_whitespace() => words.extend(current.take()),
            (None, c) => current.get_or_insert_default().push(c),
        }
    }
    words.extend(current);
    words
}

/// `5`, `0.5`, `2s`, `1m`, `1h` as milliseconds.
fn parse_seconds(arg: &str) -> Option<i64> {
    let (number, unit) = match arg.char_indices().last()? {
        (i, 's') => (&arg[..i], 1.0),
        (i, 'm') => (&arg[..i], 60.0),
        (i, 'h') => (&arg[..i], 3600.0),
        (i, 'd') => (&arg[..i], 86_400.0),
        _ => (arg, 1.0),
    };
    let seconds = number
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)?;
    Some((seconds * unit * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn sh(text: &str) -> Script {
        script(&words(&["sh", "-c", text]), &[])
    }

    #[test]
    fn a_shell_script_prints_sleeps_and_exits_with_its_code() {
        let s = sh("echo hi; sleep 2 && echo 'two words'; exit 3");
        assert_eq!(
            s.lines,
            vec![(0, "hi".to_owned()), (2000, "two words".to_owned())]
        );
        assert_eq!(s.end, Some((2000, 3)));
    }

    #[test]
    fn the_end_of_a_script_exits_with_the_last_status() {
        assert_eq!(sh("echo done").end, Some((0, 0)));
        assert_eq!(sh("sleep 0.5; false").end, Some((500, 1)));
        assert_eq!(script(&words(&["sleep", "1"]), &[]).end, Some((1000, 0)));
        assert_eq!(
            script(&words(&["/bin/sh"]), &words(&["-c", "exit 300"])).end,
            Some((0, 44)),
            "exit codes wrap at 256 as in a shell"
        );
    }

    #[test]
    fn servers_and_image_entrypoints_keep_running() {
        assert_eq!(script(&[], &[]).end, None);
        assert_eq!(
            script(&words(&["nginx", "-g", "daemon off;"]), &[]).end,
            None
        );
        let s = sh("echo starting; python app.py; echo never");
        assert_eq!((s.lines.len(), s.end), (1, None));
        assert_eq!(sh("sleep infinity").end, None);
    }

    #[test]
    fn a_bad_sleep_fails_like_coreutils() {
        let s = sh("sleep soon");
        assert_eq!(s.end, Some((0, 1)));
        assert!(s.lines[0].1.contains("invalid time interval"));
    }

    #[test]
    fn quoted_separators_do_not_split_statements() {
        assert_eq!(sh("echo 'a; b'").lines, vec![(0, "a; b".to_owned())]);
    }
}
