//! The door's wiring: lock relay, door contact, exit button, tamper switch, status LEDs, buzzer and
//! outputs the library's state switches (lights, alarm, public PCs), on any embedded-hal pins a
//! [`PinBackend`] makes. A Raspberry Pi backend is `rppal_pins`; [`FileBackend`] keeps each pin
//! in a file (`gpio17` holding `0` or `1`, like sysfs), which the demo and tests use, and which
//! survives a killed process just as a real pin's level does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use embedded_hal::digital::{ErrorKind, ErrorType, InputPin, OutputPin};

use crate::DeviceError;

/// One pin and its sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinSpec {
    /// BCM number.
    pub number: u8,
    /// The active meaning (locked/open/pressed/on) is a high level.
    pub active_high: bool,
}

/// Which pins do what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorPins {
    /// The lock relay; active = released (unlocked).
    pub lock: PinSpec,
    /// The door contact; active = open.
    pub contact: PinSpec,
    /// The exit button; active = pressed.
    pub exit: Option<PinSpec>,
    /// The reader's tamper switch; active = tampered.
    pub tamper: Option<PinSpec>,
    /// Green LED.
    pub green: Option<PinSpec>,
    /// Red LED.
    pub red: Option<PinSpec>,
    /// Buzzer.
    pub buzzer: Option<PinSpec>,
    /// Outputs switched by the library's state, by name.
    pub outputs: Vec<(String, PinSpec)>,
}

// The door's inputs and signals are the pure door's types, so its commands reach the pins as
// they are.
pub use access::door::{DoorInputs, Signal};

/// The door's I/O.
pub trait DoorIo: Send {
    /// Engages (`true`) or releases the lock.
    fn set_locked(&mut self, locked: bool) -> Result<(), DeviceError>;
    /// Reads the inputs.
    fn inputs(&mut self) -> Result<DoorInputs, DeviceError>;
    /// Switches an LED or the buzzer (absent ones are ignored).
    fn signal(&mut self, signal: Signal, on: bool) -> Result<(), DeviceError>;
    /// Switches a named output (unknown names are ignored).
    fn set_output(&mut self, name: &str, on: bool) -> Result<(), DeviceError>;
}

/// Makes pins: the one place that knows the GPIO library.
pub trait PinBackend {
    /// An output pin.
    type Output: OutputPin + Send;
    /// An input pin.
    type Input: InputPin + Send;
    /// Pin `number` as an output, starting at `high`.
    fn output(&mut self, number: u8, high: bool) -> Result<Self::Output, DeviceError>;
    /// Pin `number` as an input, with the pull-up on when `pull_up` (else pull-down).
    fn input(&mut self, number: u8, pull_up: bool) -> Result<Self::Input, DeviceError>;
}

/// The lock relay, claimed on its own so that it can be engaged before anything else is read, and
/// shared: the door drives it, and whatever must engage it on the way out (a panic hook, the
/// exit path) holds a clone. Once engaged for good, nothing in this process releases it again.
#[derive(Debug)]
pub struct LockRelay<O> {
    state: Arc<Mutex<Relay<O>>>,
    spec: PinSpec,
}

#[derive(Debug)]
struct Relay<O> {
    pin: O,
    for_good: bool,
}

impl<O> Clone for LockRelay<O> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            spec: self.spec,
        }
    }
}

impl<O: OutputPin> LockRelay<O> {
    /// Claims the lock pin and engages it, whatever it held before (a killed process, a crash).
    pub fn claim<B: PinBackend<Output = O>>(
        backend: &mut B,
        spec: PinSpec,
    ) -> Result<Self, DeviceError> {
        let relay = Self {
            state: Arc::new(Mutex::new(Relay {
                pin: backend.output(spec.number, !spec.active_high)?,
                for_good: false,
            })),
            spec,
        };
        relay.set_locked(true)?;
        Ok(relay)
    }

    /// The pin and its sense.
    pub fn spec(&self) -> PinSpec {
        self.spec
    }

    /// Engages (`true`) or releases the lock; a release after [`Engage::engage_for_good`] is
    /// refused.
    pub fn set_locked(&self, locked: bool) -> Result<(), DeviceError> {
        // A panic elsewhere while the pin was held leaves it as usable as before.
        let mut relay = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !locked && relay.for_good {
            return Err(DeviceError::Gpio {
                pin: self.spec.number,
                cause: "the lock stays engaged: the daemon is stopping".into(),
            });
        }
        drive(&mut relay.pin, self.spec, !locked)
    }
}

