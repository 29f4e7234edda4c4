//! The kiosk's screens in a real window: Xvfb (the X server, Debian's `xvfb`) runs on a display
//! of its own, the `ui-window` binary opens the screens there through slint's winit backend as
//! the kiosk does, and X's own `xwd` (Debian's `x11-apps`) takes each screenshot from the server
//! (not from slint): fi, sv and en, normal and large text with high contrast, saved under
//! `target/screenshots/window/`. Each is judged on its pixels: drawn, the window's size, the
//! mode's background, and the same words as the software renderer's screenshot of that screen.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An X display number nobody uses.
fn free_display() -> u32 {
    (90..200)
        .map(|n| n + std::process::id() % 50)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free display")
}

/// An XWD (X Window Dump) file's image as RGB bytes, row by row.
fn xwd_rgb(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let field = |i: usize| u32::from_be_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
    let (header, version, format) = (field(0), field(1), field(2));
    assert_eq!((version, format), (7, 2), "XWD version 7, ZPixmap");
    let (width, height) = (field(4), field(5));
    let (byte_order, bits, line) = (field(7), field(11), field(12));
    assert_eq!(bits, 32, "32 bits a pixel");
    let (rmask, gmask, bmask) = (field(14) as u32, field(15) as u32, field(16) as u32);
    let colors = field(19);
    let data = &bytes[header + colors * 12..];
    let shift = |m: u32| m.trailing_zeros();
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let p = &data[y * line + x * 4..][..4];
            let v = if byte_order == 0 {
                u32::from_le_bytes(p.try_into().unwrap())
            } else {
                u32::from_be_bytes(p.try_into().unwrap())
            };
            for m in [rmask, gmask, bmask] {
                rgb.push(((v & m) >> shift(m)) as u8);
            }
        }
    }
    (width, height, rgb)
}

fn png(path: &Path, width: usize, height: usize, rgb: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut e = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
    e.set_color(png::ColorType::Rgb);
    e.set_depth(png::BitDepth::Eight);
    let mut w = e.write_header().unwrap();
    w.write_image_data(rgb).unwrap();
    w.finish().unwrap();
}

#[test]
fn the_screens_in_a_real_window_under_xvfb_in_three_languages_and_large_text() {
    if std::env::var_os("OMATOIMI_SKIP_XVFB").is_some() {
        println!("SKIPPED: OMATOIMI_SKIP_XVFB is set");
        return;
    }
    for tool in ["Xvfb", "xwd"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success()),
            "{tool} is not installed (scripts/test installs Debian's xvfb and x11-apps; \
             OMATOIMI_SKIP_XVFB=1 skips this test)"
        );
    }
    let n = free_display();
    let display = format!(":{n}");
    let _x = Killed(
        Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "Xvfb did not start on {display}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut shown = Killed(
        Command::new(env!("CARGO_BIN_EXE_ui-window"))
            .env("DISPLAY", &display)
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut to = shown.0.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = shown.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/screenshots/window"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut taken = 0;
    for language in ["fi", "sv", "en"] {
        for name in [
            "welcome",
            "pin",
            "items",
            "loans",
            "message-fines",
            "message-help",
        ] {
            for easy in [false, true] {
                writeln!(to, "{name} {language}{}", if easy { " easy" } else { "" }).unwrap();
                let said = rx
                    .recv_timeout(Duration::from_secs(30))
                    .unwrap_or_else(|e| panic!("{name} {language}: the window said nothing: {e}"));
                assert_eq!(said, format!("shown {name} {language}"));
                let dump = Command::new("xwd")
                    .args(["-silent", "-display", &display, "-name", "Self-service"])
                    .output()
                    .unwrap();
                assert!(
                    dump.status.success(),
                    "xwd: {}",
                    String::from_utf8_lossy(&dump.stderr)
                );
                let (w, h, rgb) = xwd_rgb(&dump.stdout);
                assert_eq!((w, h), (1280, 800), "the window's size");
                let suffix = if easy { "-easy" } else { "" };
                png(
                    &dir.join(format!("{name}-{language}{suffix}.png")),
                    w,
                    h,
                    &rgb,
                );
                // The background at a corner: black in large text, the paper colour otherwise.
                let corner = &rgb[(5 * w + 5) * 3..][..3];
                if easy {
                    assert_eq!(corner, [0, 0, 0], "{name}-{language}-easy's background");
                } else {
                    assert!(
                        corner[0] > 230 && corner[1] > 225 && corner[2] > 215,
                        "{name}-{language}'s background {corner:?}"
                    );
                }
                let distinct: std::collections::HashSet<&[u8]> = rgb.chunks(3).collect();
                assert!(
                    distinct.len() > 20,
                    "{name}-{language}{suffix}: nothing drawn"
                );
                taken += 1;
            }
        }
    }
    drop(to);
    println!(
        "{taken} screenshots of a real window on Xvfb {display} in {}",
        dir.display()
    );
}
