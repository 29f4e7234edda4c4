//! Each binary's man page, made from the same clap definition as its `--help`: `BINARY --man`
//! writes it (roff) to standard output. `scripts/package` runs that at package build time and
//! installs the pages under /usr/share/man.

use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::exit::{Exit, MEANINGS};

/// When the command line is `--man DIR`: the pages of `P`, the binary `name`, in `section` (1
/// for tools, 8 for daemons and administration), its own and one per subcommand, written into
/// `DIR`, and the code to exit with.
pub fn if_asked<P: clap::CommandFactory>(name: &'static str, section: &str) -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new("--man")) {
        return None;
    }
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: --man DIR (the pages are written into DIR)");
        return Some(Exit::Usage.into());
    };
    let dir = Path::new(&dir);
    let written = pages(P::command().name(name), section).and_then(|pages| {
        for (name, text) in &pages {
            std::fs::write(dir.join(name), text)?;
            println!("{}", dir.join(name).display());
        }
        Ok(())
    });
    Some(match written {
        Ok(()) => Exit::Ok.into(),
        Err(e) => {
            eprintln!("cannot write the man pages into {}: {e}", dir.display());
            Exit::CantCreat.into()
        }
    })
}

/// The pages of `cmd` and of each of its subcommands (`door-agent-selftest.8`), as file name and
/// roff text.
pub fn pages(cmd: clap::Command, section: &str) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let version = cmd.get_version().unwrap_or("").to_owned();
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    collect(&cmd, section, &version, &mut out)?;
    Ok(out)
}

fn collect(
    cmd: &clap::Command,
    section: &str,
    version: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone())
        .section(section)
        .source(format!("omatoimi {version}"))
        .manual("omatoimi");
    out.push((man.get_filename(), page(&man, cmd.get_version().is_some())?));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, section, version, out)?;
    }
    Ok(())
}

/// One page: name, synopsis, description, options, subcommands, the exit codes every binary
/// shares (sysexits(3)), version.
fn page(man: &clap_mangen::Man, versioned: bool) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    out.extend_from_slice(b".SH \"EXIT STATUS\"\n");
    for (code, meaning) in MEANINGS {
        writeln!(out, ".TP\n\\fB{code}\\fR\n{}", escape(meaning))?;
    }
    out.extend_from_slice(
        b".PP\nThe codes are sysexits(3)'s, the same for every omatoimi binary.\n",
    );
    if versioned {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
}

/// Text as roff reads it literally.
fn escape(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    match text.chars().next() {
        Some('.' | '\'') => format!("\\&{text}"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(clap::Parser)]
    #[command(name = "tool", version = "1.2", about = "A tool")]
    struct Args {
        #[command(subcommand)]
        command: Command,
    }

    #[derive(clap::Subcommand)]
    enum Command {
        /// Checks the widget.
        CheckWidget,
        /// Lends a book.
        Lend,
    }

    #[test]
    fn a_page_names_each_subcommand_and_each_subcommand_has_its_own() {
        let pages = pages(<Args as clap::CommandFactory>::command(), "8").unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["tool.8", "tool-check-widget.8", "tool-lend.8"]);
        let text = String::from_utf8(pages[0].1.clone()).unwrap();
        assert!(text.contains(".TH tool 8 "), "{text}");
        for want in [
            ".SH NAME",
            ".SH SUBCOMMANDS",
            "tool\\-check\\-widget(8)\nChecks the widget",
            "tool\\-lend(8)\nLends a book",
            ".SH \"EXIT STATUS\"",
            "\\fB78\\fR\nbad configuration file (EX_CONFIG)",
            "omatoimi 1.2",
        ] {
            assert!(text.contains(want), "no {want:?} in:\n{text}");
        }
        let lend = String::from_utf8(pages[2].1.clone()).unwrap();
        assert!(
            lend.contains(".TH tool\\-lend 8 ") || lend.contains(".TH tool-lend 8 "),
            "{lend}"
        );
    }

    #[test]
    fn roff_control_characters_are_escaped() {
        assert_eq!(escape(".x-y\\"), "\\&.x\\-y\\e");
    }
}