/// Engages a lock for good, from anywhere: the one thing a daemon does on every way out.
pub trait Engage: Send + Sync {
    /// Engages the lock and refuses any later release in this process. Waits at most `wait`
    /// for a pin another thread is driving (a panicking thread may never let go of it).
    fn engage_for_good(&self, wait: Duration) -> Result<(), DeviceError>;
}

impl<O: OutputPin + Send> Engage for LockRelay<O> {
    fn engage_for_good(&self, wait: Duration) -> Result<(), DeviceError> {
        let deadline = Instant::now() + wait;
        loop {
            let mut relay = match self.state.try_lock() {
                Ok(r) => r,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(DeviceError::Gpio {
                        pin: self.spec.number,
                        cause: format!("the lock pin was still busy after {wait:?}"),
                    });
                }
            };
            relay.for_good = true;
            return drive(&mut relay.pin, self.spec, false);
        }
    }
}

/// The door on GPIO pins.
#[derive(Debug)]
pub struct GpioDoor<B: PinBackend> {
    lock: LockRelay<B::Output>,
    contact: (B::Input, PinSpec),
    exit: Option<(B::Input, PinSpec)>,
    tamper: Option<(B::Input, PinSpec)>,
    green: Option<(B::Output, PinSpec)>,
    red: Option<(B::Output, PinSpec)>,
    buzzer: Option<(B::Output, PinSpec)>,
    outputs: Vec<(String, B::Output, PinSpec)>,
}

fn gpio_err<E: embedded_hal::digital::Error>(pin: u8, e: E) -> DeviceError {
    DeviceError::Gpio {
        pin,
        cause: format!("{:?}", e.kind()),
    }
}

fn drive<O: OutputPin>(pin: &mut O, spec: PinSpec, active: bool) -> Result<(), DeviceError> {
    let r = if active == spec.active_high {
        pin.set_high()
    } else {
        pin.set_low()
    };
    r.map_err(|e| gpio_err(spec.number, e))
}

fn read<I: InputPin>(pin: &mut I, spec: PinSpec) -> Result<bool, DeviceError> {
    let high = pin.is_high().map_err(|e| gpio_err(spec.number, e))?;
    Ok(high == spec.active_high)
}

impl<B: PinBackend> GpioDoor<B> {
    /// Claims the pins. The lock pin starts engaged (locked), every other output off: the lock
    /// state is set here, explicitly, whatever the pin held before (a killed process, a power cut).
    pub fn new(backend: &mut B, pins: &DoorPins) -> Result<Self, DeviceError> {
        let lock = LockRelay::claim(backend, pins.lock)?;
        Self::with_lock(backend, lock, pins)
    }

    /// Claims the other pins around a lock relay claimed (and engaged) earlier.
    pub fn with_lock(
        backend: &mut B,
        lock: LockRelay<B::Output>,
        pins: &DoorPins,
    ) -> Result<Self, DeviceError> {
        if lock.spec() != pins.lock {
            return Err(DeviceError::Gpio {
                pin: pins.lock.number,
                cause: format!(
                    "the lock was claimed as GPIO {} and now configured as GPIO {}: was the configuration changed under the daemon?",
                    lock.spec().number,
                    pins.lock.number
                ),
            });
        }
        let out =
            |b: &mut B, spec: PinSpec| b.output(spec.number, !spec.active_high).map(|p| (p, spec));
        // An input idles at its inactive level: pull towards it.
        let inp =
            |b: &mut B, spec: PinSpec| b.input(spec.number, !spec.active_high).map(|p| (p, spec));
        let mut door = Self {
            lock,
            contact: inp(backend, pins.contact)?,
            exit: pins.exit.map(|s| inp(backend, s)).transpose()?,
            tamper: pins.tamper.map(|s| inp(backend, s)).transpose()?,
            green: pins.green.map(|s| out(backend, s)).transpose()?,
            red: pins.red.map(|s| out(backend, s)).transpose()?,
            buzzer: pins.buzzer.map(|s| out(backend, s)).transpose()?,
            outputs: Vec::new(),
        };
        for (name, spec) in &pins.outputs {
            let (p, s) = out(backend, *spec)?;
            door.outputs.push((name.clone(), p, s));
        }
        door.set_locked(true)?;
        Ok(door)
    }
}

