//! slint's software renderer without a display: the kiosk's real screens, drawn into memory for
//! tests, screenshots and benchmarks, and touched at a point as a finger would.
//!
//! slint has one platform per process, so [`Headless::install`] succeeds once; tests that use it
//! run in their own test binary, on one thread.

use std::rc::Rc;
use std::time::{Duration, Instant};

use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType, Rgb565Pixel};
use slint::platform::{Platform, PointerEventButton, WindowAdapter, WindowEvent};
use slint::{LogicalPosition, PhysicalSize, PlatformError};

use crate::UiError;

struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    start: Instant,
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The headless screen.
pub struct Headless {
    window: Rc<MinimalSoftwareWindow>,
    width: u32,
    height: u32,
}

impl std::fmt::Debug for Headless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Headless({}x{})", self.width, self.height)
    }
}

impl Headless {
    /// Makes slint draw into memory at `width` x `height` pixels. Call before creating a window.
    pub fn install(width: u32, height: u32) -> Result<Self, UiError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        window.set_size(PhysicalSize::new(width, height));
        slint::platform::set_platform(Box::new(HeadlessPlatform {
            window: window.clone(),
            start: Instant::now(),
        }))
        .map_err(|e| UiError::Platform(e.to_string()))?;
        Ok(Self {
            window,
            width,
            height,
        })
    }

    /// Runs due timers and animations, then draws the screen; returns RGB bytes, row by row.
    pub fn render(&self) -> Vec<u8> {
        slint::platform::update_timers_and_animations();
        self.window.request_redraw();
        let w = self.width as usize;
        let mut pixels = vec![Rgb565Pixel::default(); w * self.height as usize];
        self.window.draw_if_needed(|renderer| {
            renderer.render(&mut pixels, w);
        });
        let mut rgb = Vec::with_capacity(pixels.len() * 3);
        for p in pixels {
            let v = p.0;
            let r = ((v >> 11) & 0x1F) as u8;
            let g = ((v >> 5) & 0x3F) as u8;
            let b = (v & 0x1F) as u8;
            rgb.extend([r << 3 | r >> 2, g << 2 | g >> 4, b << 3 | b >> 2]);
        }
        rgb
    }

    /// Draws the screen into a PNG file.
    pub fn screenshot(&self, path: &std::path::Path) -> Result<(), UiError> {
        let fail = |message: String| UiError::Screenshot {
            path: path.display().to_string(),
            message,
        };
        let rgb = self.render();
        let file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| fail(e.to_string()))?;
        writer
            .write_image_data(&rgb)
            .map_err(|e| fail(e.to_string()))?;
        writer.finish().map_err(|e| fail(e.to_string()))
    }

    /// A finger down and up at (`x`, `y`) in logical pixels.
    pub fn tap(&self, x: f32, y: f32) {
        let position = LogicalPosition::new(x, y);
        self.window
            .dispatch_event(WindowEvent::PointerMoved { position });
        self.window.dispatch_event(WindowEvent::PointerPressed {
            position,
            button: PointerEventButton::Left,
        });
        self.window.dispatch_event(WindowEvent::PointerReleased {
            position,
            button: PointerEventButton::Left,
        });
        self.window.dispatch_event(WindowEvent::PointerExited);
    }

    /// A finger pressed at (`x`, `from_y`), moved to (`x`, `to_y`) in `steps`, and lifted: a
    /// list scrolled by hand.
    pub fn drag(&self, x: f32, from_y: f32, to_y: f32, steps: u16) {
        let at = |y: f32| LogicalPosition::new(x, y);
        self.window.dispatch_event(WindowEvent::PointerMoved {
            position: at(from_y),
        });
        self.window.dispatch_event(WindowEvent::PointerPressed {
            position: at(from_y),
            button: PointerEventButton::Left,
        });
        let steps = steps.max(1);
        for step in 1..=steps {
            let y = from_y + (to_y - from_y) * f32::from(step) / f32::from(steps);
            self.window
                .dispatch_event(WindowEvent::PointerMoved { position: at(y) });
        }
        self.window.dispatch_event(WindowEvent::PointerReleased {
            position: at(to_y),
            button: PointerEventButton::Left,
        });
        self.window.dispatch_event(WindowEvent::PointerExited);
    }

    /// The screen's size in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}
