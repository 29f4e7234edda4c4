//! The console's words in Finnish, Swedish and English: pages and alarm messages.
//!
//! Each phrase is keyed by its English text; [`tr`] gives it in the language asked for. A test
//! reads the crate's sources and fails for any phrase used without all three.

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// Suomi.
    Fi,
    /// Svenska.
    Sv,
    /// English.
    En,
}

impl Lang {
    /// Every language, in the order the pages offer them.
    pub const ALL: [Self; 3] = [Self::Fi, Self::Sv, Self::En];

    /// Its code (`fi`, `sv`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Fi => "fi",
            Self::Sv => "sv",
            Self::En => "en",
        }
    }

    /// The language of this code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Its name in itself.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fi => "suomi",
            Self::Sv => "svenska",
            Self::En => "English",
        }
    }

    /// The first of ours an `Accept-Language` header names; Finnish when none.
    pub fn from_accept(header: &str) -> Self {
        header
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let tag = it.next()?.trim().to_ascii_lowercase();
                let q = it
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                let lang = Self::from_code(tag.split('-').next()?)?;
                Some((lang, q))
            })
            .fold(None::<(Self, f32)>, |best, (l, q)| match best {
                Some((_, bq)) if bq >= q => best,
                _ => Some((l, q)),
            })
            .map_or(Self::Fi, |(l, _)| l)
    }
}