impl<B: PinBackend> DoorIo for GpioDoor<B>
where
    B::Output: Send,
    B::Input: Send,
{
    fn set_locked(&mut self, locked: bool) -> Result<(), DeviceError> {
        self.lock.set_locked(locked)
    }

    fn inputs(&mut self) -> Result<DoorInputs, DeviceError> {
        let (pin, spec) = &mut self.contact;
        let open = read(pin, *spec)?;
        let exit = match &mut self.exit {
            Some((pin, spec)) => read(pin, *spec)?,
            None => false,
        };
        let tamper = match &mut self.tamper {
            Some((pin, spec)) => read(pin, *spec)?,
            None => false,
        };
        Ok(DoorInputs { open, exit, tamper })
    }

    fn signal(&mut self, signal: Signal, on: bool) -> Result<(), DeviceError> {
        let slot = match signal {
            Signal::Green => &mut self.green,
            Signal::Red => &mut self.red,
            Signal::Buzzer => &mut self.buzzer,
        };
        match slot {
            Some((pin, spec)) => drive(pin, *spec, on),
            None => Ok(()),
        }
    }

    fn set_output(&mut self, name: &str, on: bool) -> Result<(), DeviceError> {
        match self.outputs.iter_mut().find(|(n, _, _)| n == name) {
            Some((_, pin, spec)) => drive(pin, *spec, on),
            None => Ok(()),
        }
    }
}

/// Pins as files in a directory: `gpio<N>` holds `1` (high) or `0` (low). Outputs are written
/// atomically (a temporary file renamed over); inputs are read each time.
#[derive(Debug, Clone)]
pub struct FileBackend {
    dir: PathBuf,
}

impl FileBackend {
    /// Pins under `dir` (created when missing).
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, DeviceError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| DeviceError::Open {
            device: dir.display().to_string(),
            cause: e.to_string(),
        })?;
        Ok(Self { dir })
    }

    /// The file of pin `number`.
    pub fn path(dir: &Path, number: u8) -> PathBuf {
        dir.join(format!("gpio{number}"))
    }

    /// Reads a pin's level (for tests and the demo's console).
    pub fn level(dir: &Path, number: u8) -> Option<bool> {
        let text = std::fs::read_to_string(Self::path(dir, number)).ok()?;
        match text.trim() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        }
    }

    /// Sets a pin's level from outside (a person opening the door, pressing the exit button).
    pub fn set_level(dir: &Path, number: u8, high: bool) -> std::io::Result<()> {
        let path = Self::path(dir, number);
        let tmp = dir.join(format!(".gpio{number}.tmp"));
        std::fs::write(&tmp, if high { "1\n" } else { "0\n" })?;
        std::fs::rename(tmp, path)
    }
}

/// A file pin's error.
#[derive(Debug)]
pub struct FilePinError(pub String);

impl embedded_hal::digital::Error for FilePinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// A pin kept in a file.
#[derive(Debug)]
pub struct FilePin {
    dir: PathBuf,
    number: u8,
    last: bool,
}

impl ErrorType for FilePin {
    type Error = FilePinError;
}

impl OutputPin for FilePin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        FileBackend::set_level(&self.dir, self.number, false)
            .map_err(|e| FilePinError(e.to_string()))
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        FileBackend::set_level(&self.dir, self.number, true)
            .map_err(|e| FilePinError(e.to_string()))
    }
}

impl InputPin for FilePin {
    fn is_high(&mut self) -> Result<bool, Self::Error> {
        // A file caught mid-write keeps the last level read.
        if let Some(level) = FileBackend::level(&self.dir, self.number) {
            self.last = level;
        }
        Ok(self.last)
    }
    fn is_low(&mut self) -> Result<bool, Self::Error> {
        self.is_high().map(|h| !h)
    }
}

impl PinBackend for FileBackend {
    type Output = FilePin;
    type Input = FilePin;

    fn output(&mut self, number: u8, high: bool) -> Result<FilePin, DeviceError> {
        let mut pin = FilePin {
            dir: self.dir.clone(),
            number,
            last: high,
        };
        let r = if high { pin.set_high() } else { pin.set_low() };
        r.map_err(|e| DeviceError::Gpio {
            pin: number,
            cause: e.0,
        })?;
        Ok(pin)
    }

