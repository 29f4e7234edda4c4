//! The screen as plain data, and the patron's touches.

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// Waiting for a patron: borrow or return.
    #[default]
    Welcome,
    /// The PIN pad.
    Pin,
    /// Items placed or scanned, each with its result.
    Items,
    /// "Would you like a receipt?"
    Receipt,
    /// The patron's loans and reservations.
    Loans,
    /// A message and an OK button.
    Message,
    /// Thank you; back to welcome shortly.
    Goodbye,
}

/// What the patron is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Borrowing (and renewing from the loans screen).
    #[default]
    Borrow,
    /// Returning: no login needed.
    Checkin,
}

/// How an item row looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowState {
    /// Still being handled.
    #[default]
    Working,
    /// Done.
    Ok,
    /// Not done.
    Failed,
    /// Done, with something the patron should know (offline, a reservation waiting).
    Notice,
}

/// The result of one item, as a code the screen words in the chosen language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// Still being handled.
    #[default]
    Working,
    /// Borrowed; due on the row's date.
    Lent,
    /// Borrowed offline; saved and sent later.
    LentOffline,
    /// Renewed.
    Renewed,
    /// Returned to the shelf.
    Returned,
    /// Returned; someone has reserved it.
    ReturnedForHold,
    /// Returned; it goes to another branch.
    ReturnedForTransfer,
    /// Not for loan.
    NotForLoan,
    /// Reserved for another patron.
    ReservedForAnother,
    /// Not an item the library knows.
    UnknownItem,
    /// Parts of a multi-part item are missing (the note says which, e.g. `2/3`).
    PartsMissing,
    /// The security bit could not be set or checked.
    SecurityFailed,
    /// The patron's account does not allow borrowing.
    PatronBlocked,
    /// The offline loan limit is reached.
    OfflineLimit,
    /// Offline, and this patron may not borrow offline.
    OfflineNotAllowed,
    /// The patron already has this item.
    AlreadyYours,
    /// The library system's own words (in the note).
    LibrarySaid,
    /// Not renewed (the note says why).
    NotRenewed,
    /// On loan to someone else.
    OnLoanToAnother,
    /// Returned offline; saved and sent later.
    ReturnedOffline,
    /// The tag could not be read.
    UnreadableTag,
    /// Not returned (the note says why).
    NotReturned,
    /// The library system did not answer (for what cannot be done offline).
    NoAnswer,
}

impl Outcome {
    /// The code the screen words (`Words.outcome-text` in the `.slint` file).
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A message screen's content, as a code the screen words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// The card is not a patron's.
    UnknownCard = 1,
    /// Wrong PIN.
    WrongPin = 2,
    /// The patron may not use self-service loans now.
    PatronBlocked = 3,
    /// Offline, and the card is not on the offline list.
    OfflineUnknown = 4,
    /// The receipt could not be printed.
    PrinterFailed = 5,
    /// Too many wrong PINs.
    LockedOut = 6,
    /// Something else went wrong.
    Failed = 7,
    /// Logged out after a while of nothing.
    IdleLogout = 8,
    /// The card could not be read.
    UnreadableCard = 9,
    /// The library's help, asked for (the help button).
    Help = 10,
    /// Fines over the library's limit stop self-service loans (the note: the amount, worded).
    FinesOwed = 11,
    /// The card is no longer valid (expired or withdrawn).
    CardExpired = 12,
    /// Too many logins at this kiosk in a minute, all cards together: wait.
    TooManyAttempts = 13,
}

/// One item handled in this session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    /// Title, when known.
    pub title: String,
    /// The item's barcode.
    pub item: String,
    /// How the row looks.
    pub state: RowState,
    /// What happened.
    pub outcome: Outcome,
    /// The due date, formatted.
    pub due: String,
    /// The library system's words, or a part count.
    pub note: String,
}

/// One loan on the loans screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loan {
    /// Title, when known.
    pub title: String,
    /// The item's barcode.
    pub item: String,
    /// Due date, formatted.
    pub due: String,
    /// Past due.
    pub overdue: bool,
    /// What renewing this one loan did, at this visit.
    pub renewal: Renewal,
    /// Why it was not renewed, in the library system's words.
    pub note: String,
}

/// What renewing one loan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Renewal {
    /// Not tried at this visit: a button to renew it.
    #[default]
    NotTried,
    /// Renewed (the due date is the new one).
    Renewed,
    /// Refused (the note says why).
    Refused,
}

/// One reservation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hold {
    /// Title, when known.
    pub title: String,
    /// Waiting on the holds shelf.
    pub ready: bool,
    /// Where it is picked up, when the library system says.
    pub pickup: String,
}

/// Everything the screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct View {
    /// Which screen.
    pub screen: Screen,
    /// Borrowing or returning.
    pub mode: Mode,
    /// `fi`, `sv` or `en`.
    pub language: String,
    /// The library's name in the header.
    pub library: String,
    /// The library system is not answering.
    pub offline: bool,
    /// How many PIN digits are typed (never the digits).
    pub pin_length: usize,
    /// The card number being typed on the pad, when the patron has no card reader at hand.
    pub card_entry: Option<String>,
    /// Items of this session, newest last.
    pub items: Vec<Row>,
    /// The patron's loans.
    pub loans: Vec<Loan>,
    /// The loans are only those made at this kiosk while offline: the library system's own
    /// list could not be had.
    pub loans_partial: bool,
    /// The patron's reservations.
    pub holds: Vec<Hold>,
    /// The message screen's content.
    pub message: Option<Message>,
    /// Words to show with [`Message`] or instead of it.
    pub message_note: String,
    /// Waiting for the library system.
    pub busy: bool,
    /// The receipt printer can print.
    pub printer_ready: bool,
    /// The time in the header, `HH:MM`.
    pub clock: String,
    /// The library's help: words (when staff are in, where to ask) and a phone number.
    pub help: Help,
    /// Large text and high contrast, as the patron chose.
    pub easy: bool,
    /// Spoken guidance, as the patron chose.
    pub speech: bool,
}

/// The library's help, from the kiosk's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Help {
    /// Words in the kiosk's language(s): when staff are in, where to ask.
    pub text: String,
    /// A phone number a patron can call.
    pub phone: String,
    /// The library's page for paying fines online.
    pub payment_link: String,
}

/// What the patron touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A language button: `fi`, `sv`, `en`.
    Language(String),
    /// Borrow or return, from the welcome screen.
    Start(Mode),
    /// A PIN digit.
    Digit(u8),
    /// The PIN pad's erase key.
    EraseDigit,
    /// The PIN pad's OK.
    SubmitPin,
    /// Cancel the PIN.
    Cancel,
    /// Done with the items.
    Finish,
    /// The loans screen.
    ShowLoans,
    /// Back from the loans screen.
    BackToItems,
    /// Renew every loan.
    RenewAll,
    /// Renew this one loan (its item barcode).
    Renew(String),
    /// Receipt or not.
    Receipt(bool),
    /// OK on a message.
    Dismiss,
    /// The help button.
    Help,
    /// Large text and high contrast on or off.
    ToggleEasy,
    /// Spoken guidance on or off.
    ToggleSpeech,
    /// Any touch (restarts the idle timer).
    Touched,
}