/// `(English, Finnish, Swedish)`.
const PHRASES: &[(&str, &str, &str)] = &[
    // Rules, as alarms name them.
    ("Door forced open", "Ovi avattu väkisin", "Dörren bruten"),
    ("Door held open", "Ovi jäänyt auki", "Dörren står öppen"),
    ("Tampering", "Kajoaminen laitteeseen", "Sabotage"),
    ("Device silent", "Laite ei vastaa", "Enheten tyst"),
    (
        "Offline list refused",
        "Varalista hylätty",
        "Reservlistan avvisad",
    ),
    (
        "Card locked after wrong PINs",
        "Kortti lukittu vääristä PIN-koodeista",
        "Kortet spärrat efter fel PIN-koder",
    ),
    (
        "Printer out of paper",
        "Tulostimesta loppui paperi",
        "Skrivaren har slut på papper",
    ),
    (
        "Card reader lost",
        "Kortinlukija kadonnut",
        "Kortläsaren borta",
    ),
    (
        "Offline loan conflict",
        "Varatilan lainan ristiriita",
        "Konflikt i reservlån",
    ),
    // Messages.
    ("at", "klo", "kl."),
    ("Branch", "Toimipiste", "Filial"),
    ("Device", "Laite", "Enhet"),
    ("Open the console", "Avaa konsoli", "Öppna konsolen"),
    (
        "has not reported since",
        "ei ole raportoinut jälkeen",
        "har inte rapporterat sedan",
    ),
    // Pages.
    (
        "Library console",
        "Kirjaston konsoli",
        "Bibliotekets konsol",
    ),
    ("Sign in", "Kirjaudu", "Logga in"),
    ("Sign out", "Kirjaudu ulos", "Logga ut"),
    ("User name", "Käyttäjätunnus", "Användarnamn"),
    ("Password", "Salasana", "Lösenord"),
    (
        "Wrong user name or password.",
        "Väärä käyttäjätunnus tai salasana.",
        "Fel användarnamn eller lösenord.",
    ),
    (
        "Too many wrong passwords: try again in 15 minutes.",
        "Liian monta väärää salasanaa: yritä uudelleen 15 minuutin kuluttua.",
        "För många fel lösenord: försök igen om 15 minuter.",
    ),
    (
        "The form was too old; please try again.",
        "Lomake vanheni; yritä uudelleen.",
        "Formuläret var för gammalt; försök igen.",
    ),
    ("Devices", "Laitteet", "Enheter"),
    ("Alarms", "Hälytykset", "Larm"),
    ("Audit log", "Toimintaloki", "Granskningslogg"),
    ("Problems", "Ongelmat", "Problem"),
    ("With problems", "Ongelmia", "Med problem"),
    ("All in order", "Kaikki kunnossa", "Allt i ordning"),
    ("Offline", "Ei yhteyttä", "Offline"),
    ("Open alarm", "Avoin hälytys", "Öppet larm"),
    ("Offline list old", "Varalista vanha", "Reservlistan gammal"),
    ("Queue conflicts", "Jonon ristiriitoja", "Kökonflikter"),
    (
        "Selftest failing",
        "Itsetesti epäonnistuu",
        "Självtestet misslyckas",
    ),
    ("Reader missing", "Lukija puuttuu", "Läsare saknas"),
    ("Last report", "Viimeksi raportoinut", "Senaste rapport"),
    ("ago", "sitten", "sedan"),
    ("never", "ei koskaan", "aldrig"),
    ("Door", "Ovi", "Dörr"),
    ("Kiosk", "Automaatti", "Automat"),
    ("State", "Tila", "Status"),
    ("Software", "Ohjelmisto", "Programvara"),
    ("Clock off by", "Kello heittää", "Klockan fel med"),
    (
        "Recent events",
        "Viimeisimmät tapahtumat",
        "Senaste händelser",
    ),
    ("Status history", "Tilahistoria", "Statushistorik"),
    ("Gauges", "Mittarit", "Mätare"),
    ("Time", "Aika", "Tid"),
    ("Event", "Tapahtuma", "Händelse"),
    ("Reason", "Syy", "Orsak"),
    ("Source", "Lähde", "Källa"),
    ("Card", "Kortti", "Kort"),
    ("No events.", "Ei tapahtumia.", "Inga händelser."),
    ("Open", "Avoin", "Öppet"),
    ("Acknowledged", "Kuitattu", "Kvitterat"),
    ("Cleared", "Poistunut", "Upphört"),
    ("Acknowledge", "Kuittaa", "Kvittera"),
    ("Note", "Huomautus", "Anteckning"),
    ("by", "kuittaaja", "av"),
    ("No alarms.", "Ei hälytyksiä.", "Inga larm."),
    ("Told", "Ilmoitettu", "Meddelat"),
    ("Detail", "Tarkemmin", "Närmare"),
    ("waiting", "odottaa", "väntar"),
    ("sent", "lähetetty", "skickat"),
    ("failed", "epäonnistui", "misslyckades"),
    (
        "not sent: over before its time",
        "ei lähetetty: ohi ennen aikaansa",
        "inte skickat: över före sin tid",
    ),
    ("Who", "Kuka", "Vem"),
    ("signed in", "kirjautui", "loggade in"),
    (
        "sign-in refused",
        "kirjautuminen torjuttu",
        "inloggning nekad",
    ),
    ("signed out", "kirjautui ulos", "loggade ut"),
    (
        "acknowledged an alarm",
        "kuittasi hälytyksen",
        "kvitterade ett larm",
    ),
    ("account set", "tunnus asetettu", "konto inställt"),
    ("Action", "Toiminto", "Åtgärd"),
    ("Target", "Kohde", "Mål"),
    (
        "Not allowed for your role.",
        "Roolisi ei salli tätä.",
        "Din roll tillåter inte detta.",
    ),
    ("Not found.", "Ei löytynyt.", "Hittades inte."),
    ("Signed in as", "Kirjautunut", "Inloggad som"),
    ("entry", "sisäänpääsy", "inpassering"),
    ("denied", "pääsy evätty", "nekad"),
    ("exit", "poistuminen", "utgång"),
    ("alarm", "hälytys", "larm"),
    ("alarm-cleared", "hälytys poistui", "larm upphörde"),
    ("tamper", "kajoaminen", "sabotage"),
    ("security", "tietoturva", "säkerhet"),
    ("daemon", "ohjelma", "program"),
    ("device", "laite", "enhet"),
    ("loan", "laina", "lån"),
    ("return", "palautus", "återlämning"),
    ("queue-conflict", "jonon ristiriita", "kökonflikt"),
    // Commands.
    ("Commands", "Etäkomennot", "Fjärrkommandon"),
    (
        "This console has no policy key: it cannot sign commands.",
        "Konsolilla ei ole käytäntöavainta: se ei voi allekirjoittaa komentoja.",
        "Konsolen har ingen policynyckel: den kan inte signera kommandon.",
    ),
    ("Minutes", "Minuuttia", "Minuter"),
    ("Unlock for", "Avaa lukitus ajaksi", "Lås upp för"),
    (
        "Lock down",
        "Sulje omatoimikäyttö (lukitus)",
        "Spärra meröppet",
    ),
    ("End the lock-down", "Lopeta lukitus", "Häv spärren"),
    (
        "End self-service now",
        "Lopeta omatoimiaika nyt",
        "Avsluta meröppet nu",
    ),
    ("Command", "Komento", "Kommando"),
    ("Security", "Tietoturva", "Säkerhet"),
    (
        "Security incidents",
        "Tietoturvapoikkeamat",
        "Säkerhetsincidenter",
    ),
    (
        "Security events of a branch close together are one incident. A personal-data breach must be told to the supervisory authority within 72 hours of its first sign: decide each incident in time.",
        "Toimipisteen lähekkäiset tietoturvatapahtumat ovat yksi poikkeama. Henkilötietojen tietoturvaloukkauksesta on ilmoitettava valvontaviranomaiselle 72 tunnin kuluessa sen ensimmäisestä merkistä: ratkaise jokainen poikkeama ajoissa.",
        "Säkerhetshändelser vid ett verksamhetsställe nära varandra är en incident. En personuppgiftsincident ska anmälas till tillsynsmyndigheten inom 72 timmar från det första tecknet: avgör varje incident i tid.",
    ),
    (
        "No security events in the last 30 days.",
        "Ei tietoturvatapahtumia viimeisten 30 päivän aikana.",
        "Inga säkerhetshändelser under de senaste 30 dagarna.",
    ),
    (
        "Incidents not decided",
        "Ratkaisemattomia poikkeamia",
        "Oavgjorda incidenter",
    ),
    ("First sign", "Ensimmäinen merkki", "Första tecknet"),
    ("72-hour clock", "72 tunnin aika", "72-timmarsfristen"),
    ("Events", "Tapahtumat", "Händelser"),
    ("Decision", "Ratkaisu", "Beslut"),
    ("Why", "Perustelu", "Motivering"),
    ("Save", "Tallenna", "Spara"),
    ("Who was in", "Ketkä olivat sisällä", "Vem var inne"),
    (
        "Who entered a branch between two times, for an incident. Give the reason: every look-up is kept in the audit log.",
        "Ketkä tulivat toimipisteeseen kahden ajankohdan välillä, poikkeaman selvittämiseksi. Kerro syy: jokainen haku kirjataan toimintalokiin.",
        "Vem som kom in på ett verksamhetsställe mellan två tidpunkter, för en incident. Ange orsaken: varje sökning sparas i loggen.",
    ),
    ("From", "Alkaen", "Från"),
    ("To", "Asti", "Till"),
    ("Look up", "Hae", "Sök"),
    (
        "Choose the branch.",
        "Valitse toimipiste.",
        "Välj verksamhetsställe.",
    ),
    (
        "Give both times.",
        "Anna molemmat ajat.",
        "Ange båda tidpunkterna.",
    ),
    (
        "The end is before the start.",
        "Loppu on ennen alkua.",
        "Slutet är före början.",
    ),
    (
        "At most seven days at once.",
        "Enintään seitsemän päivää kerralla.",
        "Högst sju dagar åt gången.",
    ),
    ("Entries", "Sisäänkäynnit", "Inpasseringar"),
    ("Different cards", "Eri kortteja", "Olika kort"),
    (
        "More entries than can be shown: ask a shorter range.",
        "Enemmän käyntejä kuin voidaan näyttää: hae lyhyempi väli.",
        "Fler inpasseringar än som kan visas: sök ett kortare intervall.",
    ),
    (
        "Card (pseudonym)",
        "Kortti (pseudonyymi)",
        "Kort (pseudonym)",
    ),
    ("Checked", "Tarkistus", "Kontroll"),
    (
        "looked up who was in",
        "haki ketkä olivat sisällä",
        "sökte vem som var inne",
    ),
    ("latest", "viimeisin", "senaste"),
    ("left:", "aikaa:", "kvar:"),
    ("deadline", "määräaika", "tidsfrist"),
    ("overdue by", "myöhässä", "försenad med"),
    ("decided", "ratkaistu", "avgjord"),
    (
        "not a personal-data breach",
        "ei henkilötietojen tietoturvaloukkaus",
        "ingen personuppgiftsincident",
    ),
    (
        "reported to the supervisory authority",
        "ilmoitettu valvontaviranomaiselle",
        "anmäld till tillsynsmyndigheten",
    ),
    (
        "Say why, for the record.",
        "Kirjaa perustelu.",
        "Ange en motivering.",
    ),
    (
        "No such incident in the last 30 days.",
        "Tällaista poikkeamaa ei ole viimeisten 30 päivän ajalta.",
        "Ingen sådan incident under de senaste 30 dagarna.",
    ),
    (
        "decided about a security incident",
        "ratkaisi tietoturvapoikkeaman",
        "avgjorde en säkerhetsincident",
    ),
    ("Selftest", "Itsetestaus", "Självtest"),
    (
        "all checks passed",
        "kaikki tarkistukset kunnossa",
        "alla kontroller godkända",
    ),
    (
        "a check failed",
        "tarkistus epäonnistui",
        "en kontroll misslyckades",
    ),
    ("Outcome", "Tulos", "Resultat"),
    ("done", "tehty", "utfört"),
    (
        "refused by the device",
        "laite kieltäytyi",
        "enheten vägrade",
    ),
    (
        "delivered, no answer yet",
        "toimitettu, ei vielä vastausta",
        "levererat, inget svar ännu",
    ),
    (
        "expired: the device did not take it in time",
        "vanheni: laite ei ottanut sitä ajoissa",
        "gick ut: enheten tog inte emot det i tid",
    ),
    (
        "waiting for the device",
        "odottaa laitetta",
        "väntar på enheten",
    ),
    (
        "sent a command",
        "lähetti komennon",
        "skickade ett kommando",
    ),
    // Statistics.
    ("Statistics", "Tilastot", "Statistik"),
    ("Last day", "Viimeinen päivä", "Sista dagen"),
    ("All branches", "Kaikki kirjastot", "Alla bibliotek"),
    ("Show", "Näytä", "Visa"),
    (
        "Visits per day and branch (CSV)",
        "Käynnit päivittäin ja kirjastoittain (CSV)",
        "Besök per dag och bibliotek (CSV)",
    ),
    (
        "Visits by hour (CSV)",
        "Käynnit tunneittain (CSV)",
        "Besök per timme (CSV)",
    ),
    ("Visits", "Käynnit", "Besök"),
    ("Refused", "Evätty", "Nekade"),
    ("Loans online", "Lainat verkossa", "Lån online"),
    ("Loans offline", "Lainat ilman yhteyttä", "Lån offline"),
    (
        "Returns online",
        "Palautukset verkossa",
        "Återlämningar online",
    ),
    (
        "Returns offline",
        "Palautukset ilman yhteyttä",
        "Återlämningar offline",
    ),
    (
        "Nothing in these days.",
        "Näinä päivinä ei mitään.",
        "Inget under dessa dagar.",
    ),
    ("Visits per day", "Käynnit päivittäin", "Besök per dag"),
    (
        "Visits by hour of the day",
        "Käynnit kellonajan mukaan",
        "Besök per timme på dygnet",
    ),
    (
        "Refusals by reason",
        "Epäämiset syittäin",
        "Nekanden per orsak",
    ),
    // Calendars.
    (
        "The calendar was changed meanwhile; nothing was removed. Look at it again.",
        "Aukioloaikoja muutettiin välillä; mitään ei poistettu. Tarkista ne uudelleen.",
        "Öppettiderna ändrades under tiden; inget togs bort. Se över dem igen.",
    ),
    (
        "This console has no policy key: calendars are kept but not sent to devices.",
        "Konsolilla ei ole käytäntöavainta: aukioloajat tallentuvat, mutta niitä ei lähetetä laitteille.",
        "Konsolen har ingen policynyckel: öppettiderna sparas men skickas inte till enheterna.",
    ),
    (
        "Published version",
        "Julkaistu versio",
        "Publicerad version",
    ),
    (
        "devices running it",
        "laitteita käytössä",
        "enheter som använder den",
    ),
    (
        "No calendar yet: the devices' own hours apply.",
        "Ei vielä kalenteria: laitteiden omat aukioloajat ovat voimassa.",
        "Ingen kalender ännu: enheternas egna öppettider gäller.",
    ),
    ("Calendars", "Aukioloajat", "Öppettider"),
    ("valid until", "voimassa", "giltig till"),
    ("Last changed", "Muutettu viimeksi", "Senast ändrad"),
    (
        "Closed days and special hours",
        "Suljetut päivät ja poikkeusaukiolot",
        "Stängda dagar och avvikande öppettider",
    ),
    ("None.", "Ei yhtään.", "Inga."),
    ("Days", "Päivät", "Dagar"),
    ("Name", "Nimi", "Namn"),
    ("Hours", "Aukiolo", "Öppettider"),
    ("Remove", "Poista", "Ta bort"),
    ("First day", "Ensimmäinen päivä", "Första dagen"),
    (
        "Last day (if more than one)",
        "Viimeinen päivä (jos useampi)",
        "Sista dagen (om flera)",
    ),
    (
        "Self-service hours (empty: closed)",
        "Omatoimiaika (tyhjä: suljettu)",
        "Meröppet (tomt: stängt)",
    ),
    ("closed", "suljettu", "stängt"),
    ("Staffed hours", "Palveluaika", "Betjänad tid"),
    ("Add", "Lisää", "Lägg till"),
    ("Week", "Viikko", "Vecka"),
    (
        "Hours as 07:00-22:00; several separated by commas; empty: none.",
        "Ajat muodossa 07:00-22:00, useampi pilkuin erotettuna; tyhjä: ei aukioloa.",
        "Tider som 07:00-22:00, flera åtskilda med kommatecken; tomt: inga.",
    ),
    ("Self-service", "Omatoimi", "Meröppet"),
    ("Staffed", "Palvelu", "Betjänat"),
    ("staffed", "palvelu", "betjänat"),
    ("Monday", "Maanantai", "Måndag"),
    ("Tuesday", "Tiistai", "Tisdag"),
    ("Wednesday", "Keskiviikko", "Onsdag"),
    ("Thursday", "Torstai", "Torsdag"),
    ("Friday", "Perjantai", "Fredag"),
    ("Saturday", "Lauantai", "Lördag"),
    ("Sunday", "Sunnuntai", "Söndag"),
    (
        "Last entry, minutes before closing",
        "Viimeinen sisäänpääsy, minuuttia ennen sulkemista",
        "Sista inpassering, minuter före stängning",
    ),
    ("Time zone", "Aikavyöhyke", "Tidszon"),
    ("Public holidays", "Arkipyhät", "Helgdagar"),
    ("Holiday", "Pyhäpäivä", "Helgdag"),
    ("The branch is", "Kirjasto on", "Biblioteket är"),
    (
        "Hours if short",
        "Lyhennetty aukiolo",
        "Förkortade öppettider",
    ),
    ("open short hours", "auki lyhennetysti", "öppet kortare"),
    (
        "open as usual",
        "auki tavalliseen tapaan",
        "öppet som vanligt",
    ),
    (
        "Save and send to the devices",
        "Tallenna ja lähetä laitteille",
        "Spara och skicka till enheterna",
    ),
    ("Calendar:", "Aukioloajat:", "Öppettider:"),
    (
        "Give the day a name.",
        "Anna päivälle nimi.",
        "Ge dagen ett namn.",
    ),
    (
        "changed the calendar",
        "muutti aukioloaikoja",
        "ändrade öppettiderna",
    ),
    (
        "added a closed day or special hours",
        "lisäsi suljetun päivän tai poikkeusaukiolon",
        "lade till en stängd dag eller avvikande öppettider",
    ),
    (
        "removed a closed day or special hours",
        "poisti suljetun päivän tai poikkeusaukiolon",
        "tog bort en stängd dag eller avvikande öppettider",
    ),
    // A patron's rights.
    (
        "A patron's right of access and to erasure, carried out on every door and kiosk: type the card number once. It is not kept; every device confirms what it did.",
        "Asiakkaan oikeus saada tietonsa ja tulla poistetuksi, toteutettuna jokaisella ovella ja automaatilla: kirjoita kortin numero kerran. Sitä ei tallenneta; jokainen laite vahvistaa, mitä se teki.",
        "En låntagares rätt till tillgång och radering, utförd på varje dörr och automat: skriv kortnumret en gång. Det sparas inte; varje enhet bekräftar vad den gjorde.",
    ),
    (
        "An erasure cannot be undone: I have checked the card number.",
        "Poistoa ei voi perua: olen tarkistanut kortin numeron.",
        "En radering kan inte ångras: jag har kontrollerat kortnumret.",
    ),
    ("Ask again", "Pyydä uudelleen", "Be igen"),
    (
        "Ask every device",
        "Pyydä kaikilta laitteilta",
        "Be alla enheter",
    ),
    ("By", "Tekijä", "Av"),
    ("Card number", "Kortin numero", "Kortnummer"),
    ("Device's answer", "Laitteen vastaus", "Enhetens svar"),
    (
        "Devices confirmed",
        "Laitteet vahvistaneet",
        "Enheter som bekräftat",
    ),
    (
        "Download the export (JSON)",
        "Lataa tiedot (JSON)",
        "Ladda ned utdraget (JSON)",
    ),
    ("Erasure", "Poisto", "Radering"),
    (
        "Erasure: remove what is held about the card",
        "Poisto: poista kaikki kortista säilytetty",
        "Radering: ta bort allt som sparats om kortet",
    ),
    ("Export", "Tietojen luovutus", "Utdrag"),
    (
        "Export: what is held about the card",
        "Tietojen luovutus: mitä kortista säilytetään",
        "Utdrag: vad som sparats om kortet",
    ),
    (
        "No devices were known.",
        "Laitteita ei ollut tiedossa.",
        "Inga enheter var kända.",
    ),
    (
        "Not set up: the console needs the library's card key ([patrons] card_key) and its policy key ([policy] signing_key).",
        "Ei käytössä: konsoli tarvitsee kirjaston korttiavaimen ([patrons] card_key) ja allekirjoitusavaimensa ([policy] signing_key).",
        "Inte inställt: konsolen behöver bibliotekets kortnyckel ([patrons] card_key) och sin signeringsnyckel ([policy] signing_key).",
    ),
    ("Patron request", "Asiakkaan pyyntö", "Låntagarens begäran"),
    (
        "Patron requests",
        "Asiakkaiden pyynnöt",
        "Låntagares begäranden",
    ),
    ("Requests", "Pyynnöt", "Begäranden"),
    (
        "The console's own rows erased",
        "Konsolin omia rivejä poistettu",
        "Konsolens egna rader raderade",
    ),
    (
        "The console's own rows found",
        "Konsolin omia rivejä löytyi",
        "Konsolens egna rader hittade",
    ),
    (
        "Tick the box to confirm the erasure.",
        "Vahvista poisto rastittamalla ruutu.",
        "Kryssa i rutan för att bekräfta raderingen.",
    ),
    (
        "Type the card number as printed on the card.",
        "Kirjoita kortin numero sellaisena kuin se on painettu korttiin.",
        "Skriv kortnumret så som det är tryckt på kortet.",
    ),
    ("What", "Mitä", "Vad"),
    (
        "asked a device again for a patron's request",
        "pyysi laitetta uudelleen asiakkaan pyynnöstä",
        "bad en enhet igen om en låntagares begäran",
    ),
    (
        "asked every device for a patron's export",
        "pyysi kaikilta laitteilta asiakkaan tiedot",
        "bad alla enheter om en låntagares utdrag",
    ),
    (
        "asked every device to erase a patron's card",
        "pyysi kaikkia laitteita poistamaan asiakkaan kortin tiedot",
        "bad alla enheter att radera en låntagares kort",
    ),
    (
        "downloaded a patron's export",
        "latasi asiakkaan tiedot",
        "laddade ned en låntagares utdrag",
    ),
    (
        "expired: the device was not back in 30 days",
        "vanhentunut: laite ei palannut 30 päivässä",
        "utgången: enheten kom inte tillbaka inom 30 dagar",
    ),
    (
        "in the download",
        "ladattavassa tiedostossa",
        "i nedladdningen",
    ),
    ("refused", "torjuttu", "avvisad"),
    (
        "taken, no answer",
        "vastaanotettu, ei vastausta",
        "mottagen, inget svar",
    ),
    (
        "Show names (read from the library system now, never kept)",
        "Näytä nimet (haetaan kirjastojärjestelmästä nyt, ei tallenneta)",
        "Visa namn (hämtas ur bibliotekssystemet nu, sparas inte)",
    ),
    (
        "The library system did not give the names",
        "Kirjastojärjestelmä ei antanut nimiä",
        "Bibliotekssystemet gav inte namnen",
    ),
    (
        "not found in the library system",
        "ei löydy kirjastojärjestelmästä",
        "finns inte i bibliotekssystemet",
    ),
    // Who may let themselves in.
    (
        "Who may let themselves in",
        "Ketkä pääsevät sisään omatoimisesti",
        "Vem får gå in på egen hand",
    ),
    (
        "The library decides here for every door of the branch (otherwise each door's own file)",
        "Kirjasto päättää tässä toimipisteen kaikkien ovien puolesta (muuten kunkin oven oma tiedosto)",
        "Biblioteket bestämmer här för alla dörrar på verksamhetsstället (annars varje dörrs egen fil)",
    ),
    (
        "Youngest age let in alone (0: no age rule)",
        "Nuorin ikä, jolla pääsee yksin (0: ei ikärajaa)",
        "Lägsta ålder för att komma in ensam (0: ingen åldersgräns)",
    ),
    (
        "Only these patron categories (comma-separated; empty: all)",
        "Vain nämä asiakastyypit (pilkuin eroteltuina; tyhjä: kaikki)",
        "Endast dessa låntagarkategorier (kommaseparerade; tom: alla)",
    ),
    (
        "A guardian's consent lets a younger patron in",
        "Huoltajan suostumuksella nuorempikin pääsee",
        "Med vårdnadshavarens samtycke får en yngre komma in",
    ),
    (
        "A patron whose age the library system does not give is let in",
        "Asiakas, jonka ikää kirjastojärjestelmä ei kerro, päästetään sisään",
        "En låntagare vars ålder bibliotekssystemet inte anger släpps in",
    ),
    (
        "The card must be valid and not expired",
        "Kortin on oltava voimassa",
        "Kortet måste vara giltigt",
    ),
    (
        "A card reported lost is refused",
        "Kadonneeksi ilmoitettu kortti ei käy",
        "Ett kort anmält förlorat nekas",
    ),
    (
        "A lending ban keeps the patron out",
        "Lainauskielto estää pääsyn",
        "Lånespärr hindrar inträde",
    ),
    (
        "Fines over the limit keep the patron out",
        "Rajan ylittävät maksut estävät pääsyn",
        "Avgifter över gränsen hindrar inträde",
    ),
    (
        "A block at this branch keeps the patron out",
        "Tämän toimipisteen esto estää pääsyn",
        "En spärr på detta verksamhetsställe hindrar inträde",
    ),
    (
        "The self-service terms must be accepted",
        "Omatoimikäytön ehdot on hyväksyttävä",
        "Villkoren för självbetjäning måste vara godkända",
    ),
    (
        "A revoked self-service permission keeps the patron out",
        "Peruttu omatoimilupa estää pääsyn",
        "Ett återkallat självbetjäningstillstånd hindrar inträde",
    ),
    (
        "A permission the library system does not state counts as missing",
        "Lupa, jota kirjastojärjestelmä ei ilmoita, katsotaan puuttuvaksi",
        "Ett tillstånd som bibliotekssystemet inte anger räknas som saknat",
    ),
    (
        "changed who may let themselves in",
        "muutti, ketkä pääsevät sisään omatoimisesti",
        "ändrade vem som får gå in på egen hand",
    ),
];