    fn input(&mut self, number: u8, pull_up: bool) -> Result<FilePin, DeviceError> {
        // A pin nobody drives reads its pull.
        if FileBackend::level(&self.dir, number).is_none() {
            FileBackend::set_level(&self.dir, number, pull_up).map_err(|e| DeviceError::Gpio {
                pin: number,
                cause: e.to_string(),
            })?;
        }
        Ok(FilePin {
            dir: self.dir.clone(),
            number,
            last: pull_up,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins() -> DoorPins {
        DoorPins {
            lock: PinSpec {
                number: 17,
                active_high: true,
            },
            contact: PinSpec {
                number: 27,
                active_high: true,
            },
            exit: Some(PinSpec {
                number: 22,
                active_high: false,
            }),
            tamper: None,
            green: Some(PinSpec {
                number: 5,
                active_high: true,
            }),
            red: None,
            buzzer: None,
            outputs: vec![(
                "lights".into(),
                PinSpec {
                    number: 24,
                    active_high: false,
                },
            )],
        }
    }

    #[test]
    fn the_lock_is_engaged_at_start_whatever_the_pin_held() {
        let dir = tempfile::tempdir().unwrap();
        // A process killed mid-pulse left the relay released.
        FileBackend::set_level(dir.path(), 17, true).unwrap();
        let mut b = FileBackend::new(dir.path()).unwrap();
        let mut door = GpioDoor::new(&mut b, &pins()).unwrap();
        assert_eq!(FileBackend::level(dir.path(), 17), Some(false));
        door.set_locked(false).unwrap();
        assert_eq!(FileBackend::level(dir.path(), 17), Some(true));
        // The exit button idles high (pulled up, active low); the contact idles low.
        assert_eq!(door.inputs().unwrap(), DoorInputs::default());
        FileBackend::set_level(dir.path(), 22, false).unwrap();
        FileBackend::set_level(dir.path(), 27, true).unwrap();
        assert_eq!(
            door.inputs().unwrap(),
            DoorInputs {
                open: true,
                exit: true,
                tamper: false
            }
        );
        door.set_output("lights", true).unwrap();
        assert_eq!(FileBackend::level(dir.path(), 24), Some(false));
        door.signal(Signal::Green, true).unwrap();
        door.signal(Signal::Buzzer, true).unwrap();
        assert_eq!(FileBackend::level(dir.path(), 5), Some(true));
    }

    #[test]
    fn a_lock_engaged_for_good_is_not_released_again() {
        let dir = tempfile::tempdir().unwrap();
        FileBackend::set_level(dir.path(), 17, true).unwrap();
        let mut b = FileBackend::new(dir.path()).unwrap();
        let relay = LockRelay::claim(&mut b, pins().lock).unwrap();
        assert_eq!(FileBackend::level(dir.path(), 17), Some(false));
        let mut door = GpioDoor::with_lock(&mut b, relay.clone(), &pins()).unwrap();
        door.set_locked(false).unwrap();
        assert_eq!(FileBackend::level(dir.path(), 17), Some(true));
        relay.engage_for_good(Duration::from_millis(10)).unwrap();
        assert_eq!(FileBackend::level(dir.path(), 17), Some(false));
        assert!(door.set_locked(false).is_err());
        assert_eq!(FileBackend::level(dir.path(), 17), Some(false));
        door.set_locked(true).unwrap();
    }

    #[test]
    fn a_door_refuses_a_lock_claimed_on_another_pin() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = FileBackend::new(dir.path()).unwrap();
        let other = PinSpec {
            number: 18,
            active_high: true,
        };
        let relay = LockRelay::claim(&mut b, other).unwrap();
        let err = GpioDoor::with_lock(&mut b, relay, &pins()).unwrap_err();
        assert!(err.to_string().contains("GPIO 18"), "{err}");
    }

    #[test]
    fn engaging_for_good_waits_a_bounded_time_and_survives_a_poisoned_pin() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = FileBackend::new(dir.path()).unwrap();
        let relay = LockRelay::claim(&mut b, pins().lock).unwrap();
        relay.set_locked(false).unwrap();
        {
            // A thread stuck while driving the pin: the caller is not held up for ever.
            let _busy = relay.state.lock().unwrap();
            let started = Instant::now();
            assert!(relay.engage_for_good(Duration::from_millis(30)).is_err());
            assert!(started.elapsed() < Duration::from_secs(5));
        }
        // A thread that panicked while driving the pin.
        let held = relay.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.state.lock().unwrap();
            panic!("mid-write");
        })
        .join();
        assert!(relay.state.is_poisoned());
        relay.engage_for_good(Duration::from_millis(30)).unwrap();
        assert_eq!(FileBackend::level(dir.path(), 17), Some(false));
    }
}