/// `en` in `lang` (English when the table has no such phrase: a test keeps that from happening).
pub fn tr(lang: Lang, en: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Fi | Lang::Sv => PHRASES
            .iter()
            .find(|p| p.0 == en)
            .map_or(en, |p| if lang == Lang::Fi { p.1 } else { p.2 }),
    }
}

/// Whether the table has `en`.
pub fn known(en: &str) -> bool {
    PHRASES.iter().any(|p| p.0 == en)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_phrase_the_sources_use_is_in_all_three_languages() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut used = 0;
        for entry in walk(&dir) {
            if entry.ends_with("words.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&entry).unwrap();
            for (i, _) in text.match_indices("tr(") {
                let rest = &text[i + 3..];
                let Some(q) = rest.find('"') else { continue };
                // Only `tr(lang, "…")` forms: the argument before the quote is one identifier.
                let before = &rest[..q];
                if !before.trim_end().ends_with(',') || before.contains(')') {
                    continue;
                }
                let phrase: String = rest[q + 1..].chars().take_while(|c| *c != '"').collect();
                assert!(
                    known(&phrase),
                    "{}: {phrase:?} has no translation",
                    entry.display()
                );
                used += 1;
            }
        }
        assert!(used > 20, "only {used} phrases found: is the scan broken?");
    }

    #[test]
    fn no_phrase_is_listed_twice_or_left_empty() {
        let mut seen = std::collections::HashSet::new();
        for (en, fi, sv) in PHRASES {
            assert!(seen.insert(*en), "{en} twice");
            assert!(!fi.is_empty() && !sv.is_empty(), "{en}");
        }
    }

    #[test]
    fn accept_language_picks_the_best_of_ours() {
        assert_eq!(Lang::from_accept("sv-FI,sv;q=0.9,en;q=0.8"), Lang::Sv);
        assert_eq!(Lang::from_accept("de-DE,en;q=0.5,fi;q=0.7"), Lang::Fi);
        assert_eq!(Lang::from_accept("en-GB"), Lang::En);
        assert_eq!(Lang::from_accept("de"), Lang::Fi);
        assert_eq!(Lang::from_accept(""), Lang::Fi);
        assert_eq!(tr(Lang::Sv, "Alarms"), "Larm");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = vec![];
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
        out
    }
}
